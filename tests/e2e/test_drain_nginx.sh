#!/usr/bin/env bash
# drain added while nginx is in the middle of a paced response (limit_rate:
# bursts with idle pauses): the client gets every byte, checksum intact, then
# EOF; on the wire the server sends a FIN and nobody sends an RST.
. "$(dirname "$0")/lib.sh"

setup_env
start_nginx 8080
start_agent
start_capture "tcp port 8080"

res=$(fetch_adding_rule 8080 /paced 200000 action drain lport 8080)
log "$res"
stop_capture

expect_eq "$(jget "$res" 'd["cmd"]["rc"]')" 0 "connctl exit status"
expect_eq "$(jget "$res" 'json.loads(d["cmd"]["stdout"])["matched"]')" 1 \
	"connections matched (the download, server side)"
expect_body "$res" "$TMP/www/paced"
expect_eq "$(jget "$res" 'd["end"]')" eof "how the connection ended"

server_fins=$(capture_count 'src port 8080 and tcp[tcpflags] & tcp-fin != 0')
expect_eq "$([ "$server_fins" -ge 1 ] && echo yes)" yes "a FIN from the server"
expect_eq "$(capture_count 'tcp[tcpflags] & tcp-rst != 0')" 0 "RSTs on the wire"

show=$(connctl -j rule show)
expect_eq "$(jget "$show" 'd[0]["stats"]["closed"]["fin"]')" 1 "closed with a FIN"
expect_eq "$(jget "$show" 'd[0]["stats"]["pending"]')" 0 "nothing left pending"
events=$(connctl -j events)
expect_eq "$(jget "$events" 'd[-1]["outcome"]')" fin "the close event's outcome"
expect_eq "$(jget "$events" 'd[-1]["bytes_out"] >= 1048576')" True \
	"the close event's bytes out cover the response"
