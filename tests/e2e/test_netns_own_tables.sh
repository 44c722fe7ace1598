#!/usr/bin/env bash
# Namespaces with TCP and UDP hash tables of their own (a host that sets
# net.ipv4.tcp_child_ehash_entries for its containers) are covered as those
# on the host's shared table are: three of each kind, the agent given all six
# (--netns PATH), 50 idle keep-alive pairs in each before it starts and 20
# more after. Its start-up listing counts the namespaces on the shared table
# (connctl_index_listings_shared_total, and a hint in its log); the later
# pairs come from the connection log in both kinds, with no listing again;
# one drain matches 70 in each namespace and every client sees EOF; a UDP
# reset ends a connected UDP socket in a namespace of each kind. The rules
# match only 10.241.0.0/16, which no namespace but the test's has.
. "$(dirname "$0")/lib.sh"

ADDR=10.241.0.1
setup_env
require_test_net
paths=() args=()
for i in 1 2 3; do
	add_netns "s$i"
	NETNS_OWN_TABLES=1 add_netns "o$i"
done
for name in s1 s2 s3 o1 o2 o3; do
	ip -n "$TAG-$name" addr add "$ADDR/32" dev lo
	paths+=("/var/run/netns/$TAG-$name")
	args+=(--netns "/var/run/netns/$TAG-$name")
done
# The setup itself: what the kernel says of each kind's table.
own=$(ip netns exec "$TAG-o1" sysctl -n net.ipv4.tcp_ehash_entries)
shared=$(ip netns exec "$TAG-s1" sysctl -n net.ipv4.tcp_ehash_entries)
[ "$own" = 1024 ] && [ "${shared:0:1}" = - ] ||
	die "tables not as made: own $own, shared $shared"

pairs_start early "$ADDR" 9417 50 "${paths[@]}"
start_agent "${args[@]}" --metrics 9556
metric() { agent_metric 9556 "$1"; }
wait_until 30 grep -q "connection index:" "$AGENT_LOG" || die "no connection index"

# Three namespaces and the agent's own (made by ip netns, on the host's table).
expect_eq "$(metric connctl_index_listings_shared_total)" 4 "listings on the shared table"
expect_eq "$(metric 'connctl_walks_total{for="index"}')" 7 "namespaces listed at the start"
expect_eq "$(grep -c '4 of these namespaces share the host.s TCP hash table' "$AGENT_LOG")" 1 \
	"the hint in the agent's log"

pairs_start late "$ADDR" 9418 20 "${paths[@]}"
added=$(connctl -j rule add action drain local "$ADDR" lport 9417-9418 once)
pairs_end early
early=$PAIRS_RES
pairs_end late
late=$PAIRS_RES
log "$early" "$late"
expect_eq "$(jget "$added" 'd["matched"]')" 420 "connections matched in 6 namespaces"
expect_eq "$(jget "$added" 'sorted(n["matched"] for n in d["namespaces"])')" \
	"[70, 70, 70, 70, 70, 70]" "matched in each namespace"
expect_eq "$(jget "$early" 'd["eof"]')" 300 "clients of before the agent that saw EOF"
expect_eq "$(jget "$late" 'd["eof"]')" 120 "clients of after its start that saw EOF"
expect_eq "$(metric 'connctl_walks_total{for="index"}')" 7 "namespaces listed after the start"
expect_eq "$(metric connctl_index_listings_shared_total)" 4 "listings on the shared table, after"

# UDP walks each namespace's own UDP table: an echo server and a connected
# client in a namespace of each kind, then a reset of both clients.
PEER=$TOP/tests/e2e/udp_peer.py
for name in s1 o1; do
	in_netns "$name" python3 "$PEER" echo 9419 "$ADDR" >/dev/null &
	udp_listening() { [ -n "$(ip netns exec "$TAG-$name" ss -Huln "sport = :9419")" ]; }
	wait_until 10 udp_listening || die "no UDP server in $name"
	in_netns "$name" python3 "$PEER" client "$ADDR" 9419 20 >"$TMP/udp-$name" &
done
udp_ready() { grep -q ready "$TMP/udp-$1"; }
wait_until 10 udp_ready s1 && wait_until 10 udp_ready o1 || die "UDP clients are not up"
added=$(connctl -j rule add action reset proto udp remote "$ADDR" rport 9419 once)
expect_eq "$(jget "$added" 'd["matched"]')" 2 "connected UDP sockets matched"
expect_eq "$(jget "$added" 'sorted(n.get("netns_name") for n in d["namespaces"])')" \
	"['$TAG-o1', '$TAG-s1']" "their namespaces"
