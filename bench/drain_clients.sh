#!/usr/bin/env bash
# Ending keep-alive connections under real clients, connctl beside the other
# ways, in one run. Clients no one here wrote, each on a server port of its
# own, 4 connections each: python requests and urllib3, Go net/http, curl,
# ab -k, wrk (HTTP/1.1 to nginx, 16 KiB answers), h2load (HTTP/2 to nginx),
# redis-cli (GET loops to redis). Scenarios: busy (the next request as soon
# as an answer arrives), think 20 ms, think 200 ms, and a long download
# (1 MiB at 200 KiB/s). Each round ends the connections 1 s in (and once
# every client holds its connections: python's take longer to start), by:
#   drain        connctl rule add action drain ... once (default settings)
#   reset once   connctl rule add action reset ... once
#   cancel once  connctl rule add action cancel ... once
#   ss -K        ss -K on the same ports
#   server       nginx -s reload; redis CLIENT KILL TYPE normal
# One table per client and scenario: answers complete, client errors by
# kind, truncated bodies, how the connections ended (from a capture: the
# server's FIN first, an RST the client could see, the client closing
# first), when (ms after the action), and the connections whose last request
# met the FIN; only the connections open when the action came are counted.
# lo runs at MTU 1500, as an Ethernet path segments answers.
#
# Usage: bench/drain_clients.sh [SCENARIO...]
. "$(dirname "$0")/../tests/e2e/lib.sh"

SCENARIOS=${*:-busy think20 think200 download}
MECHS="drain reset cancel ss-K server"
HTTP_PORTS="8081 8082 8083 8084 8085 8086 8087"
ulimit -n 20000

setup_env
in_ns_only ip link set lo mtu 1500
NGINX_H2_PORTS=8087 start_nginx $HTTP_PORTS
in_ns redis-server --port 6379 --save '' --appendonly no --bind 127.0.0.1 \
	>"$TMP/redis.log" 2>&1 &
wait_until 10 port_listening 6379 || die "redis did not start"
in_ns_only redis-cli -p 6379 SET k hello >/dev/null
start_agent

mech_cmd() {	# the command that ends the connections, as a script
	local rule="$CONNCTL_BIN --socket $SOCK rule add"
	case $1 in
	drain | reset | cancel)
		echo "$rule action $1 lport 8081-8087 once && $rule action $1 lport 6379 once" ;;
	ss-K)
		echo "ss -K -tn state established '( sport >= :8081 and sport <= :8087 ) or sport = :6379'" ;;
	server)
		echo "nginx -s reload -c $TMP/nginx/nginx.conf 2>/dev/null; redis-cli -p 6379 CLIENT KILL TYPE normal" ;;
	esac
}

for scenario in $SCENARIOS; do
	for mech in $MECHS; do
		seconds=3
		[ "$scenario" = download ] && seconds=1.5
		echo "$(mech_cmd "$mech")" >"$TMP/mech.sh"
		# A deep buffer: busy rounds carry a lot, and a dropped FIN would mislead.
		CAPTURE_SNAP="-s 96 -B 262144" start_capture "tcp port 6379 or portrange 8081-8087"
		in_ns python3 "$TOP/bench/lib/drain_clients.py" --scenario "$scenario" \
			--top "$TOP" --tmp "$TMP" --seconds "$seconds" -- sh "$TMP/mech.sh" \
			>"$TMP/$scenario-$mech.json" || die "round $scenario $mech failed"
		stop_capture
		echo "$CAPTURE_DROPPED" >"$TMP/$scenario-$mech.dropped"
		at=$(jget "$(cat "$TMP/$scenario-$mech.json")" 'd["at"]')
		for port in 6379 $HTTP_PORTS; do
			python3 "$TOP/tests/e2e/pcap_ends.py" "$TMP/cap.pcap" "$port" --since "$at" --existing \
				--until "$(python3 -c "print($at + 7)")" >"$TMP/$scenario-$mech-$port.ends"
		done
		# A rule left by a mechanism that failed would spill into the next round.
		connctl -j rule show | jget "$(cat)" 'len(d)' | grep -qx 0 ||
			die "rules left standing after $scenario $mech"
	done
done

python3 - "$TMP" "$SCENARIOS" "$MECHS" <<'PY'
import json, sys
tmp, scenarios, mechs = sys.argv[1], sys.argv[2].split(), sys.argv[3].split()

def pct(v, p):
    return v[min(len(v) - 1, int(p / 100 * len(v)))] if v else None

def ms(v):
    return "-" if v is None else f"{v:.0f}" if v >= 10 else f"{v:.1f}"

print("\nEnding 4 keep-alive connections a client, 1 s into each round "
      "(MTU 1500; see bench/drain_clients.sh)")
for scenario in scenarios:
    rounds = {m: json.load(open(f"{tmp}/{scenario}-{m}.json")) for m in mechs}
    for m in mechs:
        dropped = int(open(f"{tmp}/{scenario}-{m}.dropped").read())
        if dropped:
            print(f"\n{scenario}, {m}: the capture dropped {dropped} packets: "
                  "its FIN, RST and end counts are short")
        if rounds[m]["not_connected"]:
            print(f"\n{scenario}, {m}: not all connected after 10 s, the action came anyway: "
                  + ", ".join(rounds[m]["not_connected"]))
    for client in rounds[mechs[0]]["clients"]:
        print(f"\n{client}, {scenario}")
        print("%-8s %7s %-28s %5s %4s %4s %6s %8s %8s %5s %9s" % (
            "", "ok", "client errors", "trunc", "FIN", "RST", "client", "end p50",
            "end max", "met", "FIN-ACK"))
        for m in mechs:
            c = rounds[m]["clients"][client]
            e = json.load(open(f"{tmp}/{scenario}-{m}-{c['port']}.ends"))
            errs = ", ".join(f"{k} {v}" for k, v in sorted(c["errors"].items())) or "0"
            ends = e["end_ms"]
            fa = e["fin_after_ack_ms"]
            print("%-8s %7d %-28s %5d %4d %4d %6d %8s %8s %5d %9s" % (
                m, c["ok"], errs[:28], c["truncated"], e["ends"]["fin"], e["rst_seen"],
                e["ends"]["client_fin"], ms(pct(ends, 50)), ms(max(ends) if ends else None),
                e["met_fin"], ms(pct(fa, 99)) if fa else "-"))
print("""
ok: answers complete; trunc: bodies cut short; FIN: connections the
server ended with a FIN; RST: connections that met an RST from the server
before closing themselves; client: connections the client closed first;
end: ms from the action to each end; met: connections whose last request
met the FIN unanswered; FIN-ACK: p99 ms from the ACK of a whole answer to
the FIN, where that ACK came alone (reset and ss -K send no FIN).""")
PY
