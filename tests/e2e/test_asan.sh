#!/usr/bin/env bash
# The agent built with AddressSanitizer (make asan) through a working day:
# rules of every action added, shown, deleted; bad requests, on the control
# socket and to /metrics; drains, resets, a cancel; flows and stats; a
# SIGTERM. It must exit 0 with no error and no leak reported.
. "$(dirname "$0")/lib.sh"

CONNCTLD=$BUILD/asan/connctld
[ -x "$CONNCTLD" ] || die "$CONNCTLD is missing: run make asan"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=99

setup_env
setup_veth
start_nginx 8080 8081
start_agent --iface veth-s --metrics 9540

connctl rule add action observe lport 8081 mark 3 >/dev/null
connctl rule add action drain lport 8080 quiet 50ms >/dev/null
res=$(in_ns python3 "$CLIENTS_PY" idle --to 127.0.0.1:8080 --count 5 --idle 0.2 -- true)
expect_eq "$(jget "$res" 'd["ends"]')" "{'eof': 5}" "drained idle connections"
res=$(in_client python3 "$CLIENTS_PY" connect --to 10.99.0.1:8081 --count 5)
expect_eq "$(jget "$res" 'd["outcomes"]')" "{'ok': 5}" "requests through tc"
res=$(in_ns python3 "$CLIENTS_PY" hold --to 127.0.0.1:8081 --count 3 \
	-- "$CONNCTL_BIN" --socket "$SOCK" rule add action reset lport 8081 once)
expect_eq "$(jget "$res" 'd["outcomes"]["127.0.0.1:8081"]')" "{'reset': 3}" "a once reset"
connctl rule add action cancel rport 1-2 ttl 1s >/dev/null
raw=$(python3 "$TOP/tests/e2e/raw_request.py" "$SOCK" '{"op":' \
	'{"op":"rule.add","rule":{"action":"drain","lport":0}}' '{"op":"nope"}' '[1,2,3]' \
	"$(head -c 70000 /dev/zero | tr '\0' 'x')")
expect_eq "$(grep -c '"ok":false' <<<"$raw")" 5 "bad requests answered with errors"
raw=$(in_ns python3 "$TOP/tests/e2e/raw_http.py" 127.0.0.1 9540 '\r\n\r\n' 'PUT / HTTP/1.0\n\n' \
	@long:9000 'GET /metrics\x00 HTTP/1.1\r\n\r\n' 'GET /metrics HTTP/1.1\r\n\r\n')
expect_eq "$(grep -c '"status": [1-9]' <<<"$raw")" 5 "bad and good scrapes answered"
connctl rule show >/dev/null
connctl flow show >/dev/null
connctl stats >/dev/null
connctl events >/dev/null
connctl rule del 2 >/dev/null
expired() { [ "$(connctl -j rule show | jget "$(cat)" 'len(d)')" = 1 ]; }
wait_until 5 expired || die "the ttl rule did not expire"

kill -TERM "$AGENT_PID"
rc=0
wait "$AGENT_PID" || rc=$?
AGENT_PID=
grep -E "AddressSanitizer|LeakSanitizer|runtime error" "$AGENT_LOG" >&2 && die "sanitizer report"
expect_eq "$rc" 0 "the ASan agent's exit status after SIGTERM"
