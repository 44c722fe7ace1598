#!/usr/bin/env bash
# The connection index: random rules (ports, ranges, prefixes, cgroups,
# namespaces) against random connections, some made before the agent
# started, some after, a quarter closed. What each rule matched equals what
# a full look at the same sockets finds, and a rule walks exactly the
# namespaces where it matches more than the index hands over (256): none
# when it matches nothing.
. "$(dirname "$0")/lib.sh"

CHECK=$TOP/tests/e2e/index_check.py

# run_check AGENT_ARGS -- CHECK_ARGS: the check's first connections, the
# agent, the rest; its JSON verdict in RES. The agent's pid is in
# $TMP/agent.pid before the rest.
run_check() {
	local agent_args=() line
	while [ "$1" != -- ]; do agent_args+=("$1"); shift; done
	shift
	coproc CHECK_RUN { in_ns python3 "$CHECK" --connctl "$CONNCTL_BIN" --socket "$SOCK" \
		--agent-ns "$NETNS_PATH" "$@"; }
	read -r -t 120 line <&"${CHECK_RUN[0]}" || die "the check did not start"
	[ "$line" = ready ] || die "the check did not start: $line"
	start_agent "${agent_args[@]}"
	echo "$AGENT_PID" >"$TMP/agent.pid"
	echo go >&"${CHECK_RUN[1]}"
	read -r -t 300 RES <&"${CHECK_RUN[0]}" || die "the check did not finish"
}

expect_verdict() {
	local res=$1 what=$2
	log "$res"
	expect_eq "$(jget "$res" 'd["mismatches"]')" "[]" "$what: rules matching other than a full look"
	expect_eq "$(jget "$res" 'd["walk_mismatches"]')" "[]" \
		"$what: rules walking other namespaces than those they match in"
	[ "$(jget "$res" 'd["connections"]')" -ge 400 ] || die "$what: too few connections"
}

setup_env
require_test_net

# The agent's own namespace: IPv4 over 127.0.0.0/16, IPv6, two cgroups.
run_check --metrics 9540 -- --metrics http://127.0.0.1:9540/metrics \
	--cgroup "$CGROUP" --rules 80 --conns 300 --seed 7 "$NETNS_PATH=127.0.0.0/16"
expect_verdict "$RES" "one namespace"
matched_none=$(grep -c 'matched 0$' "$AGENT_LOG" || true)
[ "$matched_none" -ge 5 ] || die "too few rules matched nothing ($matched_none) to show they walk nothing"

# Deleting a drain rule removes its tags by a walk of the namespaces where
# it matches: none when it matches nothing.
metric() { agent_metric 9540 "$1"; }
untag_walks() { metric 'connctl_walks_total{for="untag"}'; }
before=$(untag_walks)
id=$(connctl -j rule add action drain remote 192.0.2.1 lport 9 | jget "$(cat)" 'd["id"]')
connctl rule del "$id" >/dev/null
expect_eq "$(untag_walks)" "$before" "walks to untag a drain rule that matched nothing"

# The log is read as it fills, with the agent idle: 6,000 pairs opened and
# closed (about 2 MiB of records, twice what the log holds) lose nothing,
# so the next rule lists no namespace again, and the index is back to its
# size.
listings=$(metric 'connctl_walks_total{for="index"}')
indexed=$(metric connctl_index_connections)
in_ns python3 - <<'PY'
import socket, struct
srv = socket.create_server(("127.0.0.1", 9420), backlog=128)
linger = struct.pack("ii", 1, 0)
for _ in range(6000):
    c = socket.create_connection(("127.0.0.1", 9420))
    s, _ = srv.accept()
    for sock in (c, s):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
        sock.close()
PY
expect_eq "$(connctl -j rule add action reset remote 192.0.2.1 lport 9 | jget "$(cat)" 'd["matched"]')" \
	0 "what a rule after the churn matched"
expect_eq "$(metric 'connctl_walks_total{for="index"}')" "$listings" \
	"namespaces listed again after 6,000 pairs with the agent idle"
