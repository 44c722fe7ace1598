#!/usr/bin/env bash
# Connections a cancel rule matches that their clients end first (a reset
# as soon as the answer comes, before the agent closes them): each leaves
# the agent's table of connections it is closing. Before the fix, those
# found closing, or reset between the look and the shutdown, stayed there
# for good, and the table grew with the connections made.
. "$(dirname "$0")/lib.sh"

setup_env
start_agent --metrics 9545
connctl rule add action cancel lport 9301 >/dev/null

tracked() { agent_metric 9545 connctl_tracked_connections; }
settled() { [ "$(tracked)" = 0 ]; }

res=$(in_ns python3 "$TOP/bench/lib/conn_rate.py" 9301 60 3000)
log "$res"
expect_eq "$(jget "$res" 'd["connections"] + d["failed"]')" 3000 "connections made"
wait_until 15 settled || die "$(tracked) connections still tracked 15 s after the last one ended"
closed=$(in_ns_only curl -sf http://127.0.0.1:9545/metrics |
	awk '$1 ~ /^connctl_connections_(closed|ended)_total\{action="cancel"/ { s += $2 } END { print s }')
log "closed or ended first: $closed"
[ "$closed" -ge 1 ] || die "no cancel was counted"
