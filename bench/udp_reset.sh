#!/usr/bin/env bash
# Connected UDP sockets reset: N sockets connected to one server port, all
# matched; the time from the command to its return, when every socket is
# ended (checked: none still connected, the unconnected server socket kept).
# connctl resets them in one udp iterator pass (`rule add ... proto udp
# once`: udp_abort() in the kernel); `ss -K -u` dumps the matching sockets
# with sock_diag and destroys them one request at a time.
# Usage: bench/udp_reset.sh [ROUNDS] [N ...]   (default: 3 1000 10000)
. "$(dirname "$0")/../tests/e2e/lib.sh"

ROUNDS=${1:-3}
shift || true
read -r -a SIZES <<<"${*:-1000 10000}"
PORT=5400
TOOLS=(cli ss)

setup_env
start_agent

tool_name() {
	case $1 in
	cli) echo "connctl rule add (CLI)" ;;
	ss) echo "ss -K -u" ;;
	esac
}

# measure TOOL N: one run, in microseconds, after checking nothing is left.
measure() {
	local tool=$1 n=$2 cmd out
	case $tool in
	cli) cmd=("$CONNCTL_BIN" --socket "$SOCK" rule add action reset proto udp
		rport "$PORT" once) ;;
	ss) cmd=(ss -K -un state established "( dport = :$PORT )") ;;
	esac
	out=$(in_ns python3 "$TOP/bench/lib/udp_holder.py" "$n" "$PORT" "${cmd[@]}")
	[ "$(jget "$out" 'd["alive"]')" -eq 0 ] ||
		die "$tool left $(jget "$out" 'd["alive"]') of $n sockets connected"
	[ "$(jget "$out" 'd["server"]')" = True ] || die "$tool: the server socket is gone"
	jget "$out" 'd["us"]'
}

printf '\nconnected UDP reset: N sockets to one port, all matched; median of %d rounds\n' \
	"$ROUNDS"
printf '%8s %-26s %10s %13s %8s\n' N tool "time (ms)" "us per sock" "vs ss -K"
for n in "${SIZES[@]}"; do
	declare -A med=()
	for tool in "${TOOLS[@]}"; do
		runs=()
		for ((r = 0; r < ROUNDS; r++)); do
			runs+=("$(measure "$tool" "$n")")
		done
		med[$tool]=$(printf '%s\n' "${runs[@]}" | median)
	done
	for tool in "${TOOLS[@]}"; do
		printf '%8d %-26s %10.2f %13.2f %8.2f\n' "$n" "$(tool_name "$tool")" \
			"$(bc -l <<<"${med[$tool]} / 1000")" "$(bc -l <<<"${med[$tool]} / $n")" \
			"$(bc -l <<<"${med[$tool]} / ${med[ss]}")"
	done
	unset med
done
