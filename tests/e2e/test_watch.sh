#!/usr/bin/env bash
# connctl watch: a live stream of what the agent does, in order. A drain
# rule over idle keep-alive connections: the rule added (with what it
# matched), each connection tagged, then closed with a FIN; a reset rule's
# new connection closed with an RST; rules removed, deleted or expired. A
# watcher of one rule sees that rule's events only; -j gives JSON lines,
# without it lines for people; a watcher cannot send requests.
. "$(dirname "$0")/lib.sh"

setup_env
start_nginx 8080 8081
start_agent

# watch_start NAME ARGS...: a watcher writing NAME.out, subscribed on return.
watch_start() {
	local name=$1
	shift
	connctl "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
	subscribed() { grep -q "connctl: watching" "$TMP/$name.err"; }
	wait_until 5 subscribed || die "watcher $name did not start: $(cat "$TMP/$name.err")"
}

rc=0
out=$(connctl watch rule 1 2>&1) || rc=$?
expect_eq "$rc:$out" "1:connctl: no rule with id 1 (unknown_rule)" \
	"watching a rule that is not there"
watch_start all -j watch
watch_start text watch
connctl rule add action observe lport 9 >/dev/null	# rule 1: matches nothing
watch_start one -j watch rule 1

res=$(in_ns python3 "$CLIENTS_PY" idle --to 127.0.0.1:8080 --count 3 --idle 0.7 \
	--deadline 2 -- "$CONNCTL_BIN" --socket "$SOCK" -j rule add action drain lport 8080)
log "$res"
expect_eq "$(jget "$res" 'd["ends"]')" "{'eof': 3}" "how the idle connections ended"
connctl rule add action reset lport 8081 ttl 1s >/dev/null	# rule 3
in_ns curl -s -o /dev/null --max-time 2 http://127.0.0.1:8081/ || true
connctl rule del 2 >/dev/null
connctl rule del 1 >/dev/null

# events FILE: "event rule detail" a line, in the order of the stream.
events() {
	python3 -c 'import json, sys
for line in open(sys.argv[1]):
    e = json.loads(line)
    detail = e.get("outcome", e.get("reason", e.get("matched", "")))
    print(e["event"], e["rule"], detail)' "$1"
}
expired() { events "$TMP/all.out" | grep -q "rule.removed 3 expired"; }
wait_until 5 expired || die "no event of rule 3's expiry: $(cat "$TMP/all.out")"
log "$(cat "$TMP/all.out")"
expect_eq "$(events "$TMP/all.out" | sort | uniq -c | awk '{ $1 = $1; print }')" \
"3 closed 2 fin
1 closed 3 rst
1 rule.added 1 0
1 rule.added 2 3
1 rule.added 3 0
1 rule.removed 1 deleted
1 rule.removed 2 deleted
1 rule.removed 3 expired
3 tagged 2" "each event, as often as it happened"
# The order: a rule's connections come after it is added, before it goes.
expect_eq "$(events "$TMP/all.out" | python3 -c 'import sys
ev = [l.split()[:2] for l in sys.stdin]
pos = lambda kind, rule: [i for i, e in enumerate(ev) if e == [kind, rule]]
print(max(pos("rule.added", "2")) < min(pos("tagged", "2")),
      max(pos("tagged", "2")) <= max(pos("closed", "2")) < min(pos("rule.removed", "2")),
      pos("rule.added", "3")[0] < pos("closed", "3")[0] < pos("rule.removed", "3")[0])')" \
	"True True True" "events in the order they happened"
expect_eq "$(events "$TMP/one.out")" "rule.removed 1 deleted" "the events of rule 1 only"

# For people: one line an event.
log "$(cat "$TMP/text.out")"
grep -qE '^[0-9:.]{12} rule 2 added: drain lport 8080 timeout 30s quiet 500ms, matched 3$' "$TMP/text.out" ||
	die "no line for rule 2's addition"
[ "$(grep -cE '^[0-9:.]{12} rule 2 drain fin +127\.0\.0\.1:8080 -> 127\.0\.0\.1:[0-9]+  [0-9]+ B in, [0-9]+ B out, [0-9.]+ ms after the tag' "$TMP/text.out")" = 3 ] ||
	die "not three lines for rule 2's FINs"
grep -qE '^[0-9:.]{12} rule 3 removed \(expired\)$' "$TMP/text.out" ||
	die "no line for rule 3's expiry"

# A watcher's connection carries events only.
expect_eq "$(printf '%s\n' '{"op":"events.watch"}' '{"op":"rule.show"}' |
	python3 "$TOP/tests/e2e/pipeline.py" "$SOCK" | jget "$(cat)" '[r.get("ok") for r in d]')" \
	"[True, False]" "a request after events.watch"
