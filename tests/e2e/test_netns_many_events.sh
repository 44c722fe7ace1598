#!/usr/bin/env bash
# A rule whose one pass reports more than the ring buffer holds loses
# nothing when the matches are spread over namespaces: the agent empties the
# ring between the namespaces of the pass. 20 namespaces x 300 idle
# keep-alive connections (6,000 reports; the ring holds about 4,700), one
# `drain once` with --netns all: every client sees EOF, no event is lost,
# and no catch-up sweep walks the namespaces again. The rule matches only
# 10.241.0.0/16, which no namespace but the test's has.
. "$(dirname "$0")/lib.sh"

ADDR=10.241.0.1
ulimit -n 20000
setup_env
require_test_net
add_netns_many 20 "$ADDR"
paths=("${NETNS_PATHS[@]}")
start_agent --netns all --metrics 9551

pairs_start all "$ADDR" 9417 300 "${paths[@]}"
added=$(connctl -j rule add action drain local "$ADDR" lport 9417 once)
pairs_end all
res=$PAIRS_RES
log "$res"
metric() { agent_metric 9551 "$1"; }

expect_eq "$(jget "$added" 'd["matched"]')" 6000 "connections matched in 20 namespaces"
expect_eq "$(jget "$res" 'd["eof"]')" 6000 "clients that saw EOF"
expect_eq "$(metric connctl_events_lost_total)" 0 "kernel events lost"
expect_eq "$(grep -c "events lost" "$AGENT_LOG")" 0 "catch-up sweeps logged"
