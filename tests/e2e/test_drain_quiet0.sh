#!/usr/bin/env bash
# drain with `quiet 0`: no idle period, the FIN follows the ACK that ends the
# response. A server that takes 1 s to answer still gets to answer in full:
# while it computes, the client spoke last, which is no boundary. Then the
# client reads EOF, the server's recv returns 0, and no RST crosses the wire.
. "$(dirname "$0")/lib.sh"

setup_env
in_ns python3 "$TOP/tests/e2e/slow_server.py" --port 9000 --delay 1 >"$TMP/server.log" &
wait_until 5 port_listening 9000 || die "slow server is not listening"
start_agent
start_capture "tcp port 9000"

in_ns python3 "$CLIENTS_PY" fetch --to 127.0.0.1:9000 --path / --deadline 10 \
	>"$TMP/client.json" &
CLIENT=$!
computing() { grep -q '"request"' "$TMP/server.log"; }
wait_until 5 computing || die "the request did not reach the server"
out=$(connctl -j rule add action drain lport 9000 quiet 0)
expect_eq "$(jget "$out" 'd["matched"]')" 1 "connections matched"
expect_eq "$(jget "$out" 'd["rule"]["quiet"]')" 0 "the rule's quiet period"
wait "$CLIENT"
res=$(cat "$TMP/client.json")
log "$res"
stop_capture

expect_eq "$(jget "$res" 'd["bytes"]')" 1000 "answer bytes received"
expect_eq "$(jget "$res" 'd["end"]')" eof "how the connection ended"
served() { grep -q '"recv-eof"' "$TMP/server.log"; }
wait_until 5 served || die "the server's recv did not return 0"
expect_eq "$(slow_server_story "$TMP/server.log")" "request answered recv-eof" \
	"the server's view, in order"
expect_eq "$(capture_count 'tcp[tcpflags] & tcp-rst != 0')" 0 "RSTs on the wire"
expect_eq "$(capture_count 'src port 9000 and tcp[tcpflags] & tcp-fin != 0')" 1 \
	"FINs from the server"
events=$(connctl -j events)
log "$events"
expect_eq "$(jget "$events" 'd[-1]["outcome"]')" fin "the close event's outcome"
# The state file keeps the 0, and it reads back.
expect_eq "$(grep -c '"quiet":"0"' "$STATE_FILE")" 1 "quiet 0 in the state file"
