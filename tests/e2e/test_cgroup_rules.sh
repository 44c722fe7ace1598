#!/usr/bin/env bash
# Rules by cgroup: `cgroup PATH` matches the sockets of processes in that
# cgroup v2 subtree, in any namespace. Holders of 4 connections each: two in
# cgroup web (one in the agent's namespace, one in namespace b), one in
# cgroup other. A drain rule with cgroup web closes the web holders'
# connections in both namespaces, each with a FIN through an owner, and
# leaves the other's open; the closes name their cgroup and namespace. A
# standing reset rule with cgroup web resets a new connection made in web,
# not one made in other. A cgroup that is not one is refused.
. "$(dirname "$0")/lib.sh"

ADDR=10.241.0.1
setup_env
require_test_net
add_netns b
ip -n "$NETNS" addr add "$ADDR/32" dev lo
ip -n "$TAG-b" addr add "$ADDR/32" dev lo
mkdir "$CGROUP/web" "$CGROUP/other"
start_agent --netns all

# hold NAME CGROUP NETNS_PATH PORT: 4 connections held by one process.
hold() {
	rm -f "$TMP/ready-$1"
	in_cgroup_netns "$CGROUP/$2" "$3" python3 "$TOP/tests/e2e/netns_holder.py" \
		"$ADDR" "$4" 4 "$TMP/ready-$1" &
	ready() { [ -s "$TMP/ready-$1" ]; }
	wait_until 5 ready "$1" || die "the holder $1 did not start"
}
# established NETNS_PATH PORT: connections of PORT still established there.
established() {
	nsenter --net="$1" ss -Htn state established "( sport = :$2 or dport = :$2 )" | wc -l
}
hold web-a web "$NETNS_PATH" 9417
hold web-b web "/var/run/netns/$TAG-b" 9417
hold other-a other "$NETNS_PATH" 9427

res=$(connctl -j rule add action drain cgroup "$CGROUP/web" quiet 0)
log "$res"
expect_eq "$(jget "$res" 'd["matched"]')" 16 "connections the rule matched (both ends, two holders)"
expect_eq "$(jget "$res" 'd["rule"]["cgroup"]')" "${CGROUP#"$CG_ROOT"}/web" "the rule's cgroup"
closed() { [ "$(established "$NETNS_PATH" 9417) $(established "/var/run/netns/$TAG-b" 9417)" = "0 0" ]; }
wait_until 5 closed || die "web's connections still open: $(established "$NETNS_PATH" 9417) $(established "/var/run/netns/$TAG-b" 9417)"
expect_eq "$(established "$NETNS_PATH" 9427)" 8 "other's connections (both ends)"
events=$(connctl -j events)
expect_eq "$(jget "$events" 'sorted(set((e["outcome"], e["cgroup"], e["netns_name"]) for e in d))')" \
	"[('fin', '${CGROUP#"$CG_ROOT"}/web', 'agent'), ('fin', '${CGROUP#"$CG_ROOT"}/web', '$TAG-b')]" \
	"how web's connections closed, and where"
# Both ends of each connection matched: the agent's FIN ends one, and the
# other is ended by its peer (itself, here) before the agent gets to it.
rule=$(connctl -j rule show 1)
expect_eq "$(jget "$rule" 'd[0]["stats"]["closed"]["fin"] + d[0]["stats"]["ended"]')" 16 \
	"ends closed by a FIN or by their peer"
expect_eq "$(jget "$events" 'len(d)')" "$(jget "$rule" 'd[0]["stats"]["closed"]["fin"]')" \
	"closes recorded"
expect_eq "$(jget "$events" 'len({tuple(sorted((e["lport"], e["rport"]))) for e in d})')" 8 \
	"connections that got the agent's FIN"
connctl rule del 1 >/dev/null

# A cgroup named by its id, as events and bpftool name one: resolved to its path.
id=$(stat -c %i "$CGROUP/other")
res=$(connctl -j rule add action observe cgroup "cgroup:[$id]" dry-run)
expect_eq "$(jget "$res" 'd["rule"]["cgroup"]')" "${CGROUP#"$CG_ROOT"}/other" "cgroup:[$id] named"
expect_eq "$(jget "$res" 'd["matched"]')" 8 "connections of cgroup:[$id]"

# A standing reset rule by cgroup, and new connections.
connctl rule add action reset cgroup "$CGROUP/web" >/dev/null
expect_eq "$(in_cgroup_netns "$CGROUP/web" "/var/run/netns/$TAG-b" python3 "$TOP/tests/e2e/new_conn.py" "$ADDR" 9437)" \
	reset "a new connection in web (namespace b)"
expect_eq "$(in_cgroup_netns "$CGROUP/other" "$NETNS_PATH" python3 "$TOP/tests/e2e/new_conn.py" "$ADDR" 9438)" \
	open "a new connection in other"

rc=0
out=$(connctl rule add action reset cgroup /no/such/cgroup 2>&1) || rc=$?
expect_eq "$rc" 1 "exit status for a cgroup that is not one"
[[ "$out" == *"not a cgroup v2 directory"* ]] || die "the error says: $out"
