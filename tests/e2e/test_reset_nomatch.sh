#!/usr/bin/env bash
# A rule that matches nothing resets nothing, now or later.
. "$(dirname "$0")/lib.sh"

setup_env
start_nginx 8080
start_agent

res=$(in_ns python3 "$CLIENTS_PY" hold --to 127.0.0.1:8080 --to '[::1]:8080' --count 20 \
	-- "$CONNCTL_BIN" --socket "$SOCK" -j rule add action reset remote 192.0.2.0/24 lport 8080)
log "$res"
expect_eq "$(jget "$res" 'json.loads(d["cmd"]["stdout"])["matched"]')" 0 "connections matched"
expect_eq "$(jget "$res" 'd["outcomes"]["127.0.0.1:8080"]')" "{'ok': 20}" "IPv4 keep-alive clients"
expect_eq "$(jget "$res" 'd["outcomes"]["[::1]:8080"]')" "{'ok': 20}" "IPv6 keep-alive clients"

res=$(in_ns python3 "$CLIENTS_PY" connect --to 127.0.0.1:8080 --count 20)
expect_eq "$(jget "$res" 'd["outcomes"]')" "{'ok': 20}" "new connections while the rule stands"
expect_eq "$(connctl -j rule show | jget "$(cat)" 'd[0]["stats"]["new_matches"]')" 0 \
	"new matches counted"
