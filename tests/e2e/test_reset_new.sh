#!/usr/bin/env bash
# While a reset rule stands, each new matching connection is reset as soon as
# it is established, on either side of the connection.
. "$(dirname "$0")/lib.sh"

setup_env
start_nginx 8080 8081
start_agent

out=$(connctl -j rule add action reset rport 8080)
expect_eq "$(jget "$out" 'd["matched"]')" 0 "existing connections matched"

# rport 8080 matches the client's side; nginx's side is not matched.
res=$(in_ns python3 "$CLIENTS_PY" connect --to 127.0.0.1:8080 --count 20 --deadline 2)
log "$res"
expect_eq "$(jget "$res" 'd["outcomes"]')" "{'reset': 20}" "new connections to 8080"
res=$(in_ns python3 "$CLIENTS_PY" connect --to 127.0.0.1:8081 --count 20)
expect_eq "$(jget "$res" 'd["outcomes"]')" "{'ok': 20}" "new connections to 8081"

show=$(connctl -j rule show)
expect_eq "$(jget "$show" 'd[0]["stats"]["new_matches"]')" 20 "new matches counted"
expect_eq "$(jget "$show" 'd[0]["stats"]["closed"]["rst"] + 0')" 20 "resets counted"
