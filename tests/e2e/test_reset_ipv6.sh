#!/usr/bin/env bash
# An IPv6 rule resets IPv6 connections, existing and new, and leaves IPv4
# connections to the same port alone.
. "$(dirname "$0")/lib.sh"

setup_env
start_nginx 8080
start_agent

res=$(in_ns python3 "$CLIENTS_PY" hold --to '[::1]:8080' --to 127.0.0.1:8080 --count 15 \
	-- "$CONNCTL_BIN" --socket "$SOCK" -j rule add action reset local ::1/128 lport 8080)
log "$res"
expect_eq "$(jget "$res" 'json.loads(d["cmd"]["stdout"])["matched"]')" 15 "connections matched"
expect_eq "$(jget "$res" 'd["outcomes"]["[::1]:8080"]')" "{'reset': 15}" "IPv6 clients"
expect_eq "$(jget "$res" 'd["outcomes"]["127.0.0.1:8080"]')" "{'ok': 15}" "IPv4 clients"

res=$(in_ns python3 "$CLIENTS_PY" connect --to '[::1]:8080' --count 10 --deadline 2)
expect_eq "$(jget "$res" 'd["outcomes"]')" "{'reset': 10}" "new IPv6 connections"
res=$(in_ns python3 "$CLIENTS_PY" connect --to 127.0.0.1:8080 --count 10)
expect_eq "$(jget "$res" 'd["outcomes"]')" "{'ok': 10}" "new IPv4 connections"
