#!/usr/bin/env bash
# A drain whose connection never reaches a boundary (a paced download that
# outlasts the timeout) ends with an RST at the timeout, and the close event
# says rst-timeout.
. "$(dirname "$0")/lib.sh"

setup_env
start_nginx 8080
start_agent
start_capture "tcp port 8080"

res=$(fetch_adding_rule 8080 /paced 100000 action drain lport 8080 timeout 1s)
log "$res"
stop_capture

expect_eq "$(jget "$res" 'd["end"]')" reset "how the client's connection ended"
expect_eq "$(jget "$res" 'd["bytes"] < 1048576')" True "the download was cut short"
expect_eq "$(jget "$res" 'd["cmd"]["rc"]')" 0 "connctl exit status (the rule came mid-download)"
rsts=$(capture_count 'src port 8080 and tcp[tcpflags] & tcp-rst != 0')
expect_eq "$([ "$rsts" -ge 1 ] && echo yes)" yes "an RST from the server side"

events=$(connctl -j events)
log "$events"
expect_eq "$(jget "$events" 'd[-1]["outcome"]')" rst-timeout "the close event's outcome"
expect_eq "$(jget "$events" '950 <= d[-1]["tag_to_close_ms"] < 1500')" True \
	"reset about 1 s after the tag"
expect_eq "$(connctl -j rule show | jget "$(cat)" 'd[0]["stats"]["closed"]["rst-timeout"]')" 1 \
	"counted as rst-timeout"
