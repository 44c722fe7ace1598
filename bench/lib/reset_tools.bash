# shellcheck shell=bash
# Sourced by the reset benchmarks: the three ways they reset the connections
# a tests/e2e/mass_conns.py holder keeps (see hold_start), and their table.
# A benchmark may narrow RESET_TOOLS, and name ss's command (SS_NAME).
RESET_TOOLS=(cli socket ss)
SS_NAME="ss -K"

# bench_args "$@": ROUNDS, the first argument (3), and SIZES, the others
# (DEFAULT_SIZES, else 1000 10000 50000): connection counts.
bench_args() {
	ROUNDS=${1:-3}
	shift || true
	read -r -a SIZES <<<"${*:-${DEFAULT_SIZES:-1000 10000 50000}}"
}

reset_tool_name() {
	case $1 in
	cli) echo "connctl rule add (CLI)" ;;
	socket) echo "connctl (socket request)" ;;
	ss) echo "$SS_NAME" ;;
	esac
}

# reset_with TOOL PORT [MATCHED]: reset the connections on local PORT, timed
# by the holder; prints microseconds. The agent must report MATCHED, if given.
reset_with() {
	local tool=$1 port=$2 matched=${3:-} us
	case $tool in
	cli)	us=$(hold_ask run "$CONNCTL_BIN" --socket "$SOCK" rule add action reset \
			lport "$port" once) ;;
	socket)	us=$(hold_ask send "$SOCK" \
			'{"op":"rule.add","rule":{"action":"reset","lport":'"$port"',"once":true}}')
		[[ $us == *'"ok":true'* ]] || die "rule.add failed: $us"
		[[ -z $matched || $us == *"\"matched\":$matched,"* ]] ||
			die "rule.add matched other than $matched: $us"
		us=${us%% *} ;;
	ss)	us=$(hold_ask run ss -K -tn state established "( sport = :$port )") ;;
	esac
	echo "$us"
}

ms() { bc -l <<<"$1 / 1000"; }

# reset_table: for each of SIZES, each tool's median of ROUNDS runs of the
# caller's `measure TOOL N` (microseconds), as reset_rows prints them.
reset_table() {
	local n tool r runs
	for n in "${SIZES[@]}"; do
		declare -A med=()
		for tool in "${RESET_TOOLS[@]}"; do
			runs=()
			for ((r = 0; r < ROUNDS; r++)); do
				runs+=("$(measure "$tool" "$n")")
			done
			med[$tool]=$(printf '%s\n' "${runs[@]}" | median)
		done
		reset_rows "$n"
		unset med
	done
}

# reset_rows N: a line a tool from the medians in med[TOOL] (microseconds),
# with the cost per each of N connections and the ratio to ss -K.
reset_rows() {
	local n=$1 tool
	for tool in "${RESET_TOOLS[@]}"; do
		printf '%8d %-26s %10.2f %13.2f %8.2f\n' "$n" "$(reset_tool_name "$tool")" \
			"$(ms "${med[$tool]}")" "$(bc -l <<<"${med[$tool]} / $n")" \
			"$(bc -l <<<"${med[$tool]} / ${med[ss]}")"
	done
}

# check_left TOOL N LEFT: connctl must leave none of N open. ss -K can
# leave a few: it destroys as it dumps, and each part of the dump resumes at
# a position in a hash bucket that its own destroys have shifted. Those are
# counted for report_ss_left, not fatal.
check_left() {
	local tool=$1 n=$2 left=$3
	[ "$left" -eq 0 ] && return 0
	[ "$tool" = ss ] || die "$tool left $left of $n open"
	echo "$n $left" >>"$TMP/ss_left"
}

# report_ss_left: what ss left open, if it left any.
report_ss_left() {
	[ -s "$TMP/ss_left" ] || return 0
	echo "$SS_NAME left some open in some runs:" \
		"$(awk '{ printf "%s%d of %d", sep, $2, $1; sep = ", " }' "$TMP/ss_left");" \
		"connctl left none"
}
