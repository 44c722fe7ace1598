#!/usr/bin/env bash
# A drain waiting on a busy server-side connection costs no walk of the
# sockets: sockops reports each boundary as the ACK that ends a burst comes
# (the agent looks again when the quiet would run out), so no sweep runs
# while it waits (connctl_sweeps_total stays 0). The connection: a paced
# download (nginx limit_rate), whose pauses look like finished answers at L4
# and so keep the quiet rule. Once it is complete and quiet, the connection
# is closed with a FIN after the quiet period.
. "$(dirname "$0")/lib.sh"

setup_env
start_nginx 8080
start_agent --metrics 9548
sweeps() { agent_metric 9548 connctl_sweeps_total; }

res=$(fetch_adding_rule 8080 /paced 200000 action drain lport 8080 quiet 700ms)
log "paced download: $res"
expect_body "$res" "$TMP/www/paced"
expect_fin_after_quiet "$res" 700
expect_eq "$(sweeps)" 0 "sweeps while the drain waited"
expect_eq "$(connctl -j rule show 1 | jget "$(cat)" 'd[0]["stats"]["closed"]["fin"]')" 1 \
	"closes with a FIN"
