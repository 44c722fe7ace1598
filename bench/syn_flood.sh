#!/usr/bin/env bash
# A flood of SYNs and of stray segments (ACKs of no connection) from one
# peer over a veth (hping3 from the client namespace, bounded in rate and
# time), while a keep-alive client from another address measures its
# requests/s on another port (wrk). Side by side in one run: no flood; the
# flood with no agent; with a `reset` rule for the peer (sockops resets what
# the SYNs open, tc drops the strays of reset flows); with a `block` rule
# (XDP drops the peer's packets before the stack). With the CPU each used.
#
# One host plays both sides on 2 cores, so the sides are kept apart: the
# flood is sent from CPU 1, nginx and wrk run on CPU 0, and RPS on veth-s
# steers what arrives to CPU 0, as a NIC would hand the server's CPU its
# packets. The legitimate client comes over a veth of its own (a queue of
# its own, as a NIC's RSS would give it): a veth has one receive queue, and
# with XDP on it, a flood's packets queue ahead of the client's. The agent
# is on the interface facing the attacker (--iface veth-s). XDP on a veth
# runs where the packet was sent (CPU 1), before RPS, and converts each
# packet: a real NIC's XDP would cost the server's CPU its (small) share.
# Usage: bench/syn_flood.sh [SECONDS] [PPS]   (PPS: of each kind of segment)
. "$(dirname "$0")/../tests/e2e/lib.sh"

SECONDS_PER_RUN=${1:-5}
PPS=${2:-50000}
ATTACKER=10.99.0.3

[ "$(nproc)" -ge 2 ] || die "needs 2 CPUs: one for the flood, one for the server"
setup_env
setup_veth
ip -n "$CLIENT_NS" addr add "$ATTACKER/24" dev veth-c
# The legitimate client's own namespace and veth.
add_netns legit
ip -n "$NETNS" link add veth-s2 type veth peer name veth-l netns "$TAG-legit"
ip -n "$NETNS" addr add 10.98.0.1/24 dev veth-s2
ip -n "$TAG-legit" addr add 10.98.0.2/24 dev veth-l
ip -n "$NETNS" link set veth-s2 up
ip -n "$TAG-legit" link set veth-l up
NGINX_ADDRS="$NGINX_ADDRS 10.98.0.1"
start_nginx 8080 8081
for pid in $(cat "$CGROUP/cgroup.procs"); do
	taskset -pc 0 "$pid" >/dev/null
done
ip netns exec "$NETNS" sh -c 'echo 1 >/sys/class/net/veth-s/queues/rx-0/rps_cpus' ||
	die "cannot steer veth-s's packets to CPU 0 (RPS)"

# busy_jiffies: all CPUs' non-idle time so far, and the softirq part.
busy_jiffies() {
	awk '/^cpu / { print $2 + $3 + $4 + $7 + $8, $8 }' /proc/stat
}

# flood_start: SYNs to 8080 and ACKs to 8081 from the attacker, PPS each,
# for the run (and a second either side); hping3 reports what it sent.
flood_start() {
	local gap=$((1000000 / PPS)) secs=$((SECONDS_PER_RUN + 2))
	in_client taskset -c 1 timeout -s INT "$secs" hping3 -q -a "$ATTACKER" -S -p 8080 \
		-i "u$gap" 10.99.0.1 >"$TMP/flood_syn.out" 2>&1 &
	FLOODS=($!)
	in_client taskset -c 1 timeout -s INT "$secs" hping3 -q -a "$ATTACKER" -A -p 8081 \
		-i "u$gap" 10.99.0.1 >"$TMP/flood_ack.out" 2>&1 &
	FLOODS+=($!)
	sleep 1
}

# flood_gone: no hping3 of ours is left.
flood_gone() {
	local p
	for p in $(cat "$CLIENT_CG/cgroup.procs"); do
		[ "$(cat "/proc/$p/comm" 2>/dev/null)" = hping3 ] && return 1
	done
	return 0
}

