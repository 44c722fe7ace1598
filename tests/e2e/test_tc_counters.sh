#!/usr/bin/env bash
# tc on a veth between a client and a server namespace: the flows of an
# observe rule are counted packet for packet and byte for byte as a capture
# on the client side sees them, each direction; the flow shows in the table
# (with its cgroup and namespace) while open and leaves it when closed. Attached where bpftool and tc show
# it; --uninstall removes it.
. "$(dirname "$0")/lib.sh"

setup_env
setup_veth
start_nginx 8080 8081
start_agent --iface veth-s
CAPTURE_NS=$CLIENT_NS CAPTURE_IF=veth-c start_capture "tcp port 8080"

expect_eq "$(in_ns_only bpftool -j net show dev veth-s | jget "$(cat)" \
	'sorted(t["name"].split(":")[0] for t in d[0]["tc"])')" \
	"['connctl_tc_in', 'connctl_tc_out']" "bpftool net: the tc programs on veth-s"
[ -n "$(in_ns_only tc filter show dev veth-s ingress | grep connctl_tc_in)" ] ||
	die "tc filter show: no connctl_tc_in on veth-s ingress"

connctl rule add action observe lport 8080 >/dev/null
# Three keep-alive connections, a request each; the flow table while they idle.
res=$(in_client python3 "$CLIENTS_PY" idle --to 10.99.0.1:8080 --path /small --count 3 \
	--idle 0.2 --deadline 0.3 -- "$CONNCTL_BIN" --socket "$SOCK" -j flow show)
log "$res"
flows=$(jget "$res" 'd["cmd"]["stdout"]')
expect_eq "$(jget "$flows" 'len(d)')" 3 "flows in the table while open"
expect_eq "$(jget "$flows" 'sorted({(f["rule"], f["action"], f["state"], f["lport"]) for f in d})')" \
	"[(1, 'observe', 'open', 8080)]" "what the table says of them"
expect_eq "$(jget "$flows" 'all(f["bytes_out"] > 16384 for f in d)')" True \
	"each flow's bytes out cover its response"
# nginx's sockets send the responses: the flows are in its cgroup, and in
# the agent's namespace.
expect_eq "$(jget "$flows" 'sorted({(f["cgroup"], f["netns_name"]) for f in d})')" \
	"[('${CGROUP#"$CG_ROOT"}', 'agent')]" "the flows' cgroup and namespace"
# A connection to 8081 matches no rule and is not in the table.
body=$(in_client curl -s --max-time 5 http://10.99.0.1:8081/)
expect_eq "$body" "hello from nginx" "a request to 8081"

table_empty() { [ "$(connctl -j flow show)" = "[]" ]; }
wait_until 10 table_empty || die "flows stayed in the table after closing: $(connctl flow show)"
log "the flow table is empty again"
stop_capture

wire=$(python3 "$TOP/tests/e2e/pcap_count.py" "$TMP/cap.pcap" 10.99.0.1)
stats=$(connctl -j stats)
log "capture: $wire"
log "stats: $stats"
r='d["rules"][0]'
expect_eq "$(jget "$stats" "$r[\"flows\"]")" 3 "flows counted"
expect_eq "$(jget "$stats" "$r[\"packets_in\"]")" "$(jget "$wire" 'd["to"]["packets"]')" \
	"packets in (client to server)"
expect_eq "$(jget "$stats" "$r[\"packets_out\"]")" "$(jget "$wire" 'd["from"]["packets"]')" \
	"packets out (server to client)"
expect_eq "$(jget "$stats" "$r[\"bytes_in\"]")" "$(jget "$wire" 'd["to"]["bytes"]')" "bytes in"
expect_eq "$(jget "$stats" "$r[\"bytes_out\"]")" "$(jget "$wire" 'd["from"]["bytes"]')" "bytes out"
expect_eq "$(jget "$stats" "$r[\"bytes_out\"] >= 3 * 16384")" True \
	"bytes out cover the three bodies"

stop_agent
out=$("$CONNCTLD" --uninstall --pin-dir "$PIN_DIR" 2>&1) && die "uninstall outside the namespace succeeded"
log "$out"
[ -n "$(grep "another network namespace" <<<"$out")" ] || die "uninstall outside the namespace: $out"
[ -d "$PIN_DIR" ] || die "uninstall outside the namespace removed the pins anyway"
in_ns_only "$CONNCTLD" --uninstall --pin-dir "$PIN_DIR" >/dev/null 2>&1 || die "uninstall failed"
expect_eq "$(in_ns_only tc filter show dev veth-s ingress | grep -c connctl || true)" 0 \
	"our tc filters after --uninstall"
