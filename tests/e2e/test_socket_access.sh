#!/usr/bin/env bash
# The control socket: with --group, the socket and its directory belong to
# the group (0660, 0750); a member (by a supplementary group) may read rules,
# flows, stats and events but not change them; a client silent for
# --client-idle-timeout gets an idle_timeout error line and is closed, while
# the others are served.
. "$(dirname "$0")/lib.sh"

GROUP=ccread$$
groupadd "$GROUP"
cleanup_group() { groupdel "$GROUP" 2>/dev/null || true; }
trap 'rc=$?; set +e; cleanup_group; (exit $rc); cleanup' EXIT
GID=$(getent group "$GROUP" | cut -d: -f3)

setup_env
SOCK=$TMP/run/connctl.sock
chmod 0755 "$TMP"
start_agent --group "$GROUP" --client-idle-timeout 1
connctl rule add action reset lport 9 >/dev/null

expect_eq "$(stat -c '%U:%G %a' "$SOCK")" "root:$GROUP 660" "the socket's owner and mode"
expect_eq "$(stat -c '%U:%G %a' "$TMP/run")" "root:$GROUP 750" "its directory's owner and mode"

as_member() { setpriv --reuid=65534 --regid=65534 --groups="$GID" "$@"; }
out=$(as_member "$CONNCTL_BIN" --socket "$SOCK" -j rule show)
expect_eq "$(jget "$out" '[r["id"] for r in d]')" "[1]" "a member reads the rules"
for what in "flow show" stats events; do
	# shellcheck disable=SC2086
	as_member "$CONNCTL_BIN" --socket "$SOCK" -j $what >/dev/null || die "a member's $what failed"
done
rc=0
out=$(as_member "$CONNCTL_BIN" --socket "$SOCK" -j rule del 1) || rc=$?
expect_eq "$rc:$(jget "$out" 'd["error"]["code"]')" "1:permission_denied" \
	"a member deletes a rule"
rc=0
setpriv --reuid=65534 --regid=65534 --clear-groups "$CONNCTL_BIN" --socket "$SOCK" rule show \
	>/dev/null 2>&1 || rc=$?
expect_eq "$rc" 3 "a non-member cannot even connect (exit 3)"

# An idle client is told why, then closed; the agent serves on.
idle=$(python3 - "$SOCK" <<'PY'
import json, socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
t0 = time.monotonic()
s.settimeout(5)
line = s.makefile("rb").readline()
print(json.dumps({"line": json.loads(line), "after_s": round(time.monotonic() - t0, 1),
                  "eof": s.recv(1) == b""}))
PY
)
log "$idle"
expect_eq "$(jget "$idle" 'd["line"]["error"]["code"]')" idle_timeout "what an idle client is told"
expect_eq "$(jget "$idle" '1 <= d["after_s"] <= 3')" True "after about the timeout"
expect_eq "$(jget "$idle" 'd["eof"]')" True "then the connection closes"
expect_eq "$(connctl -j rule show | jget "$(cat)" 'len(d)')" 1 "the agent serves on"
