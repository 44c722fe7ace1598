#!/usr/bin/env bash
# One reset rule over 3,000 connections held by three processes, among 300
# on another port: the rule's pass (spread over CPUs) reports exactly the
# 3,000 it matched, every one of them is closed when `rule add` returns, and
# the 300 others are all still open.
. "$(dirname "$0")/lib.sh"

setup_env
start_agent
hold_start --per-process 1000 9100:3000 9200:300

out=$(connctl -j rule add action reset lport 9100 once)
expect_eq "$(jget "$out" 'd["matched"]')" 3000 "connections matched"
expect_eq "$(hold_ask alive 9100)" 0 "matched connections still open"
expect_eq "$(hold_ask alive 9200)" 300 "other connections still open"
expect_eq "$(established_count '( sport = :9200 or dport = :9200 )')" 600 \
	"established sockets on the other port (both ends)"
hold_stop
echo ok
