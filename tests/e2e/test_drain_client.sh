#!/usr/bin/env bash
# A client-side socket matched by a drain rule (rport) is closed once the
# response it is reading has arrived in full and the server has been quiet:
# every byte arrives, then the client's own recv returns 0, and the first FIN
# on the wire is the client's. No RST. Its boundaries are reported as the
# client reads (a tracepoint at recv()): no sweep of the sockets runs while
# it waits.
. "$(dirname "$0")/lib.sh"

setup_env
start_nginx 8080
start_agent --metrics 9549
start_capture "tcp port 8080"

res=$(fetch_adding_rule 8080 /paced 200000 action drain rport 8080)
log "$res"
stop_capture

expect_eq "$(jget "$res" 'json.loads(d["cmd"]["stdout"])["matched"]')" 1 \
	"connections matched (the client side only)"
expect_body "$res" "$TMP/www/paced"
expect_eq "$(jget "$res" 'd["end"]')" eof "how the client's connection ended"
first_fin=$(tcpdump -r "$TMP/cap.pcap" -nn 'tcp[tcpflags] & tcp-fin != 0' 2>/dev/null |
	head -n 1 | awk '{ print $5 }')
expect_eq "$first_fin" "127.0.0.1.8080:" "the first FIN goes to the server (sent by the client)"
expect_eq "$(capture_count 'tcp[tcpflags] & tcp-rst != 0')" 0 "RSTs on the wire"
sweeps=$(in_ns_only curl -s http://127.0.0.1:9549/metrics |
	awk '$1 == "connctl_sweeps_total" { print $2 }')
expect_eq "$sweeps" 0 "sweeps while the client-side drain waited"
