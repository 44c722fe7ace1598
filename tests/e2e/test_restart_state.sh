#!/usr/bin/env bash
# The state file: rules survive a killed agent (adopted from the pins, same
# ids) and a reboot (pins gone: back from the file, same ids, same expiry).
# A rule whose ttl ran out while the agent was down does not come back. The
# file is a journal: a last line cut short (a change being written when the
# machine stopped) is dropped with a warning; a corrupt line stops the agent
# with its path and line.
. "$(dirname "$0")/lib.sh"

setup_env
start_agent
connctl rule add action reset lport 9 >/dev/null
connctl rule add action drain lport 8080 ttl 1h quiet 200ms >/dev/null
connctl rule add action observe rport 443 mark 7 >/dev/null
connctl rule add action reset lport 10 ttl 4s >/dev/null
connctl rule del 1 >/dev/null
ids() { connctl -j rule show | jget "$(cat)" '[r["id"] for r in d]'; }
expect_eq "$(ids)" "[2, 3, 4]" "rules before any restart"
# file_rules: the ids standing at the end of the state file's journal.
file_rules() {
	python3 -c 'import json, sys
ids = set()
for line in list(sys.stdin)[1:]:
    if line == "\n":
        continue  # room for the next changes
    change = json.loads(line)
    if "rule" in change:
        ids.add(change["rule"]["id"])
    elif "del" in change:
        ids.discard(change["del"])
print(sorted(ids))' <"$STATE_FILE"
}
expect_eq "$(head -n 1 "$STATE_FILE")" '{"connctl_state":3,"last_id":1}' \
	"the state file's header (written whole at the first rule)"
expect_eq "$(grep -v '^$' "$STATE_FILE" | tail -n 1)" '{"del":1}' \
	"the last change, written over the blank lines"
expect_eq "$(tail -c 1 "$STATE_FILE" | od -An -c | tr -d ' ')" '\n' "blank lines after it"
expect_eq "$(file_rules)" "[2, 3, 4]" "rules in the state file"

# A killed agent: the pins hold the rules; the new agent adopts them.
kill_agent
start_agent
expect_eq "$(ids)" "[2, 3, 4]" "rules after SIGKILL and restart"

# A reboot: the pins are gone. The rule with a 4 s ttl runs out meanwhile
# (long enough to outlast the restarts before, even on a loaded machine).
stop_agent
in_ns_only "$CONNCTLD" --uninstall --pin-dir "$PIN_DIR" >/dev/null 2>&1
[ ! -d "$PIN_DIR" ] || die "the pins survived --uninstall"
sleep_past_ttl() { [ "$(($(date +%s) - $(stat -c %Y "$STATE_FILE")))" -ge 5 ]; }
wait_until 10 sleep_past_ttl || die "waiting for the ttl"
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

# A torn last line: dropped with a warning, the rules before it restored.
stop_agent
in_ns_only "$CONNCTLD" --uninstall --pin-dir "$PIN_DIR" >/dev/null 2>&1
# Cut short where the agent writes its changes: over the blank lines.
lines=$(grep -c . "$STATE_FILE")
python3 - "$STATE_FILE" <<'PY'
import sys
data = open(sys.argv[1], "rb").read()
with open(sys.argv[1], "r+b") as f:
    f.seek(len(data.rstrip(b"\n")) + 1)
    f.write(b'{"rule":{"id":9,"action":"res')
PY
start_agent
expect_eq "$(ids)" "[2, 3, 5]" "rules back from a file with a torn last line"
grep -qF "$STATE_FILE:$((lines + 1)): the last change was cut short" "$AGENT_LOG" ||
	die "no warning naming the torn line"
expect_eq "$(tail -c 1 "$STATE_FILE" | od -An -c | tr -d ' ')" '\n' \
	"the file, written whole again, ends with a whole line"

# A corrupt line: the agent says where, and does not start.
stop_agent
in_ns_only "$CONNCTLD" --uninstall --pin-dir "$PIN_DIR" >/dev/null 2>&1
sed -i '2s/.*/{"rule":{"id":2,"action":"explode"},"expires_at_ms":0}/' "$STATE_FILE"
rc=0
out=$(nsenter --net="$NETNS_PATH" -- "$CONNCTLD" --socket "$SOCK" --pin-dir "$PIN_DIR" \
	--cgroup "$CGROUP" --state-file "$STATE_FILE" 2>&1) || rc=$?
log "$out"
expect_eq "$rc" 1 "the agent's exit status on a corrupt state file"
[ -n "$(grep -F "$STATE_FILE:2: " <<<"$out")" ] || die "the error does not name $STATE_FILE:2"
[ ! -S "$SOCK" ] || die "the agent created its socket anyway"
