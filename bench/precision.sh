#!/usr/bin/env bash
# Precision at scale: 10 matching connections among TOTAL that do not match;
# the time from the request to the 10 closed, connctl (`rule add ... once`,
# one tcp iterator pass) against `ss -K` with the equivalent filter, for
# several totals, to show how the cost grows. Each measurement resets its own
# 10 (a port of their own); the TOTAL others stay open throughout, checked.
# Usage: bench/precision.sh [ROUNDS] [TOTAL ...]   (default: 3 1000 10000 50000)
. "$(dirname "$0")/../tests/e2e/lib.sh"

ROUNDS=${1:-3}
shift || true
TOTALS=("${@:-1000 10000 50000}")
read -r -a TOTALS <<<"${TOTALS[*]}"
MATCHING=10
TOOLS=(cli socket ss)

ms() { bc -l <<<"$1 / 1000"; }

setup_env
start_agent

# measure TOOL PORT: one run against the 10 on PORT, in microseconds.
measure() {
	local tool=$1 port=$2 us
	case $tool in
	cli)	us=$(hold_ask run "$CONNCTL_BIN" --socket "$SOCK" rule add action reset \
			lport "$port" once) ;;
	socket)	us=$(hold_ask send "$SOCK" '{"op":"rule.add","rule":{"action":"reset","lport":'"$port"',"once":true}}')
		[[ $us == *'"matched":'$MATCHING* ]] || die "rule.add: $us"
		us=${us%% *} ;;
	ss)	us=$(hold_ask run ss -K -tn state established "( sport = :$port )") ;;
	esac
	[ "$(hold_ask alive "$port")" -eq 0 ] || die "$tool left some of the $MATCHING open"
	echo "$us"
}

printf '\nprecision: %d matching connections among TOTAL that do not; median of %d rounds\n' \
	"$MATCHING" "$ROUNDS"
printf '%8s %-26s %10s %20s %8s\n' TOTAL tool "time (ms)" "per 1k others (us)" "vs ss -K"
for total in "${TOTALS[@]}"; do
	groups=("9100:$total")
	for ((i = 0; i < ${#TOOLS[@]} * ROUNDS; i++)); do
		groups+=("$((9201 + i)):$MATCHING")
	done
	hold_start "${groups[@]}"
	declare -A runs=() med=()
	port=9201
	for ((r = 0; r < ROUNDS; r++)); do
		for tool in "${TOOLS[@]}"; do
			runs[$tool]+="$(measure "$tool" "$port") "
			port=$((port + 1))
		done
	done
	others=$(hold_ask alive 9100)
	hold_stop
	[ "$others" -eq "$total" ] || die "only $others of the $total others are still open"
	for tool in "${TOOLS[@]}"; do
		med[$tool]=$(tr ' ' '\n' <<<"${runs[$tool]}" | grep . | median)
	done
	for tool in "${TOOLS[@]}"; do
		case $tool in
		cli) name="connctl rule add (CLI)" ;;
		socket) name="connctl (socket request)" ;;
		ss) name="ss -K" ;;
		esac
		printf '%8d %-26s %10.2f %20.1f %8.2f\n' "$total" "$name" "$(ms "${med[$tool]}")" \
			"$(bc -l <<<"${med[$tool]} * 1000 / $total")" \
			"$(bc -l <<<"${med[$tool]} / ${med[ss]}")"
	done
	unset runs med
done
