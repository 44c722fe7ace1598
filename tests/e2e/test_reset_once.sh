#!/usr/bin/env bash
# `once` resets what exists now and leaves no rule behind, in the agent or
# in the kernel: later connections are not touched.
. "$(dirname "$0")/lib.sh"

setup_env
start_nginx 8080
start_agent

res=$(in_ns python3 "$CLIENTS_PY" hold --to 127.0.0.1:8080 --count 10 \
	-- "$CONNCTL_BIN" --socket "$SOCK" -j rule add action reset lport 8080 once)
log "$res"
expect_eq "$(jget "$res" 'json.loads(d["cmd"]["stdout"])["matched"]')" 10 "connections matched"
expect_eq "$(jget "$res" 'd["outcomes"]["127.0.0.1:8080"]')" "{'reset': 10}" "existing clients"

expect_eq "$(connctl -j rule show)" "[]" "rules in the agent"
expect_eq "$(bpftool -j map dump pinned "$PIN_DIR/rules")" "[]" "rules in the pinned map"
res=$(in_ns python3 "$CLIENTS_PY" connect --to 127.0.0.1:8080 --count 10)
expect_eq "$(jget "$res" 'd["outcomes"]')" "{'ok': 10}" "new connections afterwards"
