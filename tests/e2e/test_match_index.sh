#!/usr/bin/env bash
# No false negatives (nor false positives) in how sockops finds the rule of a
# new connection through its indexes (remote prefix, local port, cgroup, and
# the walk of all when a list overflows): 120 random rules, 2,000 random
# connections; each rule's new matches against what the rules say, computed
# from each connection's tuple and cgroup.
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

in_cgroup_netns "$CLIENT_CG" "$NETNS_PATH" python3 "$TOP/tests/e2e/conn_spray.py" 11 2000 |
	python3 -c 'import json, sys
cg = sys.argv[1]
for l in sys.stdin:
    c = json.loads(l)
    c["cgroup"] = cg + ("/a" if c["lport"] < 9025 else "/b")
    print(json.dumps(c))' "$cg" >"$TMP/conns.jsonl"
want=$(python3 "$TOP/tests/e2e/match_check.py" expect "$TMP/standing.jsonl" "$TMP/conns.jsonl")
want_total=$(jget "$want" 'sum(d.values())')
log "connections: 2000, of which a rule matches $want_total"
[ "$want_total" -gt 200 ] && [ "$want_total" -lt 2000 ] || die "a test of no use: $want_total of 2000 match"
got_total() { connctl -j rule show | jget "$(cat)" 'sum(r["stats"]["new_matches"] for r in d)'; }
all_in() { [ "$(got_total)" -ge "$want_total" ]; }
wait_until 10 all_in || die "matched $(got_total) of $want_total"
got=$(connctl -j rule show | python3 -c 'import json, sys
print(json.dumps({str(r["id"]): r["stats"]["new_matches"] for r in json.load(sys.stdin)}))')
diff=$(python3 -c 'import json, sys
want, got = json.loads(sys.argv[1]), json.loads(sys.argv[2])
bad = {k: (w, got.get(k)) for k, w in want.items() if got.get(k) != w}
print(json.dumps(bad))' "$want" "$got")
expect_eq "$diff" "{}" "rules whose new matches differ from the rules' own verdict (want, got)"
expect_eq "$(got_total)" "$want_total" "new matches in all"
