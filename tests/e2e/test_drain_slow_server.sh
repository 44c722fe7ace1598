#!/usr/bin/env bash
# A server that takes 1 s to compute its answer: drain added while it
# computes does not close the connection before the answer has arrived in
# full; then the client reads EOF, the server's blocked recv returns 0, and
# no RST crosses the wire. With `quiet 100ms`, and with `quiet 0` (no idle
# period: the FIN follows the ACK that ends the response; while the server
# computes, the client spoke last, which is no boundary).
. "$(dirname "$0")/lib.sh"

setup_env
start_agent

# drained_answer PORT QUIET: the client asks, the rule comes while the server
# computes; prints the rule.add reply.
drained_answer() {
	local port=$1 quiet=$2 log=$TMP/server-$1.log out res id events
	start_slow_server "$port" 1 "$log"
	start_capture "tcp port $port"
	in_ns python3 "$CLIENTS_PY" fetch --to "127.0.0.1:$port" --path / --deadline 10 \
		>"$TMP/client.json" &
	local client=$!
	computing() { grep -q '"request"' "$log"; }
	wait_until 5 computing || die "the request did not reach the server on $port"
	out=$(connctl -j rule add action drain lport "$port" quiet "$quiet")
	expect_eq "$(jget "$out" 'd["matched"]')" 1 "quiet $quiet: connections matched"
	wait "$client"
	res=$(cat "$TMP/client.json")
	log "$res"
	stop_capture

	expect_eq "$(jget "$res" 'd["bytes"]')" 1000 "quiet $quiet: answer bytes received"
	expect_eq "$(jget "$res" 'd["end"]')" eof "quiet $quiet: how the connection ended"
	served() { grep -q '"recv-eof"' "$log"; }
	wait_until 5 served || die "quiet $quiet: the server's recv did not return 0"
	expect_eq "$(slow_server_story "$log")" "request answered recv-eof" \
		"quiet $quiet: the server's view, in order"
	expect_eq "$(capture_count 'tcp[tcpflags] & tcp-rst != 0')" 0 "quiet $quiet: RSTs on the wire"
	expect_eq "$(capture_count "src port $port and tcp[tcpflags] & tcp-fin != 0")" 1 \
		"quiet $quiet: FINs from the server"
	id=$(jget "$out" 'd["id"]')
	expect_eq "$(connctl -j rule show | jget "$(cat)" \
		"[r for r in d if r['id'] == $id][0]['stats']['closed']['fin']")" 1 \
		"quiet $quiet: closed with a FIN"
	events=$(connctl -j events)
	log "quiet $quiet: $events"	# last_ack_to_close_ms: the drain delay
	expect_eq "$(jget "$events" 'd[-1]["outcome"]')" fin \
		"quiet $quiet: the close event's outcome"
	echo "$out"
}

drained_answer 9000 100ms >/dev/null
out=$(drained_answer 9001 0)
expect_eq "$(jget "$out" 'd["rule"]["quiet"]')" 0 "the rule's quiet period, 0"
# The state file keeps the 0, and it reads back.
expect_eq "$(grep -c '"quiet":"0"' "$STATE_FILE")" 1 "quiet 0 in the state file"
