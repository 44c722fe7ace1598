#!/usr/bin/env bash
# Local users against the control socket: readers cannot lock root out
# (their own client limit), cannot starve changes (dry runs rate limited),
# cannot make the agent open paths (nothing parsed before the permission
# check; namespaces only where they live); a client refused for too many
# clients hears why; at its fd limit the agent answers, backs off and serves
# on; the CLI never talks to a socket that root does not serve.
. "$(dirname "$0")/lib.sh"

GROUP=ccabuse$$
groupadd "$GROUP"
trap 'rc=$?; set +e; groupdel "$GROUP" 2>/dev/null; (exit $rc); cleanup' EXIT
GID=$(getent group "$GROUP" | cut -d: -f3)
as_member() { setpriv --reuid=65534 --regid=65534 --groups="$GID" "$@"; }
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }

setup_env
SOCK=$TMP/run/connctl.sock
chmod 0755 "$TMP"
start_agent --group "$GROUP" --max-reader-clients 4 --max-clients 2 -v

# --- Readers' watchers fill their own pool; root still manages rules.
for i in 1 2 3 4; do
	as_member "$CONNCTL_BIN" --socket "$SOCK" -j watch >/dev/null 2>&1 &
done
# Count the watchers by their sockets.
members_connected() { [ "$(ss -xp 2>/dev/null | grep -c "$SOCK")" -ge 4 ]; }
wait_until 5 members_connected || die "the watchers did not connect"
rc=0
out=$(as_member "$CONNCTL_BIN" --socket "$SOCK" -j rule show) || rc=$?
expect_eq "$rc:$(jget "$out" 'd["error"]["code"]')" "1:too_many_clients" \
	"a fifth reader (its answer, not a broken pipe)"
connctl rule add action reset lport 9 id 1 >/dev/null || die "root was locked out by readers"
log "ok: root adds rules while readers fill their pool"

