#!/usr/bin/env bash
# A reset rule on nginx's port resets every client of that port at once (curl
# mid-download exits 56, keep-alive clients see ECONNRESET); clients of
# nginx's other port and both listeners are untouched.
. "$(dirname "$0")/lib.sh"

setup_env
start_nginx 8080 8081
start_agent

in_ns curl -s -o /dev/null http://127.0.0.1:8080/big &
CURL_PID=$!
curl_connected() { [ "$(established_count '( dport = :8080 )')" -ge 1 ]; }
wait_until 5 curl_connected || die "curl did not connect"

res=$(in_ns python3 "$CLIENTS_PY" hold --to 127.0.0.1:8080 --to 127.0.0.1:8081 --count 20 \
	-- "$CONNCTL_BIN" --socket "$SOCK" -j rule add action reset lport 8080)
log "$res"
expect_eq "$(jget "$res" 'd["cmd"]["rc"]')" 0 "connctl exit status"
expect_eq "$(jget "$res" 'json.loads(d["cmd"]["stdout"])["matched"]')" 21 \
	"connections matched (20 keep-alive + curl, server side)"
expect_eq "$(jget "$res" 'd["outcomes"]["127.0.0.1:8080"]')" "{'reset': 20}" \
	"keep-alive clients of 8080"
expect_eq "$(jget "$res" 'd["outcomes"]["127.0.0.1:8081"]')" "{'ok': 20}" \
	"keep-alive clients of 8081"

curl_done() { ! kill -0 "$CURL_PID" 2>/dev/null; }
wait_until 5 curl_done || die "curl was not cut off"
rc=0
wait "$CURL_PID" || rc=$?
expect_eq "$rc" 56 "curl exit status (recv failure: connection reset)"

port_listening 8080 || die "nginx's listener on 8080 was touched"
port_listening 8081 || die "nginx's listener on 8081 was touched"
body=$(in_ns curl -s --max-time 5 http://127.0.0.1:8081/)
expect_eq "$body" "hello from nginx" "a new request on 8081"
