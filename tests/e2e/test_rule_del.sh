#!/usr/bin/env bash
# `rule del` stops the resets; deleting it again is refused with unknown_rule.
. "$(dirname "$0")/lib.sh"

setup_env
start_nginx 8080
start_agent

id=$(connctl -j rule add action reset lport 8080 | jget "$(cat)" 'd["id"]')
res=$(in_ns python3 "$CLIENTS_PY" connect --to 127.0.0.1:8080 --count 5 --deadline 2)
expect_eq "$(jget "$res" 'd["outcomes"]')" "{'reset': 5}" "new connections while the rule stands"

expect_eq "$(connctl rule del "$id")" "rule $id deleted" "rule del output"
expect_eq "$(connctl -j rule show)" "[]" "rules after del"
expect_eq "$(bpftool -j map dump pinned "$PIN_DIR/rules")" "[]" "pinned rules after del"
res=$(in_ns python3 "$CLIENTS_PY" connect --to 127.0.0.1:8080 --count 5)
expect_eq "$(jget "$res" 'd["outcomes"]')" "{'ok': 5}" "new connections after del"

rc=0
err=$(connctl -j rule del "$id") || rc=$?
expect_eq "$rc" 1 "exit status of deleting it again"
expect_eq "$(jget "$err" 'd["error"]["code"]')" unknown_rule "error code"

# Deleting one of several rules leaves the others in force.
a=$(connctl -j rule add action reset lport 8080 | jget "$(cat)" 'd["id"]')
b=$(connctl -j rule add action reset rport 9999 | jget "$(cat)" 'd["id"]')
c=$(connctl -j rule add action reset rport 8080 | jget "$(cat)" 'd["id"]')
connctl rule del "$a" >/dev/null
res=$(in_ns python3 "$CLIENTS_PY" connect --to 127.0.0.1:8080 --count 5 --deadline 2)
expect_eq "$(jget "$res" 'd["outcomes"]')" "{'reset': 5}" "new connections with rule $c left"
connctl rule del "$c" >/dev/null
res=$(in_ns python3 "$CLIENTS_PY" connect --to 127.0.0.1:8080 --count 5)
expect_eq "$(jget "$res" 'd["outcomes"]')" "{'ok': 5}" "new connections with only rule $b left"
connctl rule del "$b" >/dev/null

# A ttl removes the rule on time.
connctl rule add action reset lport 8080 ttl 300ms >/dev/null
no_rules() { [ "$(connctl -j rule show)" = "[]" ]; }
wait_until 3 no_rules || die "the ttl rule did not expire"
log "ok: ttl rule expired"
expect_eq "$(bpftool -j map dump pinned "$PIN_DIR/rules")" "[]" "pinned rules after the ttl"
res=$(in_ns python3 "$CLIENTS_PY" connect --to 127.0.0.1:8080 --count 5)
expect_eq "$(jget "$res" 'd["outcomes"]')" "{'ok': 5}" "new connections after the ttl"
