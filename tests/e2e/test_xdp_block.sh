#!/usr/bin/env bash
# block: a peer's existing connections are reset, and from then on its
# packets are dropped by XDP on the agent's --iface, before the stack: its
# new SYNs get no SYN-ACK and no RST (curl times out), other peers are
# served, and the drops are counted per rule (rule show, stats, metrics,
# bpftool). Deleting the rule lets the peer in again. XDP is on the
# interface only while a block rule stands (it costs every packet there),
# and stays across a restart while one does.
. "$(dirname "$0")/lib.sh"

setup_env
setup_veth
ip -n "$CLIENT_NS" addr add 10.99.0.3/24 dev veth-c	# a second peer, not blocked
start_nginx 8080
METRICS_PORT=9464
start_agent --iface veth-s --metrics "127.0.0.1:$METRICS_PORT"
xdp_name() {
	in_ns_only ip -j -d link show dev veth-s |
		jget "$(cat)" 'd[0].get("xdp", {}).get("prog", {}).get("name", "none")'
}
xdp_metric() { agent_metric "$METRICS_PORT" 'connctl_programs_attached{program="xdp"}'; }
xdp_gone() { [ "$(xdp_name)" = none ]; }

# No block rule yet: nothing on the interface's packets at XDP.
grep -q "tc programs on veth-s" "$AGENT_LOG" || die "no tc programs on veth-s"
expect_eq "$(xdp_name)" none "the XDP program on veth-s before any block rule"
expect_eq "$(xdp_metric)" 0 "connctl_programs_attached, xdp, before any block rule"

fetch() {
	in_client curl -s -o /dev/null -w '%{http_code}' --connect-timeout 2 \
		--interface "$1" http://10.99.0.1:8080/ || true
}
expect_eq "$(fetch 10.99.0.2)" 200 "10.99.0.2 before the rule"

# The peer's open keep-alive connection is reset by the block, as by a reset.
CAPTURE_NS=$CLIENT_NS CAPTURE_IF=veth-c start_capture "tcp port 8080"
res=$(in_client python3 "$CLIENTS_PY" hold --to 10.99.0.1:8080 --count 1 \
	-- "$CONNCTL_BIN" --socket "$SOCK" -j rule add action block remote 10.99.0.2)
log "$res"
expect_eq "$(jget "$res" 'd["outcomes"]["10.99.0.1:8080"]')" "{'reset': 1}" \
	"the peer's open connection after the block"
RULE=$(connctl -j rule show | jget "$(cat)" 'd[0]["id"]')
# Our XDP program is on the interface (native or generic, as the driver has it).
expect_eq "$(xdp_name)" connctl_xdp "the XDP program on veth-s with the block rule"
expect_eq "$(xdp_metric)" 1 "connctl_programs_attached, xdp, with the block rule"
expect_eq "$(connctl -j rule show "$RULE" | jget "$(cat)" 'd[0]["action"]')" block \
	"rule show: the action"

# New connections from the peer: SYNs dropped before the stack.
t0=$(date +%s%N)
expect_eq "$(fetch 10.99.0.2)" 000 "10.99.0.2 after the block (no answer)"
elapsed_ms=$((($(date +%s%N) - t0) / 1000000))
[ "$elapsed_ms" -ge 1900 ] || die "curl gave up after $elapsed_ms ms: something answered"
expect_eq "$(fetch 10.99.0.3)" 200 "10.99.0.3, not blocked"
stop_capture
# After the reset's RST, nothing from the server to the blocked peer: its
# SYNs never reached the listener, so no SYN-ACK and no RST came back.
synacks=$(capture_count 'src host 10.99.0.1 and dst host 10.99.0.2 and tcp[tcpflags] & tcp-syn != 0')
syns=$(capture_count 'src host 10.99.0.2 and tcp[tcpflags] == tcp-syn')
log "the blocked peer's SYNs: $syns; SYN-ACKs it got: $synacks (one: before the block)"
[ "$syns" -ge 3 ] || die "too few SYNs to judge: $syns"
expect_eq "$synacks" 1 "SYN-ACKs to the blocked peer (the held connection's, before)"

