#!/usr/bin/env bash
# A killed agent loses nothing: a drain in progress when it is SIGKILLed
# completes under the restarted agent (every byte, then FIN, no RST); the
# rules' counts carry over; and a
# connection that matched a reset rule while no agent ran (its events queued
# in the ring buffer, its packets held by cgroup_skb) is reset on restart.
. "$(dirname "$0")/lib.sh"

setup_env
start_nginx 8080 8081
start_agent
start_capture "tcp port 8080"

fetch_adding_rule 8080 /paced 200000 action drain lport 8080 >"$TMP/fetch.json" &
FETCH=$!
rule_added() { [ "$(connctl -j rule show | jget "$(cat)" 'len(d)')" = 1 ]; }
wait_until 10 rule_added || die "the drain rule was not added"
expect_eq "$(connctl -j rule show | jget "$(cat)" 'd[0]["stats"]["pending"]')" 1 \
	"the download waits to drain"
kill_agent
log "agent killed mid-drain"

# While no agent runs: a reset rule's new match is held, its event queued.
start_agent
connctl rule add action reset lport 8081 >/dev/null
kill_agent
in_ns python3 "$CLIENTS_PY" connect --to 127.0.0.1:8081 --count 1 --deadline 10 \
	>"$TMP/held.json" &
HELD=$!
held() { [ "$(established_count '( sport = :8081 )')" -ge 1 ]; }
wait_until 5 held || die "the new connection to 8081 was not established"
log "a reset rule's new match is held while no agent runs"
start_agent
log "agent restarted"
# The counts carry over: they live in the pinned rule_tally, not in the agent.
show=$(connctl -j rule show)
expect_eq "$(jget "$show" '[(r["id"], r["stats"]["matched"], r["stats"]["new_matches"]) for r in d]')" \
	"[(1, 1, 0), (2, 0, 1)]" "(id, matched, new matches) of each rule across two SIGKILLs"

wait "$FETCH"
res=$(cat "$TMP/fetch.json")
log "$res"
expect_body "$res" "$TMP/www/paced" "across the restart"
expect_eq "$(jget "$res" 'd["end"]')" eof "how the drained connection ended"

wait "$HELD"
held_res=$(cat "$TMP/held.json")
log "$held_res"
expect_eq "$(jget "$held_res" 'd["outcomes"]')" "{'reset': 1}" \
	"the connection that matched while no agent ran"
stop_capture
expect_eq "$(capture_count 'tcp[tcpflags] & tcp-rst != 0')" 0 "RSTs on the drained port"
server_fins=$(capture_count 'src port 8080 and tcp[tcpflags] & tcp-fin != 0')
expect_eq "$([ "$server_fins" -ge 1 ] && echo yes)" yes "a FIN from the server"
