#!/usr/bin/env bash
# A UDP rule walks only the namespaces that hold a connected UDP socket of
# --cgroup: udp_conns lists each such socket by cookie under its namespace
# as it connects (cgroup/connect) and drops it as it is released
# (cgroup/sock_release); those connected with no hook there (before the
# first agent) are listed by one walk of each namespace at a start. With
# --netns all: sockets from before the start, after it, over IPv6, in a
# namespace born after it and while the agent was stopped are all matched
# (as ss counts them); a socket outside --cgroup is not; an add that
# matches nothing walks only the namespaces listed, and none once the
# sockets are gone, when the map is empty again. The rules match only
# 10.241.0.0/16.
. "$(dirname "$0")/lib.sh"

PEER=$TOP/tests/e2e/udp_peer.py
PEER_ADDR=10.241.0.1
setup_env
require_test_net
# The peer's address on each namespace's lo (nothing serves it: UDP connects all the same).
peer_netns() {
	NETNS_OWN_TABLES=${2:-} add_netns "$1"
	ip -n "$TAG-$1" addr add "$PEER_ADDR/32" dev lo
}
peer_netns a
peer_netns b
peer_netns c 1

# hold NAME N SECS: N connected sockets to the peer from namespace NAME, in the cgroup.
hold() {
	in_netns "$1" python3 "$PEER" hold "$2" "$PEER_ADDR" 9500 "$3" >"$TMP/hold-$1-$2" &
	wait_until 10 grep -q ready "$TMP/hold-$1-$2" || die "no UDP sockets held in $1"
}
# Connected UDP sockets to the peer in namespace NAME, as ss counts them.
ss_count() {
	ip netns exec "$TAG-$1" ss -Hun state established "dst $PEER_ADDR:9500" | wc -l
}
# udp_conns as bpftool dumps it: "SOCKETS NAMESPACES" (key 0 aside), or
# with an inode, the sockets listed under that namespace.
conns_listed() {
	bpftool -j map dump pinned "$PIN_DIR/udp_conns" | python3 -c '
import json, sys
def num(v):
    if isinstance(v, int): return v
    return int.from_bytes(bytes(int(b, 16) for b in v), "little")
rows = [(num(e.get("formatted", e)["key"]), num(e.get("formatted", e)["value"]))
        for e in json.load(sys.stdin)]
socks = [v for k, v in rows if k]
if len(sys.argv) > 1:
    print(socks.count(int(sys.argv[1])))
else:
    print(len(socks), len(set(socks)))' "$@"
}
ino_of() { stat -L -c %i "/var/run/netns/$TAG-$1"; }
metric() { agent_metric 9557 "$1"; }
applies() { metric 'connctl_walks_total{for="apply"}'; }

# Before the agent: 5 in a, and 1 outside the cgroup there (same peer).
hold a 5 60
ip netns exec "$TAG-a" timeout 60 python3 "$PEER" hold 1 "$PEER_ADDR" 9500 60 \
	>"$TMP/outside" &
OUTSIDE=$!
wait_until 10 grep -q ready "$TMP/outside" || die "no outside socket"
expect_eq "$(ss_count a)" 6 "ss: connected in a before the agent"

start_agent --netns all --metrics 9557
wait_until 10 grep -q "connected UDP sockets: listed" "$AGENT_LOG" || die "no start-up listing"
log "$(grep "connected UDP sockets: listed" "$AGENT_LOG")"
marks=$(metric 'connctl_walks_total{for="udp_mark"}')
[ "$marks" -ge 4 ] || die "start-up listing walked $marks namespaces, want every one (>= 4)"
expect_eq "$(conns_listed)" "5 1" "udp_conns after the start: a's 5, not the outside one"
expect_eq "$(conns_listed "$(ino_of a)")" 5 \
	"udp_conns: under a's namespace inode"

