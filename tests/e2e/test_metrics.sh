#!/usr/bin/env bash
# connctld --metrics: /metrics in the Prometheus text format, scraped with
# curl and checked by promtool; the counters follow what happened (drain
# closes with FIN and their delays, resets of existing and new connections,
# requests and errors on the control socket, rules added and removed).
# Loopback when no address is given; other paths 404; off by default.
. "$(dirname "$0")/lib.sh"

setup_env
start_nginx 8080 8081
start_agent --metrics 9540
scrape() { in_ns curl -sf "http://127.0.0.1:9540${1:-/metrics}"; }
# value NAME{LABELS}: one sample's value from a scrape.
value() { scrape | awk -v k="$1" '$1 == k { print $2 }'; }

expect_eq "$(in_ns ss -Hltn 'sport = :9540' | awk '{ print $4 }')" 127.0.0.1:9540 \
	"where the metrics listen"
expect_eq "$(in_ns curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:9540/other)" 404 \
	"another path"
# What is no request of ours gets its answer, at once, and the agent serves on:
# no request line, another method, a header past 8 KiB, a NUL in the path,
# and HEAD (no body).
out=$(in_ns python3 "$TOP/tests/e2e/raw_http.py" 127.0.0.1 9540 '\r\n\r\n' \
	'POST /metrics HTTP/1.1\r\n\r\n' @long:9000 'GET /metrics\x00x HTTP/1.1\r\n\r\n' \
	'HEAD /metrics HTTP/1.1\r\n\r\n' | python3 -c 'import json, sys
print(" ".join("%(status)d:%(body)d" % json.loads(l) for l in sys.stdin))')
[[ "$out" =~ ^400:[1-9][0-9]*\ 405:[1-9][0-9]*\ 431:[1-9][0-9]*\ 200:[1-9][0-9]*\ 200:0$ ]] ||
	die "statuses and body sizes: $out"
# 16 scrapers that say nothing hold every place: the 17th is closed unanswered,
# and once they go, a scrape is served.
out=$(in_ns python3 - <<'PY'
import socket
idle = [socket.create_connection(("127.0.0.1", 9540)) for _ in range(16)]
extra = socket.create_connection(("127.0.0.1", 9540), timeout=5)
try:
    extra.sendall(b"GET /metrics HTTP/1.1\r\n\r\n")
    print(len(extra.recv(100)))
except ConnectionResetError:  # closed with the request unread
    print(0)
PY
)
expect_eq "$out" 0 "bytes a 17th scraper got"
scraped() { scrape >/dev/null; }
wait_until 5 scraped || die "no scrape served once the idle scrapers went"
out=$(scrape | promtool check metrics 2>&1) || die "promtool: $out"
expect_eq "$out" "" "promtool's complaints"

# Things happen: a drain of 3 idle connections and of an answer being
# computed (its delay from the last ACK measured), a reset of 2 held connections and
# of a new one, a bad request, a rule deleted.
res=$(in_ns python3 "$CLIENTS_PY" idle --to 127.0.0.1:8080 --count 3 --idle 0.7 \
	--deadline 2 -- "$CONNCTL_BIN" --socket "$SOCK" -j rule add action drain lport 8080 quiet 0)
expect_eq "$(jget "$res" 'd["ends"]')" "{'eof': 3}" "idle connections drained"
connctl rule del 1 >/dev/null
# A server computing its answer when the rule comes: the FIN follows the
# answer's last ACK after 100 ms of quiet.
start_slow_server 9000 1 "$TMP/server.log"
in_ns python3 "$CLIENTS_PY" fetch --to 127.0.0.1:9000 --path / --deadline 10 >"$TMP/client.json" &
client=$!
computing() { grep -q '"request"' "$TMP/server.log"; }
wait_until 5 computing || die "the request did not reach the slow server"
connctl rule add action drain lport 9000 quiet 100ms >/dev/null
wait "$client"
expect_eq "$(jget "$(cat "$TMP/client.json")" '(d["bytes"], d["end"])')" "(1000, 'eof')" \
	"the answer, then the drain's EOF"
hold_start 9100:2
connctl rule add action reset lport 9100 >/dev/null
hold_stop
connctl rule add action reset lport 8081 >/dev/null
in_ns curl -s -o /dev/null --max-time 2 http://127.0.0.1:8081/ || true
echo '{"op":"rule.add"' | python3 "$TOP/tests/e2e/pipeline.py" "$SOCK" >/dev/null
connctl rule del 2 >/dev/null

text=$(scrape)
log "$text"
out=$(promtool check metrics <<<"$text" 2>&1) || die "promtool: $out"
expect_eq "$out" "" "promtool's complaints after activity"
v() { awk -v k="$1" '$1 == k { print $2 }' <<<"$text"; }
expect_eq "$(v 'connctl_connections_closed_total{action="drain",outcome="fin"}')" 4 \
	"drained with a FIN"
expect_eq "$(v 'connctl_drain_delay_seconds_count')" 1 \
	"drain delays observed (of the response in flight)"
expect_eq "$(v 'connctl_drain_delay_seconds_bucket{le="0.05"}') $(v 'connctl_drain_delay_seconds_bucket{le="0.25"}')" \
	"0 1" "... after the 100 ms of quiet, within 250 ms"
expect_eq "$(v 'connctl_connections_matched_total{action="reset",when="existing"}')" 2 \
	"existing connections a reset rule matched"
expect_eq "$(v 'connctl_connections_matched_total{action="reset",when="new"}')" 1 \
	"new connections a reset rule matched"
expect_eq "$(v 'connctl_connections_closed_total{action="reset",outcome="rst"}')" 3 "reset"
expect_eq "$(v 'connctl_rules{action="reset",proto="tcp"}') $(v 'connctl_rules{action="drain",proto="tcp"}')" "2 0" \
	"rules standing"
expect_eq "$(v 'connctl_rules_added_total') $(v 'connctl_rules_removed_total{reason="deleted"}')" \
	"4 2" "rules added and deleted"
expect_eq "$(v 'connctl_control_errors_total{code="bad_json"}')" 1 "bad JSON on the socket"
expect_eq "$(v 'connctl_control_requests_total{op="rule.add"}')" 4 "rule.add requests"
expect_eq "$(v 'connctl_control_requests_total{op="invalid"}')" 1 "requests that did not parse"

# Off by default; an address that is not one is refused.
stop_agent
start_agent
! in_ns curl -s -o /dev/null http://127.0.0.1:9540/metrics || die "metrics served without --metrics"
stop_agent
rc=0
out=$(nsenter --net="$NETNS_PATH" -- "$CONNCTLD" --socket "$SOCK" --pin-dir "$PIN_DIR" \
	--cgroup "$CGROUP" --state-file "$STATE_FILE" --metrics 10.0.0:x 2>&1) || rc=$?
expect_eq "$rc" 1 "exit status with a bad --metrics"
[[ "$out" == *"--metrics 10.0.0:x: expected PORT, ADDR:PORT or [ADDR6]:PORT"* ]] ||
	die "the error says: $out"
