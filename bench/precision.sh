#!/usr/bin/env bash
# Precision at scale: 10 matching connections among TOTAL that do not match;
# the time from the request to the 10 closed, connctl (`rule add ... once`,
# one tcp iterator pass a CPU) against `ss -K` with the equivalent filter,
# for several totals, to show how the cost grows. Each measurement resets
# its own 10 (a port of their own); the TOTAL others stay open throughout,
# checked. Usage: bench/precision.sh [ROUNDS] [TOTAL ...]
# (default: 3 1000 10000 50000)
. "$(dirname "$0")/../tests/e2e/lib.sh"
. "$(dirname "$0")/lib/reset_tools.bash"

bench_args "$@"
MATCHING=10

setup_env
start_agent

printf '\nprecision: %d matching connections among TOTAL that do not; median of %d rounds\n' \
	"$MATCHING" "$ROUNDS"
printf '%8s %-26s %10s %13s %8s\n' TOTAL tool "time (ms)" "us per other" "vs ss -K"
for total in "${SIZES[@]}"; do
	groups=("9100:$total")
	for ((i = 0; i < ${#RESET_TOOLS[@]} * ROUNDS; i++)); do
		groups+=("$((9201 + i)):$MATCHING")
	done
	hold_start "${groups[@]}"
	declare -A runs=() med=()
	port=9201
	for ((r = 0; r < ROUNDS; r++)); do
		for tool in "${RESET_TOOLS[@]}"; do
			runs[$tool]+="$(reset_with "$tool" "$port" "$MATCHING") "
			[ "$(hold_ask alive "$port")" -eq 0 ] ||
				die "$tool left some of the $MATCHING open"
			port=$((port + 1))
		done
	done
	others=$(hold_ask alive 9100)
	hold_stop
	[ "$others" -eq "$total" ] || die "only $others of the $total others are still open"
	for tool in "${RESET_TOOLS[@]}"; do
		med[$tool]=$(tr ' ' '\n' <<<"${runs[$tool]}" | grep . | median)
	done
	reset_rows "$total"
	unset runs med
done
