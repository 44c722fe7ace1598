#!/usr/bin/env bash
# Drain delay: N keep-alive clients each make one request, then sit idle; the
# time from the ACK that completes each response to the server's FIN, read
# from one packet capture. connctl (`drain lport A quiet Q`) against nginx
# closing idle keep-alives itself (`keepalive_timeout Q` on port B), side by
# side in one run. Usage: bench/drain_delay.sh [N] [QUIET_MS]
. "$(dirname "$0")/../tests/e2e/lib.sh"

N=${1:-200}
QUIET_MS=${2:-100}
ulimit -n 20000

setup_env
# nginx itself closes idle keep-alives on 8081 after the same quiet period.
start_nginx 8080 "8081:${QUIET_MS}ms"
start_agent
connctl rule add action drain lport 8080 quiet "${QUIET_MS}ms" >/dev/null
start_capture "tcp port 8080 or tcp port 8081"

clients=()
for port in 8080 8081; do
	in_ns python3 "$CLIENTS_PY" idle --to "127.0.0.1:$port" --path /small --count "$N" \
		--idle 0 --deadline 10 -- true >"$TMP/idle-$port.json" &
	clients+=($!)
done
wait "${clients[@]}"
stop_capture 2>/dev/null || true

# The rule stood before any client came: every close is timed from its final ACK.
echo 0 >"$TMP/rule-times"
for port in 8080 8081; do
	tcpdump -r "$TMP/cap.pcap" -tt -nn 2>/dev/null |
		python3 "$TOP/bench/lib/drain_delays.py" "$port" "$TMP/rule-times" >"$TMP/delays-$port.json"
done
python3 - "$TMP" "$QUIET_MS" <<'PY'
import json, sys
tmp, quiet = sys.argv[1], float(sys.argv[2])
def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(p / 100 * len(v)))]
print(f"drain delay: last ACK of the response to the server FIN, ms (quiet {quiet:g} ms)")
print("%-34s%6s%9s%9s%9s%11s" % ("", "n", "p50", "p99", "max", "p50-quiet"))
rows = []
for name, port in (("connctl drain quiet", 8080), ("nginx keepalive_timeout", 8081)):
    d = json.load(open(f"{tmp}/delays-{port}.json"))
    v = d["in_flight_ms"]
    if not v or d["after_request"]:
        sys.exit(f"{name}: {len(v)} closes timed, {d['after_request']} after a request")
    rows.append(v)
    print("%-34s%6d%9.1f%9.1f%9.1f%11.1f" % (name, len(v), pct(v, 50), pct(v, 99),
                                             max(v), pct(v, 50) - quiet))
c, n = rows
print("%-34s%6s%9.2f%9.2f%9.2f" % ("ratio connctl / nginx", "", pct(c, 50) / pct(n, 50),
                                   pct(c, 99) / pct(n, 99), max(c) / max(n)))
PY
