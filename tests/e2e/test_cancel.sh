#!/usr/bin/env bash
# cancel: a server thread blocked in recv on a matched connection (the client
# sent half a request, so a drain would wait) returns 0 at once; its send then
# fails with EPIPE; the client reads EOF. A FIN, never an RST.
. "$(dirname "$0")/lib.sh"

setup_env
start_slow_server 9000 0 "$TMP/server.log"
start_agent
start_capture "tcp port 9000"

client=$(cat <<'PY'
import json, socket, subprocess, sys, time
s = socket.create_connection(("127.0.0.1", 9000))
s.sendall(b"GET / HTTP/1.1\r\n")   # half a request: the server waits for the rest
time.sleep(0.2)
t0 = time.monotonic()
cmd = subprocess.run(sys.argv[1:], capture_output=True, text=True)
s.settimeout(5)
try:
    end = "eof" if s.recv(100) == b"" else "data"
except OSError as e:
    end = "error %d" % e.errno
print(json.dumps({"end": end, "ms": round((time.monotonic() - t0) * 1000, 1),
                  "rc": cmd.returncode, "stdout": cmd.stdout}))
PY
)
res=$(in_ns python3 -c "$client" "$CONNCTL_BIN" --socket "$SOCK" -j rule add action cancel lport 9000)
log "$res"
served() { grep -q '"send-after-eof"' "$TMP/server.log"; }
wait_until 5 served || die "the server's recv did not return 0"
log "$(cat "$TMP/server.log")"
stop_capture

expect_eq "$(jget "$res" 'json.loads(d["stdout"])["matched"]')" 1 "connections matched"
expect_eq "$(jget "$res" 'd["end"]')" eof "what the client read"
expect_eq "$(jget "$res" 'd["ms"] < 100')" True "EOF within 100 ms of the rule"
expect_eq "$(grep -c '"recv-eof"' "$TMP/server.log")" 1 "the server's blocked recv returned 0"
expect_eq "$(grep '"send-after-eof"' "$TMP/server.log" | jget "$(cat)" 'd["result"]')" EPIPE \
	"the server's send after that"
fins=$(capture_count 'src port 9000 and tcp[tcpflags] & tcp-fin != 0')
expect_eq "$([ "$fins" -ge 1 ] && echo yes)" yes "a FIN from the server side"
expect_eq "$(capture_count 'tcp[tcpflags] & tcp-rst != 0')" 0 "RSTs on the wire"
expect_eq "$(connctl -j rule show | jget "$(cat)" 'd[0]["stats"]["closed"]["fin"]')" 1 \
	"counted as fin"
