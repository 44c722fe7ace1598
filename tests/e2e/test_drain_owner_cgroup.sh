#!/usr/bin/env bash
# A drain closes each connection through its owner, found by a walk of the
# file tables of its socket's cgroup's processes, not of every process on
# the host (connctl_owner_walks_total{of="all"} stays 0). A drain across
# many services, each in a cgroup of its own, walks each about once, not
# once a close. An owner that left its sockets' cgroup after making them is
# still found, by a walk of every process: its clients see a FIN all the
# same.
. "$(dirname "$0")/lib.sh"

setup_env
start_agent --metrics 9549
walks() { agent_metric 9549 "connctl_owner_walks_total{of=\"$1\"}"; }

pairs_start home 127.0.0.1 9431 50 "$NETNS_PATH"
connctl rule add action drain lport 9431 once >/dev/null
pairs_end home
expect_eq "$(jget "$PAIRS_RES" 'd["eof"]')" 50 "clients that saw a FIN"
[ "$(walks cgroup)" -ge 1 ] || die "no walk of the cgroup's processes"
expect_eq "$(walks all)" 0 "walks of every process's files"

# 30 services, each a holder of 20 keep-alives in a cgroup of its own.
services=30
before=$(walks cgroup)
for i in $(seq 1 $services); do
	mkdir "$CGROUP/s$i"
	mkfifo "$TMP/s$i.in"
	in_cgroup_netns "$CGROUP/s$i" "$NETNS_PATH" python3 "$TOP/tests/e2e/netns_pairs.py" \
		127.0.0.1 $((9440 + i)) 20 "$NETNS_PATH" <"$TMP/s$i.in" >"$TMP/s$i.out" &
	exec {fd}>"$TMP/s$i.in"
	service_fd[i]=$fd
done
for i in $(seq 1 $services); do
	wait_until 30 grep -q ready "$TMP/s$i.out" || die "service $i is not up"
	echo wait >&"${service_fd[i]}"
done
connctl rule add action drain lport 9441-$((9440 + services)) once >/dev/null
ended() { [ "$(grep -c eof "$TMP/s$1.out")" -ge 1 ]; }
eofs=0
for i in $(seq 1 $services); do
	wait_until 30 ended "$i" || die "service $i's clients did not all end"
	eofs=$((eofs + $(jget "$(tail -n 1 "$TMP/s$i.out")" 'd["eof"]')))
done
expect_eq "$eofs" $((services * 20)) "clients of the $services services that saw a FIN"
walked=$(($(walks cgroup) - before))
log "walks of a cgroup for $services services: $walked"
# One each, and a few again for a close that came within a walk's freshness.
[ "$walked" -le $((services * 3 / 2)) ] || die "$walked walks of a cgroup for $services services"
expect_eq "$(walks all)" 0 "walks of every process's files, across the services"

# The holder makes its sockets here, then moves to a child cgroup.
mkdir "$CGROUP/moved"
pairs_start moved 127.0.0.1 9432 50 "$NETNS_PATH"
holder=$(pgrep -f "netns_pairs.py 127.0.0.1 9432") || die "no holder"
echo "$holder" >"$CGROUP/moved/cgroup.procs"
connctl rule add action drain lport 9432 once >/dev/null
pairs_end moved
expect_eq "$(jget "$PAIRS_RES" 'd["eof"]')" 50 "clients of a moved owner that saw a FIN"
[ "$(walks all)" -ge 1 ] || die "the moved owner was found without a walk of every process"