# Counted per rule: rule show, stats, metrics, bpftool.
blocked=$(connctl -j rule show "$RULE" | jget "$(cat)" 'd[0]["stats"]["blocked"]["packets"]')
[ "$blocked" -ge 2 ] || die "rule show counts $blocked blocked packets"
log "blocked packets: $blocked (the SYN and its retries)"
expect_eq "$(connctl -j stats | jget "$(cat)" "[r['blocked_packets'] for r in d['rules'] if r['rule'] == $RULE][0]")" \
	"$blocked" "stats: blocked packets"
metric=$(in_ns_only curl -s "http://127.0.0.1:$METRICS_PORT/metrics")
expect_eq "$(awk '$1 == "connctl_xdp_blocked_packets" { print $2 }' <<<"$metric")" "$blocked" \
	"metrics: connctl_xdp_blocked_packets"
expect_eq "$(bpftool -j map dump pinned "$PIN_DIR/rule_stats" | jget "$(cat)" \
	"sum(c['value']['blocked_packets'] for e in d if e['formatted']['key'] == $RULE for c in e['formatted']['values'])")" \
	"$blocked" "bpftool: rule_stats' blocked_packets, per CPU summed"

# The rule gone, the peer is served again, and XDP leaves the interface.
connctl rule del "$RULE" >/dev/null
expect_eq "$(fetch 10.99.0.2)" 200 "10.99.0.2 after the rule is deleted"
wait_until 10 xdp_gone || die "XDP still on veth-s with no block rule"
expect_eq "$(xdp_metric)" 0 "connctl_programs_attached, xdp, after the rule is deleted"

# Stopped with a block rule standing, the XDP program stays (enforcement
# survives restarts); a restart replaces it and keeps it while the rule
# stands, and releases it once the rule's ttl ran out while no agent ran;
# released too when no --iface names the interface, or uninstalled.
connctl rule add action block remote 10.99.0.2 ttl 10s >/dev/null
expires=$(( $(date +%s) + 10 ))
expect_eq "$(xdp_name)" connctl_xdp "the XDP program with a block rule again"
stop_agent
expect_eq "$(xdp_name)" connctl_xdp "the XDP program with the agent stopped"
# A new agent on the same interface takes its predecessor's place.
start_agent --iface veth-s
grep -q "xdp program on veth-s (.*, replaced)" "$AGENT_LOG" ||
	die "the restarted agent did not replace its predecessor's XDP program"
expect_eq "$(xdp_name)" connctl_xdp "the XDP program after a restart"
expect_eq "$(fetch 10.99.0.2)" 000 "10.99.0.2 after the restart (still blocked)"
stop_agent
expired() { [ "$(date +%s)" -gt "$expires" ]; }
wait_until 15 expired || die "the block rule's ttl did not run out"
expect_eq "$(xdp_name)" connctl_xdp "the XDP program, the agent stopped and the ttl out"
released() { grep -c "detached XDP on the --iface interfaces: no block rule left" "$AGENT_LOG" || true; }
released_before=$(released)
start_agent --iface veth-s
wait_until 10 xdp_gone || die "XDP still on veth-s with the block rule expired"
expect_eq "$(released)" $((released_before + 1)) "the restarted agent's word on releasing XDP"
# One not asked for the interface releases it.
connctl rule add action block remote 10.99.0.2 >/dev/null
expect_eq "$(xdp_name)" connctl_xdp "the XDP program with a block rule, a third time"
stop_agent
start_agent
expect_eq "$(xdp_name)" none "the XDP program once no --iface names veth-s"
stop_agent
in_ns_only "$CONNCTLD" --uninstall --pin-dir "$PIN_DIR" >/dev/null 2>&1 || die "uninstall failed"
expect_eq "$(xdp_name)" none "the XDP program after --uninstall"
