#!/usr/bin/env bash
# A drain found moved is judged again, and never cut while its server
# computes. The rule comes just after one answer, so the agent is told of a
# boundary; the client asks again at once, so at that boundary's due time
# the connection has moved, and the agent judges it itself from then on.
# The server takes 1.5 s over the second answer: three quiet periods with
# nothing moving, but the client spoke last, which is no boundary. The
# answer arrives whole, then the FIN; no RST.
. "$(dirname "$0")/lib.sh"

PORT=9200
setup_env
start_agent
log_file=$TMP/server.log
start_slow_server "$PORT" 1.5 "$log_file"
start_capture "tcp port $PORT"

res=$(in_ns python3 "$CLIENTS_PY" again --to "127.0.0.1:$PORT" --deadline 10 \
	-- "$CONNCTL_BIN" --socket "$SOCK" -j rule add action drain lport "$PORT" quiet 400ms)
log "$res"
expect_eq "$(jget "$res" 'json.loads(d["cmd"]["stdout"])["matched"]')" 1 "connections matched"
expect_eq "$(jget "$res" 'd["second"]')" ok "the answer computed while the drain waited"
expect_eq "$(jget "$res" 'd["second_after_ms"] >= 1400')" True "the server took its time"
expect_eq "$(jget "$res" 'd["end"]')" eof "how the connection ended after it"
served() { grep -q '"recv-eof"' "$log_file"; }
wait_until 5 served || die "the server's recv did not return 0"
expect_eq "$(slow_server_story "$log_file")" "request answered request answered recv-eof" \
	"the server's view, in order"
stop_capture
expect_eq "$(capture_count 'tcp[tcpflags] & tcp-rst != 0')" 0 "RSTs on the wire"
expect_eq "$(capture_count "src port $PORT and tcp[tcpflags] & tcp-fin != 0")" 1 \
	"FINs from the server"
expect_eq "$(connctl -j rule show | jget "$(cat)" 'd[0]["stats"]["closed"]["fin"]')" 1 \
	"closed with a FIN"
