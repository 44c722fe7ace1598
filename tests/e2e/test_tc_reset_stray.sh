#!/usr/bin/env bash
# After a reset, a packet of the old flow that still arrives (here: the
# client's request, replayed from a capture) is dropped at tc ingress, before
# the stack, and counted (XDP, which drops strays earlier, is on the
# interface only while a block rule stands); the server never sees it, so it
# answers with no second RST.
. "$(dirname "$0")/lib.sh"

setup_env
setup_veth
start_nginx 8080
start_agent --iface veth-s
connctl rule add action observe lport 8081 >/dev/null	# tc sees rules from the start
CAPTURE_NS=$CLIENT_NS CAPTURE_IF=veth-c CAPTURE_SNAP="-s 0" start_capture "tcp port 8080"

res=$(in_client python3 "$CLIENTS_PY" hold --to 10.99.0.1:8080 --count 1 --path /small \
	-- "$CONNCTL_BIN" --socket "$SOCK" -j rule add action reset lport 8080)
log "$res"
expect_eq "$(jget "$res" 'd["outcomes"]["10.99.0.1:8080"]')" "{'reset': 1}" \
	"the held connection after the reset"
flow=$(connctl -j flow show rule 2)
log "$flow"
expect_eq "$(jget "$flow" '[f["state"] for f in d]')" "['reset']" "the flow's state"

sent=$(in_client python3 "$TOP/tests/e2e/replay.py" "$TMP/cap.pcap" 10.99.0.1 veth-c)
log "replayed a $sent-byte frame of the old flow"
dropped() { [ "$(connctl -j flow show rule 2 | jget "$(cat)" 'd[0]["dropped"]')" = 1 ]; }
wait_until 5 dropped || die "the stray was not dropped: $(connctl flow show)"
stop_capture
expect_eq "$(connctl -j stats | jget "$(cat)" '[(r["dropped"], r["dropped_xdp"]) for r in d["rules"] if r["rule"] == 2][0]')" \
	"(1, 0)" "dropped strays counted for the rule (by tc; no XDP without a block rule)"
expect_eq "$(capture_count 'src host 10.99.0.1 and tcp[tcpflags] & tcp-rst != 0')" 1 \
	"RSTs from the server (the reset's own, none for the stray)"

# bpftool prints the flow table with its types: enum names, the key's fields.
dump=$(bpftool -j map dump pinned "$PIN_DIR/flows")
log "$dump"
expect_eq "$(jget "$dump" '[(e["formatted"]["key"]["lport"], e["formatted"]["value"]["state"], e["formatted"]["value"]["action"], e["formatted"]["value"]["dropped"]) for e in d]')" \
	"[(8080, 'CONNCTL_FLOW_RESET', 'CONNCTL_ACTION_RESET', 1)]" "bpftool map dump of flows"
stats_dump=$(bpftool -j map dump pinned "$PIN_DIR/rule_stats")
expect_eq "$(jget "$stats_dump" 'sum(c["value"]["dropped"] for e in d if e["formatted"]["key"] == 2 for c in e["formatted"]["values"])')" \
	1 "bpftool map dump of rule_stats (per CPU, summed)"