# After the start: 3 in b (c's table of its own holds none yet).
hold b 3 60
expect_eq "$(conns_listed)" "8 2" "udp_conns with b's 3 (the connect hook)"
udp_metrics() {
	echo "$(metric connctl_udp_connected_sockets) $(metric connctl_udp_connected_namespaces)" \
		"$(metric connctl_udp_connected_unlisted)"
}
expect_eq "$(udp_metrics)" "8 2 0" "the agent's metrics: sockets, namespaces, unlisted"
# IPv6 (cgroup/connect6): 2 more in b, to [::1], listed and matched; closed, gone.
in_netns b python3 "$PEER" hold 2 ::1 9500 2 >"$TMP/hold-b6" &
wait_until 10 grep -q ready "$TMP/hold-b6" || die "no IPv6 UDP sockets held in b"
expect_eq "$(conns_listed "$(ino_of b)")" 5 "udp_conns: b's 3 and its 2 IPv6 sockets"
dry=$(connctl -j rule add action reset proto udp remote ::1 dry-run)
expect_eq "$(jget "$dry" 'd["matched"]')" 2 "dry run: the IPv6 sockets"
v6_gone() { [ "$(conns_listed)" = "8 2" ]; }
wait_until 10 v6_gone || die "udp_conns after the IPv6 sockets closed: $(conns_listed)"

# An add that matches nothing walks a and b alone, not c, the host's or the test's.
before=$(applies)
res=$(connctl -j rule add action reset proto udp remote 10.241.0.9 once)
expect_eq "$(jget "$res" 'd["matched"]')" 0 "a rule for another peer"
expect_eq "$(($(applies) - before))" 2 "namespaces walked for it"

# A namespace born after the start, 2 there; the dry run finds every one in the cgroup.
peer_netns d
hold d 2 60
dry=$(connctl -j rule add action reset proto udp remote "$PEER_ADDR" dry-run)
expect_eq "$(jget "$dry" 'd["matched"]')" 10 "dry run: a 5, b 3, d 2"
expect_eq "$(( $(ss_count a) + $(ss_count b) + $(ss_count d) ))" 11 \
	"ss: the same 10 and the outside one"

# The reset ends those 10; the socket outside the cgroup stays connected.
outside_port=$(jget "$(cat "$TMP/outside")" 'd["ready"][0]')
res=$(connctl -j rule add action reset proto udp remote "$PEER_ADDR" rport 9500 once)
expect_eq "$(jget "$res" 'd["matched"]')" 10 "reset: matched"
expect_eq "$(jget "$res" 'sorted(n["matched"] for n in d["namespaces"])')" "[2, 3, 5]" \
	"reset: by namespace"
expect_eq "$(ss_count a) $(ss_count b) $(ss_count d)" "1 0 0" "ss: connected after the reset"
expect_eq "$(ip netns exec "$TAG-a" ss -Hun state established "sport = :$outside_port" | wc -l)" 1 \
	"the socket outside --cgroup"

# While the agent is stopped, the pinned hooks go on listing.
stop_agent
hold c 4 60
expect_eq "$(conns_listed "$(ino_of c)")" 4 "udp_conns, agent stopped: c's 4"
start_agent --netns all --metrics 9557
before=$(applies)
dry=$(connctl -j rule add action cancel proto udp remote "$PEER_ADDR" dry-run)
expect_eq "$(jget "$dry" 'd["matched"]')" 4 "dry run after the restart: c's 4"
# a, b, c and d hold sockets still (disconnected ones stay listed until released).
expect_eq "$(($(applies) - before))" 0 "a dry run applies nothing"

# Closed: their entries go with them, and an add walks no namespace at all.
kill "$OUTSIDE"
echo 1 >"$CGROUP/cgroup.kill"
wait_until 10 cgroup_empty || die "holders still running"
conns_empty() { [ "$(conns_listed)" = "0 0" ]; }
wait_until 5 conns_empty || die "udp_conns after the sockets closed: $(conns_listed)"
expect_eq "$(udp_metrics)" "0 0 0" "the agent's metrics, the sockets closed"
before=$(applies)
connctl rule add action reset proto udp remote 10.241.0.9 once >/dev/null
expect_eq "$(($(applies) - before))" 0 "namespaces walked with no connected UDP socket"
