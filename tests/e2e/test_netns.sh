#!/usr/bin/env bash
# connctld --netns all: actions cover every network namespace. Three
# namespaces each with a server and 4 clients on 10.241.0.1:9417: a reset
# rule without netns resets the servers' side in all three and says how many
# in each; one with netns resets one namespace's only; a namespace created
# after the agent started is covered; a new connection in another namespace
# meets a standing reset rule (closed through a sock_diag socket of that
# namespace) and the close names its namespace. --netns PATH covers that
# namespace and no other. The rules match only
# 10.241.0.0/16 port 9417-9418, addresses no namespace but the test's has.
. "$(dirname "$0")/lib.sh"

ADDR=10.241.0.1
setup_env
require_test_net
for n in a b c; do
	add_netns $n
	ip -n "$TAG-$n" addr add "$ADDR/32" dev lo
done
start_agent --netns all

# hold NAME: 4 connections held in namespace NAME, up on return.
hold() {
	rm -f "$TMP/ready-$1"
	in_netns "$1" python3 "$TOP/tests/e2e/netns_holder.py" "$ADDR" 9417 4 "$TMP/ready-$1" &
	ready() { [ -s "$TMP/ready-$1" ]; }
	wait_until 5 ready "$1" || die "the holder in $1 did not start"
}
unhold() { pkill -f "netns_holder.py $ADDR 9417 4 $TMP/ready-$1" || true; }
# open_conns NAME: server-side connections of port 9417 in namespace NAME.
open_conns() {
	nsenter --net="/var/run/netns/$TAG-$1" ss -Htn state established '( sport = :9417 )' | wc -l
}
per_ns() { jget "$1" 'sorted((n.get("netns_name", "?"), n["matched"]) for n in d["namespaces"])'; }

for n in a b c; do hold $n; done
res=$(connctl -j rule add action reset local 10.241.0.0/16 lport 9417 once)
log "$res"
expect_eq "$(jget "$res" 'd["matched"]')" 12 "connections the rule matched"
expect_eq "$(per_ns "$res")" "[('$TAG-a', 4), ('$TAG-b', 4), ('$TAG-c', 4)]" \
	"matches, namespace by namespace"
expect_eq "$(open_conns a) $(open_conns b) $(open_conns c)" "0 0 0" "connections left open"

# netns restricts a rule to one namespace.
for n in a b c; do unhold $n; hold $n; done
res=$(connctl -j rule add action reset local 10.241.0.0/16 lport 9417 \
	netns "/var/run/netns/$TAG-b" once)
log "$res"
expect_eq "$(jget "$res" 'd["matched"]')" 4 "connections a rule with netns matched"
expect_eq "$(open_conns a) $(open_conns b) $(open_conns c)" "4 0 4" \
	"connections left open after it"

# A namespace that came after the agent.
add_netns d
ip -n "$TAG-d" addr add "$ADDR/32" dev lo
hold d
res=$(connctl -j rule add action reset local 10.241.0.0/16 lport 9417 once)
log "$res"
expect_eq "$(per_ns "$res")" "[('$TAG-a', 4), ('$TAG-c', 4), ('$TAG-d', 4)]" \
	"matches, with a namespace added after the agent"
expect_eq "$(open_conns d)" 0 "connections left open in it"

# A new connection in namespace c meets a standing reset rule.
connctl rule add action reset local 10.241.0.0/16 lport 9418 >/dev/null
expect_eq "$(in_netns c python3 "$TOP/tests/e2e/new_conn.py" "$ADDR" 9418)" reset "what a new client in c saw"
expect_eq "$(connctl -j events | jget "$(cat)" '[(e["outcome"], e["lport"], e.get("netns_name")) for e in d][-1]')" \
	"('rst', 9418, '$TAG-c')" "the close, with its namespace"
for n in a b c d; do unhold $n; done

# --netns PATH: that namespace (and the agent's own), no other.
stop_agent
start_agent --netns "/var/run/netns/$TAG-a"
for n in a b; do hold $n; done
res=$(connctl -j rule add action reset local 10.241.0.0/16 lport 9417 once)
expect_eq "$(per_ns "$res")" "[('$TAG-a', 4)]" "matches with --netns PATH"
expect_eq "$(open_conns a) $(open_conns b)" "0 4" "connections left open"
for n in a b; do unhold $n; done
