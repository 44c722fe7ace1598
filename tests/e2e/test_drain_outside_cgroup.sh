#!/usr/bin/env bash
# Drains of a server outside --cgroup, whose boundaries no sockops callback
# reports: the agent looks at each waiting connection alone, with one
# sock_diag lookup when its quiet could have run out, instead of walking the
# namespace every 20 ms. A paced download completes, then ends with a FIN
# after the quiet; clients under load are drained while they pause, with no
# response cut and no RST; and the namespace is walked only for a connection
# whose last request and answer fell in the same millisecond (who spoke last
# is then the kernel's to say), never every 20 ms.
. "$(dirname "$0")/lib.sh"

setup_env
mkdir "$CGROUP/agent" "$CGROUP/servers"
CGROUP=$CGROUP/servers start_nginx 8080
start_agent --cgroup "$CGROUP/agent" --metrics 9551
metric() { agent_metric 9551 "$1"; }
walks() { metric 'connctl_walks_total{for="sweep"}'; }

# A paced download (bursts, then pauses shorter than the quiet).
res=$(fetch_adding_rule 8080 /paced 200000 action drain lport 8080 quiet 700ms)
log "paced download: $res"
expect_body "$res" "$TMP/www/paced"
expect_fin_after_quiet "$res" 700
# About 5 s of download: sweeps every 20 ms would have walked some 250 times.
expect_eq "$(( $(walks) <= 3 ))" 1 "walks of the namespace while the download waited ($(walks))"
looks=$(metric connctl_drain_looks_total)
expect_eq "$(( looks >= 1 && looks <= 20 ))" 1 "sock_diag looks at the download ($looks)"
connctl rule del 1 >/dev/null

# Busy keep-alive clients that now and then pause longer than the quiet.
walks0=$(walks)
start_capture "tcp port 8080 and tcp[tcpflags] & tcp-rst != 0"
res=$(in_ns python3 "$CLIENTS_PY" load --to 127.0.0.1:8080 --path /small --count 20 \
	--sha256 "$(sha256 "$TMP/www/small")" --seconds 3 --pause 0.6 --pause-chance 0.05 \
	-- "$CONNCTL_BIN" --socket "$SOCK" -j rule add action drain lport 8080 quiet 300ms)
log "$res"
stop_capture
expect_load_clean "$res"
expect_eq "$(jget "$res" 'd["results"]["reopened"] >= 10')" True \
	"connections drained while they paused (reopened by the client)"
expect_eq "$(capture_count 'tcp[tcpflags] & tcp-rst != 0')" 0 "RSTs on the wire"
fins=$(connctl -j rule show 2 | jget "$(cat)" 'd[0]["stats"]["closed"]["fin"]')
expect_eq "$(( fins >= 10 ))" 1 "closed with a FIN ($fins)"
expect_eq "$(connctl -j rule show 2 | jget "$(cat)" 'd[0]["stats"]["closed"]["rst-timeout"]')" \
	0 "reset at the timeout"
# The 3 s with 20 connections: sweeps every 20 ms would be 150 walks.
walked=$(( $(walks) - walks0 ))
log "walks for the kernel's judgement: $walked"
expect_eq "$(( walked < 60 ))" 1 "walks of the namespace under load ($walked)"
