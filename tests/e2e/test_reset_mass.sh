#!/usr/bin/env bash
# One reset rule over 3,000 connections held by three processes, among 300
# on another port: the rule's pass (spread over CPUs) reports exactly the
# 3,000 it matched, every one of them is closed when `rule add` returns, and
# the 300 others are all still open. Then a reset of more connections than
# the connection log holds closes: nothing of the log is lost.
. "$(dirname "$0")/lib.sh"

setup_env
start_agent --metrics 9553
metric() { agent_metric 9553 "$1"; }
hold_start --per-process 1000 9100:3000 9200:300

out=$(connctl -j rule add action reset lport 9100 once)
expect_eq "$(jget "$out" 'd["matched"]')" 3000 "connections matched"
expect_eq "$(hold_ask alive 9100)" 0 "matched connections still open"
expect_eq "$(hold_ask alive 9200)" 300 "other connections still open"
expect_eq "$(established_count '( sport = :9200 or dport = :9200 )')" 600 \
	"established sockets on the other port (both ends)"
hold_stop

# 25,000 connections reset at once close 50,000 sockets here: 1.2 MB of
# records for a 1 MiB log. The agent sets them aside as its pass goes, so
# none is lost, and the next rule lists no namespace again.
read_conn_log
listings=$(metric 'connctl_walks_total{for="index"}')
indexed=$(metric connctl_index_connections)
hold_start 9101:25000
out=$(connctl -j rule add action reset lport 9101 once)
expect_eq "$(jget "$out" 'd["matched"]')" 25000 "connections matched"
expect_eq "$(hold_ask alive 9101)" 0 "matched connections still open"
hold_stop
read_conn_log
! grep -q 'records lost' "$AGENT_LOG" || die "the connection log lost records: $(grep 'records lost' "$AGENT_LOG")"
expect_eq "$(metric 'connctl_walks_total{for="index"}')" "$listings" \
	"namespaces listed again after the reset"
expect_eq "$(metric connctl_index_connections)" "$indexed" "connections indexed after the reset"
echo ok