# flood_stop: the flood over; prints the packets it sent a second.
flood_stop() {
	wait "${FLOODS[@]}" 2>/dev/null || true
	FLOODS=()
	wait_until 5 flood_gone || die "hping3 still running"
	cat "$TMP/flood_syn.out" "$TMP/flood_ack.out" |
		awk -v s=$((SECONDS_PER_RUN + 2)) '/packets transmitted/ { n += $1 } END { printf "%d", n / s }'
}

# measure FLOOD: "REQUESTS_PER_S CPU_PERCENT SOFTIRQ_PERCENT FLOOD_PPS" of one run.
measure() {
	local rps b0 s0 b1 s1 hz ncpu pps=0
	[ "$1" = flood ] && flood_start
	read -r b0 s0 <<<"$(busy_jiffies)"
	rps=$(in_netns legit taskset -c 0 wrk -t1 -c10 -d"${SECONDS_PER_RUN}s" \
		http://10.98.0.1:8081/small |
		awk '/^Requests\/sec:/ { print $2 }')
	read -r b1 s1 <<<"$(busy_jiffies)"
	[ "$1" = flood ] && pps=$(flood_stop)
	hz=$(getconf CLK_TCK)
	ncpu=$(nproc)
	echo "$rps $(bc -l <<<"($b1 - $b0) * 100 / ($hz * $SECONDS_PER_RUN * $ncpu)") \
$(bc -l <<<"($s1 - $s0) * 100 / ($hz * $SECONDS_PER_RUN * $ncpu)") $pps"
}

measure none >/dev/null	# nginx and wrk warmed up
read -r base1 base_cpu base_si _ <<<"$(measure none)"
read -r bare bare_cpu bare_si bare_pps <<<"$(measure flood)"
start_agent --iface veth-s
connctl rule add action reset remote "$ATTACKER" >/dev/null
read -r tc tc_cpu tc_si tc_pps <<<"$(measure flood)"
connctl rule del 1 >/dev/null
connctl rule add action block remote "$ATTACKER" >/dev/null
read -r xdp xdp_cpu xdp_si xdp_pps <<<"$(measure flood)"
blocked=$(connctl -j rule show 2 | jget "$(cat)" 'd[0]["stats"]["blocked"]["packets"]')
[ "$blocked" -gt 0 ] || die "XDP blocked nothing"
# ip's XDP modes: 1 the driver's (native), 2 generic.
mode=$(in_ns_only ip -j -d link show dev veth-s |
	jget "$(cat)" '{1: "native", 2: "generic"}.get(d[0]["xdp"]["mode"], "other")')
stop_agent
in_ns_only "$CONNCTLD" --uninstall --pin-dir "$PIN_DIR" >/dev/null 2>&1 || die "uninstall failed"
read -r base2 _ _ _ <<<"$(measure none)"
base=$(bc -l <<<"($base1 + $base2) / 2")

printf '\nSYN and stray-ACK flood from %s over a veth (hping3, %d pps asked of each)\n' \
	"$ATTACKER" "$PPS"
printf 'keep-alive requests from 10.98.0.2 (a veth of its own) to another port, wrk -t1 -c10, %ss a run;\n' \
	"$SECONDS_PER_RUN"
printf 'CPU of both cores; the flood sent from CPU 1, nginx, wrk and RPS on CPU 0\n'
printf '%-44s %10s %7s %9s %7s %9s\n' "" "requests/s" ratio "flood pps" "CPU %" "softirq %"
row() {
	printf '%-44s %10.0f %7.2f %9s %7.1f %9.1f\n' "$1" "$2" "$(bc -l <<<"$2 / $base")" \
		"$5" "$3" "$4"
}
row "no flood (mean of before and after)" "$base" "$base_cpu" "$base_si" -
row "  before" "$base1" "$base_cpu" "$base_si" -
row "  after" "$base2" "$base_cpu" "$base_si" -
row "flood, no agent" "$bare" "$bare_cpu" "$bare_si" "$bare_pps"
row "flood, reset rule (sockops, tc)" "$tc" "$tc_cpu" "$tc_si" "$tc_pps"
row "flood, block rule (XDP, $mode mode)" "$xdp" "$xdp_cpu" "$xdp_si" "$xdp_pps"
printf 'packets XDP dropped for the block rule: %s\n' "$blocked"
