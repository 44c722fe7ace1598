#!/usr/bin/env bash
# The index's first listing, at the start and again after the connection
# log lost records, walks the namespace while connections come and go. One
# that closes after the walk passed it, or opens after the walk passed its
# bucket, is known by its record alone: the index must take those records
# in, not drop them as it drops what the log said before the walk. With
# 20,000 connections standing (a walk of about 75 ms here) and pairs opened
# throughout, each closed 30 ms later but every tenth, the index holds
# exactly the connections ss shows, and none once they are all closed.
. "$(dirname "$0")/lib.sh"

CHURN_PY=$TOP/tests/e2e/churn_window.py
metric() { agent_metric 9546 "$1"; }

# The namespace's connections, by ss: the states the index holds.
connections_now() {
	in_ns_only ss -Htan state established state fin-wait-1 state fin-wait-2 \
		state close-wait state last-ack state closing | wc -l
}

index_is() {
	read_conn_log
	[ "$(metric connctl_index_connections)" -eq "$1" ]
}

# Once the log is read, the index holds what ss shows (LIVE). A scrape is
# a connection too, so a look may count its own pair: looked at again.
index_is_live() {
	LIVE=$(connections_now)
	index_is "$LIVE"
}

# index_agrees WHAT
index_agrees() {
	wait_until 10 index_is_live ||
		die "$1: the index holds $(metric connctl_index_connections) connections," \
			"ss shows $(connections_now)"
	log "$1: the index and ss agree: $LIVE connections"
}

# churn_start NAME PORT: pairs opening and closing in the namespace, up.
churn_start() {
	in_ns python3 "$CHURN_PY" "$2" 4 30 10 </dev/null >"$TMP/churn-$1.out" &
	wait_until 30 grep -q running "$TMP/churn-$1.out" || die "churn did not start"
	CHURN_PID=$(awk '$1 == "running" { print $2 }' "$TMP/churn-$1.out")
}

# churn_done NAME: it stopped opening; the pairs it keeps stay open.
churn_done() {
	wait_until 60 grep -q done "$TMP/churn-$1.out" || die "churn did not end"
	KEPT=$(awk '$1 == "done" { print $2 }' "$TMP/churn-$1.out")
}

churn_gone() { ! kill -0 "$CHURN_PID" 2>/dev/null; }

# churn_stop: killed, its pairs closed by the kernel.
churn_stop() {
	kill "$CHURN_PID"
	wait_until 10 churn_gone || die "churn did not stop"
}

setup_env
hold_start 9421:10000

# 1. The listing at the start.
churn_start start 9431
start_agent --metrics 9546
churn_done start
index_agrees "listed at the start, connections coming and going"
[ "$(connections_now)" -eq $((20000 + 2 * KEPT)) ] ||
	die "$(connections_now) connections, not the 20,000 held and $KEPT pairs kept"
churn_stop

# 2. The listing after the log lost records: the agent stopped while 6,000
# pairs (about 2 MiB of records, twice what the log holds) come and go, then
# woken while the churn runs, and a rule makes it read the log.
kill -STOP "$AGENT_PID"
in_ns python3 "$TOP/tests/e2e/flood_conns.py" 127.0.0.1 9432 6000 >/dev/null
churn_start loss 9433
kill -CONT "$AGENT_PID"
read_conn_log
churn_done loss
grep -q 'records lost; listing the namespaces again' "$AGENT_LOG" ||
	die "the log lost no record: the listing after a loss was not tried"
index_agrees "listed again after a loss, connections coming and going"
churn_stop

hold_stop
wait_until 60 index_is 0 ||
	die "the index still holds $(metric connctl_index_connections) connections after" \
		"they all closed; ss shows $(connections_now)"
