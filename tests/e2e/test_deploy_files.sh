#!/usr/bin/env bash
# The service files and manuals: scripts/connctld.service passes
# systemd-analyze verify,
# and the agent does its work (reset, and a drain closed through the
# owner's fd) with no capability but the unit's bounding set;
# deploy/kubernetes/daemonset.yaml passes a strict schema check, and the
# check catches a broken copy; the man pages render without a warning and
# name every option of --help.
. "$(dirname "$0")/lib.sh"

UNIT=$TOP/scripts/connctld.service
setup_env

# systemd-analyze wants the binary the unit starts: point it at ours.
sed "s|^ExecStart=/usr/local/sbin/connctld|ExecStart=$CONNCTLD|" "$UNIT" >"$TMP/connctld.service"
out=$(systemd-analyze verify --man=no "$TMP/connctld.service" 2>&1) ||
	die "systemd-analyze verify failed: $out"
expect_eq "$out" "" "systemd-analyze verify's complaints"

# The agent with the unit's capabilities and no others.
caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$UNIT" | tr 'A-Z' 'a-z' | sed 's/cap_//g; s/ /,+/g')
log "bounding set: +$caps"
want=$(setpriv --bounding-set "-all,+$caps" -- awk '/^CapBnd/ { print $2 }' /proc/self/status)
[ -n "$want" ] && [ "$want" != "$(awk '/^CapBnd/ { print $2 }' /proc/self/status)" ] ||
	die "setpriv did not narrow the bounding set to the unit's ($want)"
start_nginx 8080
nsenter --net="$NETNS_PATH" -- setpriv --bounding-set "-all,+$caps" -- "$CONNCTLD" \
	--socket "$SOCK" --pin-dir "$PIN_DIR" --cgroup "$CGROUP" --state-file "$STATE_FILE" \
	>>"$AGENT_LOG" 2>&1 &
AGENT_PID=$!
wait_until 10 test -S "$SOCK" || die "connctld did not start with the unit's capabilities"
agent_pid=$(pgrep -f "connctld --socket $SOCK" | head -n 1)
expect_eq "$(awk '/^CapEff/ { print $2 }' "/proc/$agent_pid/status")" "$want" \
	"the agent's effective capabilities"

res=$(in_ns python3 "$CLIENTS_PY" idle --to 127.0.0.1:8080 --count 3 --idle 0.7 \
	--deadline 2 -- "$CONNCTL_BIN" --socket "$SOCK" -j rule add action drain lport 8080)
log "$res"
expect_eq "$(jget "$res" 'd["ends"]')" "{'eof': 3}" "idle connections drained"
expect_eq "$(connctl -j rule show 1 | jget "$(cat)" 'd[0]["stats"]["closed"]')" \
	"{'fin': 3, 'rst': 0, 'rst-timeout': 0, 'rst-no-owner': 0, 'refused': 0}" \
	"drained with a FIN through the owner's fd"
hold_start 9100:4
expect_eq "$(connctl -j rule add action reset lport 9100 | jget "$(cat)" 'd["matched"]')" 4 \
	"connections a reset rule matched"
expect_eq "$(hold_ask alive 9100)" 0 "connections left after the reset"
hold_stop

# The DaemonSet: the check passes it, and fails a copy with a mount that
# names no volume and a misspelled field.
out=$(python3 "$TOP/tests/e2e/check_daemonset.py" "$TOP/deploy/kubernetes/daemonset.yaml") ||
	die "daemonset.yaml: $out"
sed '0,/- name: state$/s//- name: stat/; s/hostPID: true/hostPid: true/' \
	"$TOP/deploy/kubernetes/daemonset.yaml" >"$TMP/broken.yaml"
rc=0
out=$(python3 "$TOP/tests/e2e/check_daemonset.py" "$TMP/broken.yaml") || rc=$?
log "$out"
expect_eq "$rc" 1 "the check's exit status on a broken copy"
[[ "$out" == *"unknown field 'hostPid'"* && "$out" == *"names no volume 'stat'"* ]] ||
	die "the check missed what is broken: $out"

# The man pages: clean roff, and every option --help knows.
for page in connctl connctld; do
	out=$(groff -man -ww -z "$TOP/man/$page.8" 2>&1)
	expect_eq "$out" "" "groff's warnings on man/$page.8"
	bin=$CONNCTL_BIN
	[ "$page" = connctl ] || bin=$CONNCTLD
	text=$(MANWIDTH=200 man -l "$TOP/man/$page.8" 2>/dev/null)
	for opt in $("$bin" --help | grep -oE -- '--[a-z][a-z-]+' | sort -u); do
		grep -qF -- "$opt" <<<"$text" || die "man/$page.8 does not mention $opt"
	done
done
