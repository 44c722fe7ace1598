#!/usr/bin/env bash
# No false negatives (nor false positives) in how sockops finds the rule of a
# new connection through its indexes (remote prefix, local port, cgroup,
# remote port, and the chunks of lists longer than a bucket holds): 140
# random rules, 2,000 random connections; each rule's new matches against
# what the rules say, computed from each connection's tuple and cgroup. Then
# three rules in four are deleted, one by one: each bucket and its chunks
# must list what stands (checked in the pinned maps), and 2,000 more
# connections must match as the rules left say.
. "$(dirname "$0")/lib.sh"

setup_env
mkdir "$CGROUP/a" "$CGROUP/b"
CLIENT_CG=$CGROUP-c		# the clients, out of sockops' sight
mkdir "$CLIENT_CG"
start_agent
cg=${CGROUP#"$CG_ROOT"}

in_cgroup_netns "$CGROUP/a" "$NETNS_PATH" python3 "$TOP/tests/e2e/conn_servers.py" 9000 9024 \
	>/dev/null &
in_cgroup_netns "$CGROUP/b" "$NETNS_PATH" python3 "$TOP/tests/e2e/conn_servers.py" 9025 9049 \
	>/dev/null &
wait_until 10 port_listening 9049 || die "servers not listening"
wait_until 10 port_listening 9024 || die "servers not listening"

python3 "$TOP/tests/e2e/match_check.py" rules 7 "$cg/a" "$cg/b" >"$TMP/rules.jsonl"
python3 - "$SOCK" "$TMP/rules.jsonl" >"$TMP/standing.jsonl" <<'PY'
import json, socket, sys
rules = [json.loads(l) for l in open(sys.argv[2])]
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); f = s.makefile("rb")
s.sendall(b"".join(json.dumps({"op": "rule.add", "rule": r}).encode() + b"\n" for r in rules))
for r in rules:
    reply = json.loads(f.readline())
    assert reply["ok"], reply
    print(json.dumps({"id": reply["id"], "rule": r}))
PY
log "rules: $(wc -l <"$TMP/standing.jsonl")"

new_matches() {
	connctl -j rule show | python3 -c 'import json, sys
print(json.dumps({str(r["id"]): r["stats"]["new_matches"] for r in json.load(sys.stdin)}))'
}

# spray_and_check ROUND SEED: 2,000 new connections; each standing rule's
# new matches since the round began equal what the rules say.
spray_and_check() {
	local round=$1 seed=$2 before want want_total got diff
	before=$(new_matches)
	in_cgroup_netns "$CLIENT_CG" "$NETNS_PATH" python3 "$TOP/tests/e2e/conn_spray.py" \
		"$seed" 2000 | python3 -c 'import json, sys
cg = sys.argv[1]
for l in sys.stdin:
    c = json.loads(l)
    c["cgroup"] = cg + ("/a" if c["lport"] < 9025 else "/b")
    print(json.dumps(c))' "$cg" >"$TMP/conns.jsonl"
	want=$(python3 "$TOP/tests/e2e/match_check.py" expect "$TMP/standing.jsonl" \
		"$TMP/conns.jsonl")
	want_total=$(jget "$want" 'sum(d.values())')
	log "$round: 2000 connections, of which a rule matches $want_total"
	[ "$want_total" -gt 100 ] && [ "$want_total" -lt 2000 ] ||
		die "$round: a test of no use: $want_total of 2000 match"
	got_total() { jget "$(new_matches)" 'sum(d.values())'; }
	all_in() { [ "$(got_total)" -ge "$(( $(jget "$before" 'sum(d.values())') + want_total ))" ]; }
	wait_until 10 all_in || die "$round: matched too few"
	got=$(new_matches)
	diff=$(python3 -c 'import json, sys
want, before, got = (json.loads(a) for a in sys.argv[1:4])
bad = {k: (w, got.get(k, 0) - before.get(k, 0)) for k, w in want.items()
       if got.get(k, 0) - before.get(k, 0) != w}
print(json.dumps(bad))' "$want" "$before" "$got")
	expect_eq "$diff" "{}" "$round: rules whose new matches differ from the rules' own verdict (want, got)"
}

# Each bucket of rule_lpm, rule_ports, rule_cgroups and rule_rports, with its
# chunks, lists what stands, no chunk is left past a list's end, and
# rport_rules counts what rule_rports lists.
check_buckets() {
	local m
	connctl -j rule show >"$TMP/shown.json"
	for m in rule_lpm rule_ports rule_cgroups rule_rports rule_chunks; do
		bpftool -j map dump pinned "$PIN_DIR/$m" >"$TMP/$m.json"
	done
	python3 -c 'import json, os, sys
print(json.dumps({p: os.stat(sys.argv[1] + p).st_ino for p in sys.argv[2:]}))' \
		"$CG_ROOT" "$cg/a" "$cg/b" >"$TMP/inos.json"
	expect_eq "$(python3 "$TOP/tests/e2e/match_check.py" buckets "$TMP/shown.json" \
		"$TMP/rule_lpm.json" "$TMP/rule_ports.json" "$TMP/rule_cgroups.json" \
		"$TMP/rule_rports.json" "$TMP/rule_chunks.json" "$TMP/inos.json")" "{}" \
		"$1: buckets unlike the rules that stand"
	# The count that sends matchers to rule_rports at all.
	expect_eq "$(bpftool -j map lookup pinned "$PIN_DIR/rport_rules" key 0 0 0 0 |
		jget "$(cat)" 'd["formatted"]["value"]')" \
		"$(jget "$(cat "$TMP/rule_rports.json")" 'sum(e["formatted"]["value"]["count"] for e in d)')" \
		"$1: rport_rules against the rules rule_rports lists"
}

