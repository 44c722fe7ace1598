#!/usr/bin/env bash
# Bad input gets a clear error and changes nothing: CLI usage errors exit 2,
# refusals by the agent exit 1 with a stable code, an absent agent exits 3,
# raw protocol garbage gets an error line, a non-root peer may not change
# rules. Afterwards the rule set is exactly what it was.
. "$(dirname "$0")/lib.sh"

setup_env
start_agent
connctl rule add action reset lport 7000 id 1 >/dev/null

expect_status() {
	local want=$1 rc=0
	shift
	connctl "$@" >/dev/null 2>"$TMP/stderr" || rc=$?
	[ "$rc" -eq "$want" ] || die "connctl $*: exit $rc, want $want ($(cat "$TMP/stderr"))"
	[ "$want" -eq 0 ] || [ -s "$TMP/stderr" ] || die "connctl $*: no message on stderr"
	log "ok: connctl $* -> exit $rc: $(head -n 1 "$TMP/stderr")"
}

# Usage errors: caught by the CLI.
expect_status 2
expect_status 2 rule
expect_status 2 rule frob
expect_status 2 rule add
expect_status 2 rule add action reset lport
expect_status 2 rule add action reset colour blue
expect_status 2 rule add action reset lport 1 lport 2
expect_status 2 rule del
expect_status 2 rule del abc
expect_status 2 rule show 0
expect_status 2 --bogus rule show

# Refused by the agent, each with its code.
expect_code() {
	local code=$1 out rc=0
	shift
	out=$(connctl -j "$@") || rc=$?
	[ "$rc" -eq 1 ] || die "connctl -j $*: exit $rc, want 1"
	expect_eq "$(jget "$out" 'd["error"]["code"]')" "$code" "error code of: $*"
}
expect_code bad_prefix rule add action reset local 10.0.0.1/8
expect_code bad_prefix rule add action reset remote 999.1.1.1
expect_code bad_prefix rule add action reset remote 2001:db8::/200
expect_code bad_port rule add action reset lport 0
expect_code bad_port rule add action reset rport 70000
expect_code bad_port rule add action reset rport 90-80
expect_code bad_duration rule add action drain lport 80 timeout 30
expect_code bad_duration rule add action reset lport 80 ttl 5d
expect_code bad_action rule add action destroy lport 80
expect_code bad_rule rule add action reset ttl 5m
expect_code bad_rule rule add action reset lport 80 timeout 5s
expect_code bad_rule rule add action reset local 10.0.0.0/8 remote ::1
expect_code duplicate_id rule add action reset lport 80 id 1
expect_code unknown_rule rule del 99
expect_code unknown_rule rule show 99

rc=0
"$CONNCTL_BIN" --socket "$TMP/nobody.sock" rule show 2>/dev/null || rc=$?
expect_eq "$rc" 3 "exit status with no agent at the socket"

# Raw protocol: garbage, then a valid request on the same connection.
raw=$(python3 "$TOP/tests/e2e/raw_request.py" "$SOCK" '{"op":' 'null' '[1,2]' \
	'{"op":"rule.purge"}' '{"op":"rule.show","all":true}' \
	'{"op":"rule.add","rule":{"action":"reset","lport":"80","lport":"81"}}' \
	@long:70000 '{"op":"rule.show"}')
codes=$(python3 -c 'import json, sys
for l in sys.stdin:
    d = json.loads(l)
    print(d["error"]["code"] if not d["ok"] else "ok")' <<<"$raw" | tr '\n' ' ')
expect_eq "$codes" "bad_json bad_json bad_request unknown_op unknown_field bad_json line_too_long ok " \
	"responses to raw lines"

# A client that sends its request and closes its write side still gets the answer.
half=$(python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(b"{\"op\":\"rule.show\"}\n"); s.shutdown(socket.SHUT_WR)
print(s.makefile().read().strip())' "$SOCK")
expect_eq "$(jget "$half" 'd["ok"]')" True "response after the client half-closed"

# Pipelined requests whose answers far exceed the agent's output buffer
# (1 MiB) are all answered, in order.
for i in $(seq 100 160); do connctl rule add action reset lport "$i" >/dev/null; done
answered=$(python3 -c 'import json, socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(b"{\"op\":\"rule.show\"}\n" * 3000); s.shutdown(socket.SHUT_WR)
print(sum(1 for l in s.makefile() if json.loads(l)["ok"]))' "$SOCK")
expect_eq "$answered" 3000 "answers to 3000 pipelined requests"
for r in $(connctl -j rule show | jget "$(cat)" '" ".join(str(r["id"]) for r in d if r["id"] > 1)'); do
	connctl rule del "$r" >/dev/null
done

# A peer that is not root, and not in --group, may neither change nor read.
chmod 0755 "$TMP"
chmod 0666 "$SOCK"
rc=0
out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$CONNCTL_BIN" --socket "$SOCK" -j \
	rule add action reset lport 9) || rc=$?
expect_eq "$rc" 1 "exit status for a non-root peer"
expect_eq "$(jget "$out" 'd["error"]["code"]')" permission_denied "error code for a non-root peer"
rc=0
setpriv --reuid=65534 --regid=65534 --clear-groups "$CONNCTL_BIN" --socket "$SOCK" \
	rule del 1 2>/dev/null || rc=$?
expect_eq "$rc" 1 "exit status of rule del by a non-root peer"
rc=0
out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$CONNCTL_BIN" --socket "$SOCK" -j \
	rule show) || rc=$?
expect_eq "$rc" 1 "exit status of rule show by a non-root peer outside --group"
expect_eq "$(jget "$out" 'd["error"]["code"]')" permission_denied \
	"error code for a read by a non-root peer outside --group"

# Nothing changed, and the agent is still serving.
expect_eq "$(connctl -j rule show | jget "$(cat)" '[r["id"] for r in d]')" "[1]" "rules afterwards"
expect_eq "$(bpftool -j map dump pinned "$PIN_DIR/rules" | jget "$(cat)" 'len(d)')" 1 \
	"pinned rules afterwards"
kill -0 "$AGENT_PID" || die "the agent died"
