#!/usr/bin/env bash
# Pipelined requests: a client sends many at once and gets one response per
# request, in order, whatever the agent batches. rule.adds that arrive
# together share one walk of the connections, and each still reports the
# connections it matched. The changes are in the state file by the time
# their responses arrive.
. "$(dirname "$0")/lib.sh"

setup_env
start_agent

# Connections to match: 6 to port 8080, held open (both ends in the holder).
hold_start 8080:6

pipe() { python3 "$TOP/tests/e2e/pipeline.py" "$SOCK"; }
res=$(pipe <<'REQ'
{"op":"rule.add","rule":{"action":"observe","lport":8080,"id":40}}
{"op":"rule.add","rule":{"action":"observe","lport":8080,"id":40}}
{"op":"rule.show","id":40}
not json
{"op":"rule.add","rule":{"action":"observe","rport":8080}}
{"op":"rule.add","rule":{"action":"observe","lport":9}}
{"op":"rule.del","id":40}
{"op":"rule.add","rule":{"action":"reset","rport":8080,"once":true}}
{"op":"rule.show"}
REQ
)
log "$res"
summary=$(python3 -c 'import json, sys
out = []
for r in json.loads(sys.argv[1]):
    if r["ok"]:
        out.append(r.get("id", len(r.get("rules", []))))
    else:
        out.append(r["error"]["code"])
print(out)' "$res")
expect_eq "$summary" "[40, 'duplicate_id', 1, 'bad_json', 41, 42, 40, 43, 2]" \
	"responses, in the order of the requests"
expect_eq "$(jget "$res" '[d[i]["matched"] for i in (0, 4, 5, 7)]')" "[6, 6, 0, 6]" \
	"connections each add matched (server side, client side, none, the reset)"
none_alive() { [ "$(hold_ask alive 8080)" = 0 ]; }
wait_until 5 none_alive || die "$(hold_ask alive 8080) connections survived the once reset"

# Sixteen clients, 64 adds each, all at once: every add answered, ids unique.
res=$(python3 "$TOP/bench/lib/rule_adds.py" --pipeline "$SOCK" 1024 16 0)
expect_eq "$(jget "$res" 'd["adds"]')" 1024 "pipelined adds answered"
ids=$(connctl -j rule show | python3 -c 'import json, sys
rules = json.load(sys.stdin); print(len(rules), len({r["id"] for r in rules}))')
expect_eq "$ids" "1026 1026" "rules standing, with distinct ids"

# What the responses acknowledged is on disk: the journal plays back to it.
expect_eq "$(python3 -c 'import json, sys
ids = set()
for line in list(open(sys.argv[1]))[1:]:
    if line == "\n":
        continue  # room for the next changes
    change = json.loads(line)
    if "rule" in change:
        ids.add(change["rule"]["id"])
    elif "del" in change:
        ids.discard(change["del"])
print(len(ids), 40 in ids)' "$STATE_FILE")" "1026 False" "rules in the state file"
hold_stop
