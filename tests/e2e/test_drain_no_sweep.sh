#!/usr/bin/env bash
# A drain waiting on a busy server-side connection costs no walk of the
# sockets: sockops reports each boundary as the ACK that ends a response
# comes (the agent looks again when the quiet would run out), so no sweep
# runs while it waits (connctl_sweeps_total stays 0). Once the client goes
# quiet, the connection is closed with a FIN after the quiet period.
. "$(dirname "$0")/lib.sh"

setup_env
start_nginx 8080
start_agent --metrics 9548
cat >"$TMP/busy.py" <<'PY'
import json, socket, sys, time
s = socket.create_connection(("127.0.0.1", 8080))
req = b"GET /small HTTP/1.1\r\nHost: x\r\n\r\n"
def response():
    buf = b""
    while b"\r\n\r\n" not in buf:
        buf += s.recv(65536)
    head, _, body = buf.partition(b"\r\n\r\n")
    n = int([l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length")][0].split(b":")[1])
    while len(body) < n:
        body += s.recv(65536)
print("busy", flush=True)
sys.stdin.readline()                    # the rule is in
done, end = 0, time.monotonic() + 1.5
while time.monotonic() < end:           # back to back: never quiet
    s.sendall(req)
    response()
    done += 1
s.settimeout(5)
start = time.monotonic()
try:
    eof = s.recv(1) == b""
except OSError:
    eof = False
print(json.dumps({"requests": done, "eof": eof, "after_s": round(time.monotonic() - start, 3)}))
PY
coproc BUSY { in_ns python3 "$TMP/busy.py"; }
read -r line <&"${BUSY[0]}"
connctl rule add action drain lport 8080 quiet 300ms >/dev/null
sweeps() { in_ns_only curl -s http://127.0.0.1:9548/metrics | awk '$1 == "connctl_sweeps_total" { print $2 }'; }
echo go >&"${BUSY[1]}"
read -r -t 10 res <&"${BUSY[0]}" || die "the busy client did not finish"
log "busy client: $res"
expect_eq "$(jget "$res" 'd["requests"] > 100')" True "requests served while the drain waited"
expect_eq "$(jget "$res" 'd["eof"]')" True "the connection ended with a FIN once quiet"
expect_eq "$(jget "$res" '0.25 <= d["after_s"] < 1.0')" True "the FIN after the 300 ms quiet"
expect_eq "$(sweeps)" 0 "sweeps while the drain waited"
expect_eq "$(connctl -j rule show 1 | jget "$(cat)" 'd[0]["stats"]["closed"]["fin"]')" 1 \
	"closes with a FIN"
