#!/usr/bin/env bash
# The state file: rules survive a killed agent (adopted from the pins, same
# ids) and a reboot (pins gone: back from the file, same ids, same expiry).
# A rule whose ttl ran out while the agent was down does not come back. A
# truncated state file stops the agent with its path and line.
. "$(dirname "$0")/lib.sh"

setup_env
start_agent
connctl rule add action reset lport 9 >/dev/null
connctl rule add action drain lport 8080 ttl 1h quiet 200ms >/dev/null
connctl rule add action observe rport 443 mark 7 >/dev/null
connctl rule add action reset lport 10 ttl 2s >/dev/null
connctl rule del 1 >/dev/null
ids() { connctl -j rule show | jget "$(cat)" '[r["id"] for r in d]'; }
expect_eq "$(ids)" "[2, 3, 4]" "rules before any restart"
expect_eq "$(head -n 1 "$STATE_FILE")" '{"connctl_state":1,"last_id":4}' "the state file's header"
expect_eq "$(tail -n +2 "$STATE_FILE" | python3 -c 'import json, sys
print([json.loads(l)["rule"]["id"] for l in sys.stdin])')" "[2, 3, 4]" "rules in the state file"

# A killed agent: the pins hold the rules; the new agent adopts them.
kill_agent
start_agent
expect_eq "$(ids)" "[2, 3, 4]" "rules after SIGKILL and restart"

# A reboot: the pins are gone. The rule with a 2 s ttl runs out meanwhile.
stop_agent
in_ns_only "$CONNCTLD" --uninstall --pin-dir "$PIN_DIR" >/dev/null 2>&1
[ ! -d "$PIN_DIR" ] || die "the pins survived --uninstall"
sleep_past_ttl() { [ "$(($(date +%s) - $(stat -c %Y "$STATE_FILE")))" -ge 3 ]; }
wait_until 6 sleep_past_ttl || die "waiting for the ttl"
start_agent
show=$(connctl -j rule show)
expect_eq "$(jget "$show" '[r["id"] for r in d]')" "[2, 3]" "rules back from the state file"
expect_eq "$(jget "$show" '(d[0]["action"], d[0]["lport"], d[0]["quiet"], d[1]["mark"])')" \
	"('drain', 8080, '200ms', 7)" "the rules' fields"
expect_eq "$(jget "$show" '3500000 < d[0]["expires_in_ms"] <= 3600000')" True \
	"the ttl keeps its deadline"
grep -q "rule 4 expired while the agent was down" "$AGENT_LOG" || die "no word of rule 4's expiry"
expect_eq "$(connctl -j rule add action reset lport 11 | jget "$(cat)" 'd["id"]')" 5 \
	"a new rule's id (ids are not reused)"

# A truncated state file: the agent says where, and does not start.
stop_agent
in_ns_only "$CONNCTLD" --uninstall --pin-dir "$PIN_DIR" >/dev/null 2>&1
lines=$(wc -l <"$STATE_FILE")
head -c -10 "$STATE_FILE" >"$STATE_FILE.cut" && mv "$STATE_FILE.cut" "$STATE_FILE"
rc=0
out=$(nsenter --net="$NETNS_PATH" -- "$CONNCTLD" --socket "$SOCK" --pin-dir "$PIN_DIR" \
	--cgroup "$CGROUP" --state-file "$STATE_FILE" 2>&1) || rc=$?
log "$out"
expect_eq "$rc" 1 "the agent's exit status on a truncated state file"
[ -n "$(grep -F "$STATE_FILE:$lines: truncated" <<<"$out")" ] ||
	die "the error does not name $STATE_FILE:$lines"
[ ! -S "$SOCK" ] || die "the agent created its socket anyway"
