#!/usr/bin/env bash
# Events lost to a full ring buffer (the agent stopped while a flood of new
# connections went on) do not let a connection escape a standing reset rule:
# sockops tags it all the same, cgroup_skb holds it, and the agent, seeing the
# kernel's count of lost events, catches up with one sweep that resets it. The
# loss is logged and counted.
. "$(dirname "$0")/lib.sh"

setup_env
# A long hold: the reset below must come from the agent, not the kernel's bound.
start_agent --held-timeout 60s --metrics 127.0.0.1:9544
connctl rule add action reset lport 8080 >/dev/null
connctl rule add action drain lport 8081 >/dev/null

kill -STOP "$AGENT_PID"
# Each drained connection costs two events (tagged, ended): 1 MiB of ring
# buffer holds 5,461; 12,000 connections overflow it many times over.
made=$(in_ns python3 "$TOP/tests/e2e/flood_conns.py" 127.0.0.1 8081 12000)
expect_eq "$made" 12000 "connections of the flood"

in_ns python3 "$TOP/tests/e2e/held_conn.py" 127.0.0.1 8080 20 >"$TMP/held.json" &
held_pid=$!
held_up() { [ "$(established_count "sport = :8080")" -ge 1 ]; }
wait_until 5 held_up ||
	die "the new connection to 8080 is not established"
kill -CONT "$AGENT_PID"
wait "$held_pid"
res=$(cat "$TMP/held.json")
log "new connection while the events were lost: $res"
expect_eq "$(jget "$res" 'd["client"]')" reset "the client's outcome"
expect_eq "$(jget "$res" 'd["server_got"]')" 0 "bytes that reached the server"
python3 -c "import sys; sys.exit(not $(jget "$res" 'd["after_s"]') < 30)" ||
	die "reset only by the kernel's hold bound, not by the agent"

grep -q "kernel events lost to a full ring buffer" "$AGENT_LOG" ||
	die "the agent did not log the lost events"
lost=$(agent_metric 9544 connctl_events_lost_total)
[ "${lost:-0}" -gt 0 ] || die "connctl_events_lost_total is '$lost'"
log "ok: connctl_events_lost_total = $lost"
show=$(connctl -j rule show 1)
expect_eq "$(jget "$show" 'd[0]["stats"]["closed"]["rst"]')" 1 "resets counted for the rule"