! grep -q 'records lost' "$AGENT_LOG" || die "the connection log lost records with the agent idle"
expect_eq "$(metric connctl_index_connections)" "$indexed" "connections indexed after the churn"

# A peak closed gives its memory back: 5,000 pairs held at once (10,000
# connections) grow the index; once they are closed, it holds what it held
# before in no more slots than before.
indexed_now() {
	read_conn_log
	[ "$(metric connctl_index_connections)" -eq "$1" ]
}
slots=$(metric connctl_index_slots)
rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$AGENT_PID/status"; }
rss_before=$(rss)
hold_start 9421:5000
wait_until 20 indexed_now $((indexed + 10000)) || die "the index did not take in the 10,000"
peak=$(metric connctl_index_slots)
[ "$peak" -ge 10000 ] || die "the index holds 10,000 connections in $peak slots"
log "index at the peak: $peak slots, agent RSS $(rss) KiB (before: $slots, $rss_before KiB)"
hold_stop
# A connection still closing (FIN_WAIT1, LAST_ACK, CLOSING) is one the index
# holds. Once, in a full run, 20 s was not enough and nothing said why: the
# bound is 60 s, and a failure prints the namespace's sockets by state, to
# tell a slow close from an entry the index kept.
wait_until 60 indexed_now "$indexed" ||
	die "the index still holds $(metric connctl_index_connections) connections, against" \
		"$indexed before the peak; sockets in the namespace by state:" \
		"$(in_ns_only ss -Htan | awk '{ print $1 }' | sort | uniq -c | tr -s ' \n' ' ')"
[ "$(metric connctl_index_slots)" -le "$slots" ] ||
	die "the index kept $(metric connctl_index_slots) slots after the peak, against $slots before"
log "index after the peak: $(metric connctl_index_slots) slots, agent RSS $(rss) KiB"
stop_agent

# --netns all: three namespaces, each its own /24 of 10.241.0.0/16 on lo.
add_netns b
add_netns c
ip -n "$NETNS" addr add 10.241.9.1/24 dev lo
ip -n "$TAG-b" addr add 10.241.1.1/24 dev lo
ip -n "$TAG-c" addr add 10.241.2.1/24 dev lo
run_check --netns all --metrics 9541 -- --metrics http://127.0.0.1:9541/metrics \
	--rules 60 --conns 200 --seed 11 --confine 10.241.0.0/16 \
	"$NETNS_PATH=10.241.9.0/24" "/var/run/netns/$TAG-b=10.241.1.0/24" \
	"/var/run/netns/$TAG-c=10.241.2.0/24"
expect_verdict "$RES" "three namespaces"

# A namespace born after the agent started, which no look has seen yet:
# its connections are in the index from its birth, and a reset rule there
# is applied from the index (SOCK_DESTROY in that namespace).
add_netns late
ip -n "$TAG-late" addr add 10.241.4.1/32 dev lo
pairs_start late 10.241.4.1 9419 20 "/var/run/netns/$TAG-late"
res=$(connctl -j rule add action reset local 10.241.4.1 lport 9419 once)
expect_eq "$(jget "$res" 'd["matched"]')" 20 "connections matched in a namespace born after the start"
pairs_end late
expect_eq "$(jget "$PAIRS_RES" 'd["other"]')" 20 "clients reset in that namespace"
stop_agent

# A log that overflows: the agent stopped while 4,000 pairs are made (8,000
# records, more than its log holds). It lists the namespace again.
STATE_FILE=$TMP/lost/rules.json
run_check --metrics 9543 -- --metrics http://127.0.0.1:9543/metrics \
	--rules 30 --conns 4200 --after 4000 --stop-pid-file "$TMP/agent.pid" --seed 5 \
	"$NETNS_PATH=127.0.0.0/16"
expect_verdict "$RES" "after the log overflowed"
grep -q 'connection log: [0-9]* records lost; listing the namespaces again' "$AGENT_LOG" ||
	die "the agent did not say its log overflowed"
