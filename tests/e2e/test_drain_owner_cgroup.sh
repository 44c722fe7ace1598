#!/usr/bin/env bash
# A drain closes each connection through its owner, found by a walk of the
# file tables of its socket's cgroup's processes, not of every process on
# the host (connctl_owner_walks_total{of="all"} stays 0). An owner that left
# that cgroup after making its sockets is still found, by a walk of every
# process: its clients see a FIN all the same.
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

# The holder makes its sockets here, then moves to a child cgroup.
mkdir "$CGROUP/moved"
pairs_start moved 127.0.0.1 9432 50 "$NETNS_PATH"
holder=$(pgrep -f "netns_pairs.py 127.0.0.1 9432") || die "no holder"
echo "$holder" >"$CGROUP/moved/cgroup.procs"
connctl rule add action drain lport 9432 once >/dev/null
pairs_end moved
expect_eq "$(jget "$PAIRS_RES" 'd["eof"]')" 50 "clients of a moved owner that saw a FIN"
[ "$(walks all)" -ge 1 ] || die "the moved owner was found without a walk of every process"
