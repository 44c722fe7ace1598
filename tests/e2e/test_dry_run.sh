#!/usr/bin/env bash
# rule add ... dry-run: the connections the rule would match now, each with
# its owners (pid and command), and nothing changes: no rule stands, the
# connections stay open, the state file has no rule. In a pipeline its
# response keeps its place; a malformed dry_run is refused.
. "$(dirname "$0")/lib.sh"

setup_env
start_agent --metrics 9554
hold_start 9100:3 9200:2

out=$(connctl rule add action reset lport 9100 dry-run)
log "$out"
expect_eq "$(head -n 1 <<<"$out")" \
	"would match 3 existing connections (a dry run: nothing changed)" "the first line"
expect_eq "$(grep -cE '^127\.0\.0\.[0-9]+:9100 -> 127\.0\.0\.[0-9]+:[0-9]+ +established +[0-9]+ python3$' <<<"$out")" 3 \
	"connections listed, each with its owner"

res=$(connctl -j rule add action reset rport 9100 dry-run)
log "$res"
expect_eq "$(jget "$res" '(d["dry_run"], d["matched"], len(d["connections"]))')" "(True, 3, 3)" \
	"the client sides, as JSON"
holder_pids=$(pgrep -f mass_conns.py | sort -n | tr '\n' ' ')
for pid in $(jget "$res" '" ".join(str(o["pid"]) for c in d["connections"] for o in c["owners"])'); do
	[[ " $holder_pids" == *" $pid "* ]] || die "owner $pid is not one of the holder's ($holder_pids)"
done
# The owners found among the processes of the sockets' cgroup, no other's.
expect_eq "$(agent_metric 9554 'connctl_owner_walks_total{of="all"}')" 0 \
	"walks of every process's files for the dry runs"

expect_eq "$(hold_ask alive 9100)" 3 "connections to 9100 after the dry runs"
expect_eq "$(connctl -j rule show | jget "$(cat)" 'len(d)')" 0 "rules standing"
[ ! -s "$STATE_FILE" ] || expect_eq "$(grep -c '"rule"' "$STATE_FILE")" 0 "rules in the state file"

res=$(printf '%s\n' \
	'{"op":"rule.add","rule":{"action":"observe","lport":9200}}' \
	'{"op":"rule.add","rule":{"action":"reset","lport":9200},"dry_run":true}' \
	'{"op":"rule.add","rule":{"action":"observe","lport":9300}}' \
	'{"op":"rule.add","rule":{"action":"reset","lport":9200},"dry_run":"yes"}' |
	python3 "$TOP/tests/e2e/pipeline.py" "$SOCK")
expect_eq "$(jget "$res" '[r.get("id", r.get("matched", r.get("error", {}).get("code"))) for r in d]')" \
	"[1, 2, 2, 'bad_request']" "responses in order: added, dry run, added, refused"
expect_eq "$(hold_ask alive 9200)" 2 "connections to 9200 after a reset dry run"
hold_stop
