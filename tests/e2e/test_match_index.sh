#!/usr/bin/env bash
# No false negatives (nor false positives) in how sockops finds the rule of a
# new connection through its indexes (remote prefix, local port, cgroup, and
# the walk of all when a list overflows): 120 random rules, 2,000 random
# connections; each rule's new matches against what the rules say, computed
# from each connection's tuple and cgroup. Then three rules in four are
# deleted, one by one: each bucket must list what stands (checked in the
# pinned maps), and 2,000 more connections must match as the rules left say.
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

# Each bucket of rule_lpm, rule_ports and rule_cgroups lists what stands.
check_buckets() {
	local m
	connctl -j rule show >"$TMP/shown.json"
	for m in rule_lpm rule_ports rule_cgroups; do
		bpftool -j map dump pinned "$PIN_DIR/$m" >"$TMP/$m.json"
	done
	python3 -c 'import json, os, sys
print(json.dumps({p: os.stat(sys.argv[1] + p).st_ino for p in sys.argv[2:]}))' \
		"$CG_ROOT" "$cg/a" "$cg/b" >"$TMP/inos.json"
	expect_eq "$(python3 "$TOP/tests/e2e/match_check.py" buckets "$TMP/shown.json" \
		"$TMP/rule_lpm.json" "$TMP/rule_ports.json" "$TMP/rule_cgroups.json" \
		"$TMP/inos.json")" "{}" "$1: buckets unlike the rules that stand"
}

spray_and_check "all 120 rules" 11
check_buckets "all 120 rules"
overflowing=$(jget "$(cat "$TMP/rule_lpm.json")" 'sum(e["formatted"]["value"]["count"] > 6 for e in d)')
[ "$overflowing" -ge 1 ] || die "no prefix lists more than 6 rules: the deletes test nothing"

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
