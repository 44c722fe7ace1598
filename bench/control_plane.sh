#!/usr/bin/env bash
# Control plane: rule adds per second over the control socket, from one
# client (in Python, and in C) and from 16 at once, each waiting for its
# reply before the next, then sending all its requests at once (pipelined)
# while reading the replies (rules that match nothing here); then the
# agent's RSS (and its peak once `rule show` has listed every rule) and the
# BPF map memory with RULES rules standing, against the agent with none
# (its peer, in the same run); last, one client again with no state file,
# to show what the fdatasync before each reply costs.
# Usage: bench/control_plane.sh [ADDS] [PIPELINED] [RULES]
. "$(dirname "$0")/../tests/e2e/lib.sh"

ADDS=$(( ${1:-2000} / 16 * 16 ))	# spread evenly over 16 clients
PIPELINED=$(( ${2:-16000} / 16 * 16 ))
RULES=$(( ${3:-100000} / 16 * 16 ))
ADDS_PY=$TOP/bench/lib/rule_adds.py
# The same waiting client in C: what the agent answers in, without Python's
# own 70 us a request.
ADDS_C=$BUILD/clients/rule_adds
# The disk's ceiling for that client: each request written and synced, then
# answered, nothing else; run just before and just after the agent's turn.
ECHO_C=$BUILD/clients/durable_echo
for bin in "$ADDS_C" "$ECHO_C"; do
	[ -x "$bin" ] || make -C "$TOP" --no-print-directory "build/clients/${bin##*/}" >/dev/null ||
		die "cannot build $bin"
done

setup_env
start_agent --max-clients 64

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$AGENT_PID/status"; }
hwm_kib() { awk '/^VmHWM:/ { print $2 }' "/proc/$AGENT_PID/status"; }
# map_kib [NAME...]: memlock of the pinned maps (all when no NAME), in KiB.
map_kib() {
	local f total=0 b
	for f in "$PIN_DIR"/*; do
		[ $# -eq 0 ] || [[ " $* " == *" $(basename "$f") "* ]] || continue
		b=$(bpftool -j map show pinned "$f" 2>/dev/null |
			python3 -c 'import json, sys; print(json.load(sys.stdin).get("bytes_memlock", 0))' 2>/dev/null) || continue
		total=$((total + b))
	done
	echo $((total / 1024))
}
RULE_MAPS="rules rule_lpm rule_index rule_stats rule_tally"

rss0=$(rss_kib)
connctl -j rule show >/dev/null
hwm0=$(hwm_kib)
maps0=$(map_kib)
rmaps0=$(map_kib $RULE_MAPS)
one=$(python3 "$ADDS_PY" "$SOCK" "$ADDS" 1 0)
many=$(python3 "$ADDS_PY" "$SOCK" "$ADDS" 16 "$ADDS")
# durable_echo_rate VAR: the same C client against durable_echo, its file
# beside the state file (the same disk); its adds per second into VAR.
durable_echo_rate() {
	local sock=$TMP/echo.sock out pid
	"$ECHO_C" "$sock" "$(dirname "$STATE_FILE")/echo.journal" &
	pid=$!
	wait_until 5 test -S "$sock" || die "durable_echo did not start"
	out=$("$ADDS_C" "$sock" "$ADDS") || die "rule_adds against durable_echo failed"
	wait "$pid" || die "durable_echo failed"
	printf -v "$1" '%s' "$(jget "$out" 'd["per_second"]')"
}
durable_echo_rate echo_before
one_c=$("$ADDS_C" "$SOCK" "$ADDS" $((2 * ADDS)))
durable_echo_rate echo_after
echo_rate=$(bc -l <<<"($echo_before + $echo_after) / 2")
next=$((3 * ADDS))
one_piped=$(python3 "$ADDS_PY" --pipeline "$SOCK" "$PIPELINED" 1 "$next")
next=$((next + PIPELINED))
many_piped=$(python3 "$ADDS_PY" --pipeline "$SOCK" "$PIPELINED" 16 "$next")
next=$((next + PIPELINED))
rest=$((RULES - next))
[ "$rest" -le 0 ] || python3 "$ADDS_PY" --pipeline "$SOCK" "$rest" 16 "$next" >/dev/null ||
	die "loading $RULES rules failed"
[ "$rest" -ge 0 ] || RULES=$next
rss1=$(rss_kib)
maps1=$(map_kib)
rmaps1=$(map_kib $RULE_MAPS)
show_start=$(date +%s%N)
count=$(connctl -j rule show | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))')
show_ms=$((($(date +%s%N) - show_start) / 1000000))
hwm1=$(hwm_kib)
[ "$count" -eq "$RULES" ] || die "$count rules stand, not $RULES"

# The same waiting client without a state file: what the fdatasync of each
# acknowledged change costs it.
stop_agent
"$CONNCTLD" --uninstall --pin-dir "$PIN_DIR" >/dev/null 2>&1 || true
start_agent --max-clients 64 --state-file ""
one_nodisk=$(python3 "$ADDS_PY" "$SOCK" "$ADDS" 1 0)
one_nodisk_piped=$(python3 "$ADDS_PY" --pipeline "$SOCK" "$PIPELINED" 1 "$ADDS")
one_c_nodisk=$("$ADDS_C" "$SOCK" "$ADDS" $((ADDS + PIPELINED)))

rate() { jget "$1" 'round(d["per_second"])'; }
printf '\ncontrol plane: rule.add over the socket\n'
printf '%-34s %12s %12s\n' clients "waiting" "pipelined"
printf '%-34s %12s %12s\n' "1" "$(rate "$one")" "$(rate "$one_piped")"
printf '%-34s %12s %12s\n' "1, in C (rule_adds.c)" "$(rate "$one_c")" -
printf '%-34s %12.0f %12s\n' "1, in C, to durable_echo (the disk)" "$echo_rate" -
printf '%-34s %12s %12s\n' "16 at once" "$(rate "$many")" "$(rate "$many_piped")"
printf '%-34s %12s %12s\n' "1, no state file (not durable)" "$(rate "$one_nodisk")" \
	"$(rate "$one_nodisk_piped")"
printf '%-34s %12s %12s\n' "1, in C, no state file" "$(rate "$one_c_nodisk")" -
printf '%s %.2f (durable_echo before and after: %.0f and %.0f)\n' \
	"the agent against the disk's ceiling, one waiting client in C:" \
	"$(bc -l <<<"$(jget "$one_c" 'd["per_second"]') / $echo_rate")" "$echo_before" "$echo_after"
printf '\nmemory, no rules (peer) and %d rules standing\n' "$RULES"
printf '%-34s %12s %12s %8s\n' "" "no rules" "$RULES rules" ratio
printf '%-34s %12d %12d %8.2f\n' "connctld RSS (KiB)" "$rss0" "$rss1" "$(bc -l <<<"$rss1 / $rss0")"
printf '%-34s %12d %12d %8.2f\n' "connctld peak RSS, after rule show" "$hwm0" "$hwm1" \
	"$(bc -l <<<"$hwm1 / $hwm0")"
printf '%-34s %12s %12d\n' "rule show of every rule (ms)" - "$show_ms"
printf '%-34s %12d %12d %8.2f\n' "BPF maps, rule maps (KiB)" "$rmaps0" "$rmaps1" \
	"$(bc -l <<<"$rmaps1 / $rmaps0")"
printf '%-34s %12d %12d %8.2f\n' "BPF maps, all pinned (KiB)" "$maps0" "$maps1" \
	"$(bc -l <<<"$maps1 / $maps0")"
