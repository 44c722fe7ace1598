#!/usr/bin/env bash
# With no agent running, a new connection that matches a standing reset rule
# is held by the kernel, and the hold is bounded: --held-timeout, then reset
# by the kernel itself (fail closed, the default) or let through with
# --held-then pass (fail open). Never held forever, and never a byte of data
# through while held.
. "$(dirname "$0")/lib.sh"

setup_env

start_agent --held-timeout 1s
connctl rule add action reset lport 8080 >/dev/null
kill_agent
# The kernel answers: an RST after the hold (1 s) and one keepalive probe (1 s).
res=$(in_ns python3 "$TOP/tests/e2e/held_conn.py" 127.0.0.1 8080 8)
log "no agent, fail closed: $res"
expect_eq "$(jget "$res" 'd["client"]')" reset "the client's outcome"
expect_eq "$(jget "$res" 'd["server_got"]')" 0 "bytes that reached the server"
after=$(jget "$res" 'd["after_s"]')
python3 -c "import sys; sys.exit(not 1.0 <= $after <= 4.0)" ||
	die "reset after $after s, want within the hold and a probe (1-4 s)"
log "ok: reset by the kernel after $after s"

# Fail open: the same connection goes through once the hold runs out.
start_agent --held-timeout 1s --held-then pass
kill_agent
res=$(in_ns python3 "$TOP/tests/e2e/held_conn.py" 127.0.0.1 8080 8)
log "no agent, fail open: $res"
expect_eq "$(jget "$res" 'd["client"]')" data "the client's outcome"
expect_eq "$(jget "$res" 'd["server_got"]')" 5 "bytes that reached the server"
after=$(jget "$res" 'd["after_s"]')
python3 -c "import sys; sys.exit(not 1.0 <= $after <= 6.0)" ||
	die "let through after $after s, want after the 1 s hold"

# With the agent running, the hold is the agent's sub-millisecond reset.
start_agent --held-timeout 1s
res=$(in_ns python3 "$TOP/tests/e2e/held_conn.py" 127.0.0.1 8080 8)
log "agent running: $res"
expect_eq "$(jget "$res" 'd["client"]')" reset "the client's outcome"
expect_eq "$(jget "$res" 'd["server_got"]')" 0 "bytes that reached the server"
python3 -c "import sys; sys.exit(not $(jget "$res" 'd["after_s"]') < 0.9)" ||
	die "the agent's reset came after the hold"

# Bad values are refused before anything starts.
rc=0
"$CONNCTLD" --held-timeout 0s >/dev/null 2>&1 || rc=$?
expect_eq "$rc" 2 "exit status of --held-timeout 0s"
rc=0
"$CONNCTLD" --held-then open >/dev/null 2>&1 || rc=$?
expect_eq "$rc" 2 "exit status of --held-then open"
