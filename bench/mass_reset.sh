#!/usr/bin/env bash
# Mass reset: N established loopback connections, all matched, spread over
# processes (8,000 a process); the time from the request to the last socket
# closed. connctl resets them in one tcp iterator pass a CPU (`rule add ...
# once`); `ss -K` dumps the matching sockets with sock_diag and destroys them
# one request at a time. Both are synchronous: when the command returns,
# every socket is closed, which the benchmark then checks.
# Usage: bench/mass_reset.sh [ROUNDS] [N ...]   (default: 3 1000 10000 50000)
. "$(dirname "$0")/../tests/e2e/lib.sh"
. "$(dirname "$0")/lib/reset_tools.bash"

bench_args "$@"
PORT=9100

setup_env
start_agent

# measure TOOL N: one run, in microseconds, after checking what is left
# (check_left).
measure() {
	local tool=$1 n=$2 us alive
	hold_start "$PORT:$n"
	us=$(reset_with "$tool" "$PORT" "$n")
	alive=$(hold_ask alive "$PORT")
	hold_stop
	check_left "$tool" "$n" "$alive"
	echo "$us"
}

printf '\nmass reset: N established loopback connections, all matched; median of %d rounds\n' "$ROUNDS"
printf '%8s %-26s %10s %13s %8s\n' N tool "time (ms)" "us per conn" "vs ss -K"
reset_table
report_ss_left