# --- Root's own pool: the refused client is told why (exit 1, not 3).
exec 7< <(python3 -c 'import socket, sys, time
a = socket.socket(socket.AF_UNIX); a.connect(sys.argv[1])
b = socket.socket(socket.AF_UNIX); b.connect(sys.argv[1])
print("held", flush=True); time.sleep(30)' "$SOCK" root-clients-held)
read -r -t 5 held <&7 || die "root's clients did not connect"
rc=0
out=$(connctl rule show 2>&1) || rc=$?
expect_eq "$rc" 1 "exit status of a root client over --max-clients"
grep -q "too_many_clients" <<<"$out" || die "the refused client saw: $out"
exec 7<&-
pkill -f root-clients-held || true
root_free() { connctl rule show >/dev/null 2>&1; }
wait_until 5 root_free || die "root's pool did not free up"

# --- Dry runs of readers are rate limited; root's changes go on.
pkill -f "$CONNCTL_BIN --socket $SOCK -j watch" || true
member_served() { as_member "$CONNCTL_BIN" --socket "$SOCK" rule show >/dev/null 2>&1; }
wait_until 5 member_served || die "the readers' pool did not free up"
codes=$(as_member /usr/bin/python3 -c 'import json, socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
req = b"{\"op\":\"rule.add\",\"rule\":{\"action\":\"reset\",\"lport\":9},\"dry_run\":true}\n"
s.sendall(req * 40); s.shutdown(socket.SHUT_WR)
out = {}
for l in s.makefile():
    d = json.loads(l)
    k = "ok" if d["ok"] else d["error"]["code"]
    out[k] = out.get(k, 0) + 1
print(json.dumps(out))' "$SOCK")
log "40 dry runs at once by a reader: $codes"
ok=$(jget "$codes" 'd.get("ok", 0)')
[ "$ok" -ge 1 ] && [ "$ok" -le 6 ] || die "$ok of 40 dry runs served, want the burst (4) and a few"
expect_eq "$(jget "$codes" 'd.get("rate_limited", 0) + d.get("ok", 0)')" 40 "answers to the 40"
out=$(connctl -j rule add action reset lport 9 dry-run) || die "root's dry run was limited"

# --- Paths a reader names: only namespaces where they live, nothing opened first.
mkfifo "$TMP/fifo"
chmod 0666 "$TMP/fifo"
# Let anyone reach the socket: the agent's own checks are what is tested.
chmod 0755 "$TMP/run"
chmod 0666 "$SOCK"
opened() {
	# A writer's open returns only when someone opens the FIFO to read.
	timeout 1 sh -c "echo x >'$TMP/fifo'" 2>/dev/null
}
for who in as_member as_nobody; do
	rc=0
	out=$($who "$CONNCTL_BIN" --socket "$SOCK" -j rule add action reset netns "$TMP/fifo" \
		dry-run 2>/dev/null) || rc=$?
	[ $rc -ne 0 ] || die "$who: a FIFO was taken as a namespace"
	! opened || die "$who: the agent opened the FIFO"
	log "ok: $who naming a FIFO: $(jget "$out" 'd["error"]["code"]'), not opened"
done
out=$(as_nobody "$CONNCTL_BIN" --socket "$SOCK" -j rule add action reset netns /root/x dry-run) || true
expect_eq "$(jget "$out" 'd["error"]["code"]')" permission_denied "a non-member naming a path"

# --- An impostor on the socket path: the CLI sends it nothing.
mkdir -m 0777 "$TMP/shared"
exec 8< <(as_nobody /usr/bin/python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(1)
print("listening", flush=True)
c, _ = s.accept(); c.settimeout(2)
try:
    print("got %d bytes" % len(c.recv(100)), flush=True)
except OSError:
    print("got 0 bytes", flush=True)' "$TMP/shared/connctl.sock")
read -r -t 5 line <&8 || die "the impostor did not start"
rc=0
out=$("$CONNCTL_BIN" --socket "$TMP/shared/connctl.sock" rule add action reset lport 22 2>&1) || rc=$?
expect_eq "$rc" 3 "exit status against a socket served by uid 65534"
grep -q "not by root" <<<"$out" || die "no clear message: $out"
read -r -t 5 line <&8 || die "the impostor said nothing"
expect_eq "$line" "got 0 bytes" "what the impostor received"
exec 8<&-

# --- At its fd limit: the agent answers, backs off, serves its clients.
exec 9< <(python3 -c 'import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
print("connected", flush=True)
for l in sys.stdin:
    s.sendall(b"{\"op\":\"rule.show\"}\n"); print(s.recv(65536).decode().strip(), flush=True)
' "$SOCK" < <(sleep 3; echo; sleep 10))
read -r -t 5 line <&9 || die "the long-lived client did not connect"
# The lowest free fd number as the limit: the next fd the agent needs fails.
free_fd=$(ls /proc/"$AGENT_PID"/fd | sort -n | awk '$1 != NR - 1 { print NR - 1; found = 1; exit }
	END { if (!found) print NR }')
soft=$(prlimit --pid "$AGENT_PID" --nofile --raw --noheadings -o SOFT)
hard=$(prlimit --pid "$AGENT_PID" --nofile --raw --noheadings -o HARD)
prlimit --pid "$AGENT_PID" --nofile="$free_fd:$hard"
t0=$(awk '{ print $14 + $15 }' /proc/"$AGENT_PID"/stat)
python3 -c 'import socket, sys, time
socks = []
for i in range(200):
    s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); socks.append(s)
time.sleep(2)' "$SOCK"
t1=$(awk '{ print $14 + $15 }' /proc/"$AGENT_PID"/stat)
ticks=$((t1 - t0))
log "agent CPU while 200 clients knocked at its fd limit for 2 s: $ticks ticks"
[ "$ticks" -le 40 ] || die "the agent spun at its fd limit: $ticks ticks in 2 s"
lines=$(grep -c "out of file descriptors" "$AGENT_LOG")
[ "$lines" -ge 1 ] && [ "$lines" -le 2 ] || die "$lines log lines about the fd limit"
read -r -t 10 line <&9 || die "the connected client got no answer"
expect_eq "$(jget "$line" 'd["ok"]')" True "a connected client served at the fd limit"
exec 9<&-
prlimit --pid "$AGENT_PID" --nofile="$soft:$hard"
connctl rule show >/dev/null || die "new clients are not served once fds are back"