# The kinds of bucket (1 prefix, 2 port, 3 cgroup, 4 rport) whose list runs into chunks.
chunked_kinds() {
	jget "$(cat "$TMP/rule_chunks.json")" \
		'" ".join(str(k) for k in sorted({e["formatted"]["key"]["kind"] for e in d}))'
}

spray_and_check "all 140 rules" 11
check_buckets "all 140 rules"
# ::/0 (ranges), local port 9001 and remote port 22005 list more than a bucket holds.
expect_eq "$(chunked_kinds)" "1 2 4" "bucket kinds with chunks"
longest=$(jget "$(cat "$TMP/rule_lpm.json")" 'max(e["formatted"]["value"]["count"] for e in d)')
[ "$longest" -gt 22 ] || die "no list runs into a second chunk ($longest rules at most)"

# Three in four deleted, one at a time: buckets shrink past their list's size.
python3 - "$SOCK" "$TMP/standing.jsonl" >"$TMP/kept.jsonl" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); f = s.makefile("rw")
for n, line in enumerate(open(sys.argv[2])):
    r = json.loads(line)
    if n % 4 == 0:
        print(line.strip())
        continue
    f.write(json.dumps({"op": "rule.del", "id": r["id"]}) + "\n"); f.flush()
    assert json.loads(f.readline())["ok"]
PY
mv "$TMP/kept.jsonl" "$TMP/standing.jsonl"
check_buckets "a quarter left"
spray_and_check "a quarter left" 12

# Pins an agent kept that lists no chunks (an older connctld: its buckets
# past 6 rules only count them, and its layout says nothing of chunks): the
# next agent lists every rule again, and matches as the rules say.
stop_agent
layout_bytes=$(bpftool -j map dump pinned "$PIN_DIR/layout" | jget "$(cat)" '" ".join(d[0]["value"][:4])')
bpftool map update pinned "$PIN_DIR/layout" key 0 0 0 0 value $layout_bytes 0 0 0 0
bpftool -j map dump pinned "$PIN_DIR/rule_chunks" | python3 -c 'import json, sys
for e in json.load(sys.stdin):
    print(" ".join(e["key"]))' | while read -r key; do
	bpftool map delete pinned "$PIN_DIR/rule_chunks" key $key
done
expect_eq "$(bpftool -j map dump pinned "$PIN_DIR/rule_chunks" | jget "$(cat)" 'len(d)')" 0 \
	"chunks left in the older agent's pins"
: >"$AGENT_LOG"
start_agent
wait_until 10 grep -q "listing the [0-9]* rules again" "$AGENT_LOG" ||
	die "the agent did not list the rules again"
check_buckets "after an agent that kept no chunks"
expect_eq "$(bpftool -j map dump pinned "$PIN_DIR/layout" | jget "$(cat)" 'd[0]["value"][4]')" \
	"0x02" "the layout's features once the rules are listed again"
spray_and_check "after an agent that kept no chunks" 13

# A chunk lost under a running agent (nothing writes rule_chunks but the
# agent; this stands for any list it cannot trust): deleting a rule of that
# list makes the agent list it again from the rules that stand.
chunk=$(bpftool -j map dump pinned "$PIN_DIR/rule_chunks" | jget "$(cat)" \
	'" ".join(d[0]["key"]) + "|" + str(d[0]["formatted"]["value"]["ids"][0]) if d else ""')
[ -n "$chunk" ] || die "no chunk left to lose: the relisting is not tested"
bpftool map delete pinned "$PIN_DIR/rule_chunks" key ${chunk%|*}
connctl rule del "${chunk#*|}" >/dev/null
check_buckets "a rule deleted from a list that lost a chunk"
