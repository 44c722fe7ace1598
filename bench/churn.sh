#!/usr/bin/env bash
# No growth (issue 16): COUNT connections opened and closed under the agent,
# by three clients at once: one to a port no rule matches, one to a port a
# standing cancel rule closes, one to a port a standing reset rule resets.
# The agent's tables (connection index, tracked connections), its RSS and
# the BPF maps' memory once the closes settle after a warm-up of 10,000, and
# again after COUNT; then at a peak of PEAK connections held open at once,
# and after they close, in one run. Usage: bench/churn.sh [COUNT] [PEAK]
. "$(dirname "$0")/../tests/e2e/lib.sh"

COUNT=${1:-1000000}
PEAK=${2:-20000}
RATE_PY=$TOP/bench/lib/conn_rate.py

setup_env
start_agent --metrics 9544
connctl rule add action cancel lport 9301 >/dev/null
connctl rule add action reset lport 9302 >/dev/null

metric() { awk -v m="$1" '$1 == m { print $2 }' "$TMP/metrics"; }
maps_kib() {
	local f total=0 b
	for f in "$PIN_DIR"/*; do
		b=$(bpftool -j map show pinned "$f" 2>/dev/null |
			python3 -c 'import json, sys; print(json.load(sys.stdin).get("bytes_memlock", 0))' 2>/dev/null) || continue
		total=$((total + b))
	done
	echo $((total / 1024))
}
# snapshot NAME: the figures now, as NAME=VALUE lines in $TMP/NAME.
snapshot() {
	in_ns_only curl -sf http://127.0.0.1:9544/metrics >"$TMP/metrics" || die "no metrics"
	{
		echo "index=$(metric connctl_index_connections)"
		echo "index_slots=$(metric connctl_index_slots)"
		echo "tracked=$(metric connctl_tracked_connections)"
		echo "tracked_slots=$(metric connctl_tracked_slots)"
		echo "rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$AGENT_PID/status")"
		echo "maps=$(maps_kib)"
		echo "closed=$(awk '$1 ~ /^connctl_connections_closed_total/ { s += $2 } END { print s }' "$TMP/metrics")"
	} >"$TMP/$1"
}
# churn N: N connections in all, a third to each port, at once.
churn() {
	local per=$(($1 / 3)) pids=() p
	for p in 9300 9301 9302; do
		in_ns python3 "$RATE_PY" "$p" 100000 "$per" >"$TMP/rate$p" &
		pids+=($!)
	done
	wait "${pids[@]}"
}

# settled: nothing left in flight (a cancel waits up to 1 s for its owner).
settled() {
	in_ns_only curl -sf http://127.0.0.1:9544/metrics | grep -q '^connctl_tracked_connections 0$'
}

# index_holds N: N connections indexed, once the log is read.
index_holds() {
	read_conn_log
	[ "$(agent_metric 9544 connctl_index_connections)" -eq "$1" ]
}

churn 10000
wait_until 30 settled || die "connections still in flight after the warm-up"
read_conn_log
snapshot before
t0=$(date +%s)
churn "$COUNT"
secs=$(($(date +%s) - t0))
wait_until 30 settled || die "connections still in flight after the churn"
read_conn_log
snapshot after
held=$(grep '^index=' "$TMP/after" | cut -d= -f2)
hold_start 9303:$((PEAK / 2))
wait_until 30 index_holds $((held + PEAK / 2 * 2)) ||
	die "the index holds $(agent_metric 9544 connctl_index_connections), not $((held + PEAK / 2 * 2))"
snapshot peak
hold_stop
wait_until 30 index_holds "$held" ||
	die "the index holds $(agent_metric 9544 connctl_index_connections), not $held as before the peak"
snapshot after_peak

made=$(cat "$TMP"/rate93* | python3 -c 'import json, sys; print(sum(json.loads(l)["connections"] + json.loads(l)["failed"] for l in sys.stdin))')

python3 - "$TMP" "$made" "$secs" "$PEAK" <<'PY'
import sys
def load(name):
    return dict(l.strip().split("=", 1) for l in open(f"{sys.argv[1]}/{name}") if "=" in l)
b, a, p, ap = load("before"), load("after"), load("peak"), load("after_peak")
def ratio(x, y):
    return f"{float(y) / float(x):7.2f}" if float(x) else "      -"
print(f"\nchurn: {int(sys.argv[2]):,} connections opened and closed in {sys.argv[3]} s "
      f"(a third matched by cancel, a third by reset); then {int(sys.argv[4]):,} held at once")
print(f"{'':32} {'after 10,000':>12} {'after all':>10} {'ratio':>7} "
      f"{'at the peak':>12} {'after it':>10} {'ratio':>7}")
rows = [("connection index: connections", "index"), ("connection index: slots", "index_slots"),
        ("tracked connections", "tracked"), ("tracked: slots", "tracked_slots"),
        ("connctld RSS (KiB)", "rss"), ("BPF maps, all pinned (KiB)", "maps"),
        ("connections the agent closed", "closed")]
for label, k in rows:
    print(f"{label:32} {b[k]:>12} {a[k]:>10} {ratio(b[k], a[k])} "
          f"{p[k]:>12} {ap[k]:>10} {ratio(b[k], ap[k])}")
print("(ratios: against after 10,000)")
PY
