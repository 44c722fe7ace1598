#!/usr/bin/env bash
# A server that takes 1 s to compute its answer: drain added while it
# computes does not close the connection before the answer has arrived in
# full; then the client reads EOF, and the server's blocked recv returns 0.
. "$(dirname "$0")/lib.sh"

setup_env
in_ns python3 "$TOP/tests/e2e/slow_server.py" --port 9000 --delay 1 >"$TMP/server.log" &
wait_until 5 port_listening 9000 || die "slow server is not listening"
start_agent

# The client asks, then the rule comes while the server computes.
in_ns python3 "$CLIENTS_PY" fetch --to 127.0.0.1:9000 --path / --deadline 10 \
	>"$TMP/client.json" &
CLIENT=$!
computing() { grep -q '"request"' "$TMP/server.log"; }
wait_until 5 computing || die "the request did not reach the server"
out=$(connctl -j rule add action drain lport 9000 quiet 100ms)
expect_eq "$(jget "$out" 'd["matched"]')" 1 "connections matched"
wait "$CLIENT"
res=$(cat "$TMP/client.json")
log "$res"
log "$(cat "$TMP/server.log")"

expect_eq "$(jget "$res" 'd["bytes"]')" 1000 "answer bytes received"
expect_eq "$(jget "$res" 'd["end"]')" eof "how the connection ended"
served() { grep -q '"recv-eof"' "$TMP/server.log"; }
wait_until 5 served || die "the server's recv did not return 0"
expect_eq "$(slow_server_story "$TMP/server.log")" "request answered recv-eof" \
	"the server's view, in order"
expect_eq "$(connctl -j rule show | jget "$(cat)" 'd[0]["stats"]["closed"]["fin"]')" 1 \
	"closed with a FIN"
