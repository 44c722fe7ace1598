#!/usr/bin/env bash
# What a local user or a slip can do to a running agent: take its metrics
# port first (the agent serves rules anyway, says why with the real port, and
# gets the port once it is free), remove its pin dir (noticed, pinned again,
# so enforcement outlives the agent), start a second agent on its interface
# (refused: never silently stolen, and the second's --uninstall leaves the
# first's tc programs in place).
. "$(dirname "$0")/lib.sh"

setup_env
setup_veth

# --- The metrics port taken by another user first.
exec 7< <(in_ns_only setpriv --reuid=65534 --regid=65534 --clear-groups /usr/bin/python3 -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 9546)); s.listen(1)
print("bound", flush=True); time.sleep(60)' squatter-9546)
read -r -t 5 line <&7 || die "the squatter did not bind"
start_agent --metrics 9546 --iface veth-s
connctl rule add action reset lport 8080 id 1 >/dev/null || die "no rules while metrics failed"
grep -q "metrics 9546: cannot listen: Address already in use" "$AGENT_LOG" ||
	die "no clear word of the taken port"
pkill -f squatter-9546
exec 7<&-
scraped() { in_ns_only curl -sf http://127.0.0.1:9546/metrics >/dev/null; }
wait_until 10 scraped || die "metrics never came once the port was free"
log "ok: metrics served once the port was free"

# --- The pin dir removed under the running agent.
rm -rf "$PIN_DIR"
repinned() { [ -e "$PIN_DIR/rules" ] && [ -e "$PIN_DIR/sockops_link" ] && [ -e "$PIN_DIR/layout" ]; }
wait_until 5 repinned || die "the pins did not come back"
grep -q "pins under $PIN_DIR are gone" "$AGENT_LOG" || die "no log line for the removed pins"
kill_agent
# The links outlive the agent again: the next agent adopts them, and the rule.
start_agent --iface veth-s
grep -q "adopted 1 standing rules" "$AGENT_LOG" || die "the restarted agent adopted nothing"
expect_eq "$(connctl -j rule show | jget "$(cat)" '[r["id"] for r in d]')" "[1]" "rules adopted"

# --- A second agent on the same interface: refused, and its uninstall
# leaves the first agent's tc programs alone.
rc=0
out=$(nsenter --net="$NETNS_PATH" -- "$CONNCTLD" --socket "$TMP/b.sock" --pin-dir "$PIN_DIR-b" \
	--cgroup "$CGROUP" --state-file "" --iface veth-s 2>&1) || rc=$?
expect_eq "$rc" 1 "exit status of a second agent on veth-s"
grep -q "another connctld's tc programs are there" <<<"$out" || die "no clear message: $out"
nsenter --net="$NETNS_PATH" -- "$CONNCTLD" --uninstall --pin-dir "$PIN_DIR-b" >/dev/null 2>&1 ||
	die "the second agent's uninstall failed"
for dir in ingress egress; do
	in_ns_only tc filter show dev veth-s "$dir" | grep -q "connctl_tc_" ||
		die "the first agent's tc $dir program is gone"
done
log "ok: the first agent keeps its tc programs"
