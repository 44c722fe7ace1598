#!/usr/bin/env bash
# Drain under load: 100 keep-alive clients on each of two nginx ports make
# request after request (50 ms apart), checking every response. Every half
# second `drain lport 8080 quiet 0 once` drains the connections open on 8080
# (the clients reopen); the 100 on 8081 run without any rule: the peer, in
# the same run. Reported, from one packet capture: for connections with a
# response in flight when the rule came, the delay from its final ACK to the
# server's FIN; for idle ones, from the rule to the FIN; and what the clients
# saw on each port. Usage: bench/drain_busy.sh [CLIENTS] [ROUNDS]
. "$(dirname "$0")/../tests/e2e/lib.sh"

CLIENTS=${1:-100}
ROUNDS=${2:-6}
THINK=0.05
ulimit -n 20000

setup_env
start_nginx 8080 8081
start_agent
start_capture "tcp port 8080"

digest=$(sha256 "$TMP/www/small")
load() {	# load PORT CMD...
	local port=$1
	shift
	in_ns python3 "$CLIENTS_PY" load --to "127.0.0.1:$port" --path /small --count "$CLIENTS" \
		--sha256 "$digest" --seconds 1 --pause "$THINK" --pause-chance 1 \
		-- "$@" >"$TMP/load-$port.json"
}
cat >"$TMP/rounds.sh" <<ROUNDS
for i in \$(seq $ROUNDS); do
	sleep 0.5
	date +%s.%N >>"$TMP/rule-times"
	"$CONNCTL_BIN" --socket "$SOCK" -j rule add action drain lport 8080 quiet 0 once \
		>>"$TMP/adds.jsonl" || exit 1
done
ROUNDS
load 8080 sh "$TMP/rounds.sh" &
drained=$!
load 8081 sleep "$((ROUNDS / 2 + 1))" &
peer=$!
wait "$drained" "$peer"
stop_capture

tcpdump -r "$TMP/cap.pcap" -tt -nn 2>/dev/null |
	python3 "$TOP/bench/lib/drain_delays.py" 8080 "$TMP/rule-times" >"$TMP/delays.json"
python3 - "$TMP" "$CLIENTS" "$ROUNDS" <<'PY'
import json, sys
tmp, clients, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
d = json.load(open(tmp + "/delays.json"))
drained = json.load(open(tmp + "/load-8080.json"))
peer = json.load(open(tmp + "/load-8081.json"))
if drained["cmd"]["rc"] != 0:
    sys.exit("a rule add failed: " + drained["cmd"]["stderr"])
matched = sum(json.loads(l)["matched"] for l in open(tmp + "/adds.jsonl"))
def pct(v, p):
    return v[min(len(v) - 1, int(p / 100 * len(v)))]
print(f"\ndrain under load: {clients} keep-alive clients a port, a request every 50 ms;")
print(f"{rounds} rounds of `drain lport 8080 quiet 0 once`, {matched} connections matched")
print("%-44s%7s%9s%9s%9s" % ("delay to the server FIN (ms)", "n", "p50", "p99", "max"))
for name, v in (("response in flight: from its final ACK", d["in_flight_ms"]),
                ("idle when the rule came: from the rule", d["idle_ms"])):
    v = sorted(v)
    if not v:
        sys.exit(f"no closes for: {name}")
    print("%-44s%7d%9.3f%9.3f%9.3f" % (name, len(v), pct(v, 50), pct(v, 99), v[-1]))
print("%-44s%7d" % ("FINs that followed a request (cut it)", d["after_request"]))
print("\nwhat the clients saw")
keys = ["ok", "truncated", "corrupt", "reset", "eof_before_response", "reopened", "error"]
print("%-24s" % "" + "".join("%11s" % k[:10] for k in keys))
for name, r in (("connctl drain, 8080", drained), ("no rule, 8081 (peer)", peer)):
    print("%-24s" % name + "".join("%11d" % r["results"][k] for k in keys))
PY
