#!/usr/bin/env bash
# Idle keep-alive connections (quiet longer than the rule's quiet period) are
# closed within 100 ms of the rule, each with a FIN: the clients read EOF.
# Keep-alive connections to another port stay open.
. "$(dirname "$0")/lib.sh"

setup_env
start_nginx 8080 8081
start_agent
start_capture "tcp"

# 8081's clients idle beside them and must see nothing.
in_ns python3 "$CLIENTS_PY" idle --to 127.0.0.1:8081 --count 10 --idle 0.7 --deadline 1.5 \
	-- true >"$TMP/control.json" &
CONTROL=$!
res=$(in_ns python3 "$CLIENTS_PY" idle --to 127.0.0.1:8080 --count 20 --idle 0.7 \
	--deadline 2 -- "$CONNCTL_BIN" --socket "$SOCK" -j rule add action drain lport 8080)
log "$res"
wait "$CONTROL"
control=$(cat "$TMP/control.json")
log "$control"
stop_capture

expect_eq "$(jget "$res" 'json.loads(d["cmd"]["stdout"])["matched"]')" 20 "connections matched"
expect_eq "$(jget "$res" 'd["ends"]')" "{'eof': 20}" "how the 20 idle connections ended"
ms=$(jget "$res" 'd["ms_max"]')
log "slowest EOF: $ms ms after the rule was sent"
expect_eq "$(jget "$res" 'd["ms_max"] < 100')" True "every EOF within 100 ms of the rule"
expect_eq "$(jget "$control" 'd["ends"]')" "{'timeout': 10}" \
	"connections to 8081 (still open when their wait ran out)"
expect_eq "$(capture_count 'tcp[tcpflags] & tcp-rst != 0')" 0 "RSTs on the wire"
expect_eq "$(connctl -j rule show | jget "$(cat)" 'd[0]["stats"]["closed"]["fin"]')" 20 \
	"closed with a FIN"
