#!/usr/bin/env bash
# Mass reset: N established loopback connections, all matched; time from the
# request to the last socket closed, connctl (`rule add ... once`, one
# iterator pass) against `ss -K` with the equivalent filter, in one run, in a
# namespace of its own. Usage: bench/mass_reset.sh [N] [ROUNDS]
. "$(dirname "$0")/../tests/e2e/lib.sh"

N=${1:-5000}
ROUNDS=${2:-3}
PORT=9100
ulimit -n 20000

setup_env
start_agent

now_ns() { date +%s%N; }

# hold_start: N fresh connections in the namespace; sets HOLD_PID, HOLD_IN, HOLD_OUT.
hold_start() {
	coproc HOLD { in_ns python3 "$TOP/bench/hold_conns.py" "$PORT" "$N"; }
	read -r line <&"${HOLD[0]}"
	[ "$line" = ready ] || die "holder did not start"
}

hold_alive() {
	echo count >&"${HOLD[1]}"
	read -r alive <&"${HOLD[0]}"
	echo "$alive"
}

hold_stop() {
	local pid=$HOLD_PID
	eval "exec ${HOLD[1]}>&-"
	wait "$pid" 2>/dev/null || true
}

measure() {
	local tool=$1 t0 t1 alive
	hold_start
	t0=$(now_ns)
	case $tool in
	connctl) connctl rule add action reset lport "$PORT" once >/dev/null ;;
	ss-K) in_ns_only ss -K -tn state established "( sport = :$PORT )" >/dev/null ;;
	esac
	t1=$(now_ns)
	alive=$(hold_alive)
	hold_stop
	[ "$alive" -eq 0 ] || die "$tool left $alive of $N connections open"
	echo $(((t1 - t0) / 1000))
}

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

declare -a c s
for ((r = 0; r < ROUNDS; r++)); do
	c+=("$(measure connctl)")
	s+=("$(measure ss-K)")
done
cm=$(printf '%s\n' "${c[@]}" | median)
sm=$(printf '%s\n' "${s[@]}" | median)
printf '\nmass reset, %d established connections, median of %d rounds (all closed each time)\n' "$N" "$ROUNDS"
printf '%-10s %12s %12s %8s\n' tool "time (ms)" "per conn (us)" ratio
printf '%-10s %12.2f %12.2f %8.2f\n' connctl "$(bc -l <<<"$cm/1000")" "$(bc -l <<<"$cm/$N")" "$(bc -l <<<"$cm/$sm")"
printf '%-10s %12.2f %12.2f %8.2f\n' "ss -K" "$(bc -l <<<"$sm/1000")" "$(bc -l <<<"$sm/$N")" 1
