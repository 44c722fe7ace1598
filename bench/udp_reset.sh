#!/usr/bin/env bash
# Connected UDP sockets reset: N sockets connected to one server port, all
# matched; the time from the command to its return, when every socket is
# ended (checked: none still connected, the unconnected server socket kept).
# connctl resets them in one udp iterator pass (`rule add ... proto udp
# once`: udp_abort() in the kernel); `ss -K -u` dumps the matching sockets
# with sock_diag and destroys them one request at a time.
# Usage: bench/udp_reset.sh [ROUNDS] [N ...]   (default: 3 1000 10000)
. "$(dirname "$0")/../tests/e2e/lib.sh"
. "$(dirname "$0")/lib/reset_tools.bash"

DEFAULT_SIZES="1000 10000"
bench_args "$@"
RESET_TOOLS=(cli ss)
SS_NAME="ss -K -u"
PORT=5400

setup_env
start_agent

# measure TOOL N: one run, in microseconds, after checking what is left
# (check_left) and that the server's socket is kept.
measure() {
	local tool=$1 n=$2 cmd out
	case $tool in
	cli) cmd=("$CONNCTL_BIN" --socket "$SOCK" rule add action reset proto udp
		rport "$PORT" once) ;;
	ss) cmd=(ss -K -un state established "( dport = :$PORT )") ;;
	esac
	out=$(in_ns python3 "$TOP/bench/lib/udp_holder.py" "$n" "$PORT" "${cmd[@]}")
	check_left "$tool" "$n" "$(jget "$out" 'd["alive"]')"
	[ "$(jget "$out" 'd["server"]')" = True ] || die "$tool: the server socket is gone"
	jget "$out" 'd["us"]'
}

printf '\nconnected UDP reset: N sockets to one port, all matched; median of %d rounds\n' \
	"$ROUNDS"
printf '%8s %-26s %10s %13s %8s\n' N tool "time (ms)" "us per sock" "vs ss -K"
reset_table
report_ss_left
