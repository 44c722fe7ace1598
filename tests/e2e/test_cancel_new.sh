#!/usr/bin/env bash
# A standing cancel rule: a connection established later is shut down as soon
# as its server has accepted it (the owner's blocked recv returns 0, the
# client reads EOF), not reset for want of an owner. A server that never
# accepts leaves no owner: after 1 s the connection is reset (rst-no-owner).
. "$(dirname "$0")/lib.sh"

setup_env
start_slow_server 9000 0 "$TMP/server.log"
# A listener that never accepts.
in_ns python3 -c 'import socket, time
s = socket.socket(); s.bind(("127.0.0.1", 9001)); s.listen(8); time.sleep(60)' &
wait_until 5 port_listening 9001 || die "the never-accepting listener is not up"
start_agent
start_capture "tcp port 9000 or tcp port 9001"
connctl rule add action cancel lport 9000-9001 >/dev/null

client=$(cat <<'PY'
import json, socket, sys, time
t0 = time.monotonic()
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.settimeout(5)
try:
    end = "eof" if s.recv(100) == b"" else "data"
except OSError as e:
    end = "reset" if e.errno in (104, 32) else "error %d" % e.errno
print(json.dumps({"end": end, "ms": round((time.monotonic() - t0) * 1000, 1)}))
PY
)
res=$(in_ns python3 -c "$client" 9000)
log "accepted: $res"
expect_eq "$(jget "$res" 'd["end"]')" eof "what the client of the accepting server read"
expect_eq "$(jget "$res" 'd["ms"] < 200')" True "EOF soon after connecting"
served() { grep -q '"recv-eof"' "$TMP/server.log"; }
wait_until 5 served || die "the server's recv did not return 0"

res=$(in_ns python3 -c "$client" 9001)
log "never accepted: $res"
expect_eq "$(jget "$res" 'd["end"]')" reset "what the client of the never-accepting listener saw"
expect_eq "$(jget "$res" '900 <= d["ms"] < 2000')" True "reset after about 1 s"
stop_capture

expect_eq "$(capture_count 'port 9000 and tcp[tcpflags] & tcp-rst != 0')" 0 \
	"RSTs on the accepted connection"
stats=$(connctl -j rule show | jget "$(cat)" 'd[0]["stats"]["closed"]')
expect_eq "$stats" "{'fin': 1, 'rst': 0, 'rst-timeout': 0, 'rst-no-owner': 1, 'refused': 0}" "outcomes"
