#!/usr/bin/env bash
# make demo: connctl at work, in a network namespace, cgroup, pin directory
# and agent of its own, all removed at the end (pass or fail): nginx with
# keep-alive clients, then a drain rule, a reset rule and a cancel rule, with
# what each client saw and the agent's live events (connctl watch).
. "$(dirname "$0")/../tests/e2e/lib.sh"

bold() { if [ -t 1 ]; then printf '\033[1m%s\033[0m\n' "$*"; else printf '%s\n' "$*"; fi; }
step() { echo; bold "== $*"; }
saw() { printf '   saw: %s\n' "$*"; }
show() { sed 's/^/   /'; }
# A moment for the watcher to print, so events and the story interleave.
events_settle() { sleep 0.3; }

step "Setting up: namespace $NETNS, cgroup $CGROUP, nginx on 8080 and 8081"
setup_env
# Jobs in the namespace say "Killed" when the cleanup ends them: not news.
JOBS_LOG=$TMP/jobs.log
start_nginx 8080 8081 2>>"$JOBS_LOG"
start_agent
connctl watch 2>/dev/null | sed -u 's/^/   event: /' &
sleep 0.2
echo "   connctld is serving $SOCK"

step "1. drain: 5 idle keep-alive clients, then a 1 MiB download in flight (at 200 KB/s)"
echo '   $ connctl rule add action drain lport 8080'
res=$(in_ns python3 "$CLIENTS_PY" idle --to 127.0.0.1:8080 --count 5 --idle 0.6 \
	--deadline 3 -- "$CONNCTL_BIN" --socket "$SOCK" -j rule add action drain lport 8080)
events_settle
saw "$(jget "$res" '"matched %d; the idle clients ended: %s, the slowest %.1f ms after the rule" % (json.loads(d["cmd"]["stdout"])["matched"], d["ends"], d["ms_max"])')"
connctl rule del 1 >/dev/null
echo '   $ connctl rule add action drain lport 8080   (with 256 KiB of the download received)'
res=$(fetch_adding_rule 8080 /paced 262144 action drain lport 8080)
events_settle
want=$(sha256 "$TMP/www/paced")
saw "$(python3 -c 'import json, sys
d = json.loads(sys.argv[1])
print("%d of %d bytes, sha256 %s, then %s %.0f ms after the last byte: the response "
      "completed, then the FIN" % (d["bytes"], d["length"],
      "intact" if d.get("sha256") == sys.argv[2] else "WRONG", d["end"],
      d.get("end_after_ms", -1)))' "$res" "$want")"
connctl rule del 2 >/dev/null

step "2. reset: 5 keep-alive clients of 8081, then a new one"
echo '   $ connctl rule add action reset lport 8081'
res=$(in_ns python3 "$CLIENTS_PY" hold --to 127.0.0.1:8081 --count 5 --deadline 3 \
	-- "$CONNCTL_BIN" --socket "$SOCK" -j rule add action reset lport 8081)
events_settle
saw "$(jget "$res" '"matched %d; their next request got: %s" % (json.loads(d["cmd"]["stdout"])["matched"], d["outcomes"]["127.0.0.1:8081"])')"
res=$(in_ns python3 "$CLIENTS_PY" connect --to 127.0.0.1:8081 --count 1 --deadline 3)
events_settle
saw "$(jget "$res" '"a new connection: %s, %.2f ms after connect()" % (d["outcomes"], d["ms_max"])')"

step "3. cancel: a server blocked in recv() on a client that sent half a request"
start_slow_server 9000 0 "$TMP/server.log" 2>>"$JOBS_LOG"
echo '   $ connctl rule add action cancel lport 9000'
client=$(cat <<'PY'
import json, socket, subprocess, sys, time
s = socket.create_connection(("127.0.0.1", 9000))
s.sendall(b"GET / HTTP/1.1\r\n")
time.sleep(0.2)
t0 = time.monotonic()
subprocess.run(sys.argv[1:], capture_output=True)
s.settimeout(5)
try:
    end = "EOF (a FIN)" if s.recv(100) == b"" else "data"
except OSError as e:
    end = "error %d" % e.errno
print("the client read %s %.1f ms after the rule" % (end, (time.monotonic() - t0) * 1000))
PY
)
out=$(in_ns python3 -c "$client" "$CONNCTL_BIN" --socket "$SOCK" -j rule add action cancel lport 9000)
served() { grep -q '"recv-eof"' "$TMP/server.log"; }
wait_until 5 served || die "the server's recv did not return"
events_settle
saw "$out; the server's blocked recv() returned 0"

step "The rules and what they did"
connctl rule show | show
step "The last closes"
connctl events | show
echo
bold "Done: the namespace, cgroup, pins and agent are being removed."
