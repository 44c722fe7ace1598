#!/usr/bin/env bash
# cgroup_skb (the hold of TCP reset and drain matches) and connect/sendmsg
# (UDP refusals) cost every packet and call of the cgroup's sockets: they
# are on the cgroup only while a rule needs them, TCP reset or drain for the
# first, UDP reset for the others. Attached before such a rule can match (a
# new match is still held, not a byte through; a UDP call still refused),
# kept through a crash and a restart, detached and unpinned once the last
# one goes; sockops stays throughout, and so do connect and sock_release's
# listing of connected UDP sockets (udp_conns). The recv() tracepoint, run at every
# recv() of the host, is the agent's only while a drain rule stands.
. "$(dirname "$0")/lib.sh"

setup_env
# Always there (sorted as cgroup_progs sorts): sockops, and the UDP listing.
BASE_PROGS="cgroup_inet4_connect cgroup_inet6_connect cgroup_inet_sock_release cgroup_sock_ops"
HOLD_PROGS="cgroup_inet4_connect cgroup_inet6_connect cgroup_inet_egress cgroup_inet_ingress cgroup_inet_sock_release cgroup_sock_ops"
UDP_PROGS="cgroup_inet4_connect cgroup_inet4_connect cgroup_inet6_connect cgroup_inet6_connect cgroup_inet_sock_release cgroup_sock_ops cgroup_udp4_sendmsg cgroup_udp6_sendmsg"

# The attach types on the test's cgroup, as bpftool lists them, sorted.
cgroup_progs() {
	bpftool -j cgroup show "$CGROUP" |
		python3 -c 'import json, sys; print(" ".join(sorted(p["attach_type"] for p in json.load(sys.stdin))))'
}

progs_are() { [ "$(cgroup_progs)" = "$1" ]; }

# Whether the agent holds a link to the sock_recv_length tracepoint.
recv_watched() {
	local ids
	ids=$(awk '/^link_id:/ { print $2 }' /proc/"$AGENT_PID"/fdinfo/* 2>/dev/null | sort -u | tr '\n' ' ')
	bpftool -j link show | python3 -c '
import json, sys
ids = set(int(x) for x in sys.argv[1].split())
sys.exit(not any(l["id"] in ids and l.get("tp_name") == "sock_recv_length"
                 for l in json.load(sys.stdin)))' "$ids"
}
recv_unwatched() { ! recv_watched; }

expect_progs() {
	wait_until "${3:-0}" progs_are "$1" ||
		die "$2: on the cgroup: '$(cgroup_progs)', want '$1'"
}

expect_held_reset() {
	local res
	res=$(in_ns python3 "$TOP/tests/e2e/held_conn.py" 127.0.0.1 8080 5)
	log "$1: $res"
	expect_eq "$(jget "$res" 'd["client"]')" reset "$1: the client's outcome"
	expect_eq "$(jget "$res" 'd["server_got"]')" 0 "$1: bytes that reached the server"
}

# The agent's own word on it: connctl_programs_attached.
attached_metric() { agent_metric 9541 "connctl_programs_attached{program=\"$1\"}"; }

start_agent --metrics 9541
expect_progs "$BASE_PROGS" "no rule"
expect_eq "$(attached_metric cgroup_skb) $(attached_metric connect_sendmsg) $(attached_metric recv)" \
	"0 0 0" "connctl_programs_attached with no rule (cgroup_skb, connect_sendmsg, recv)"
[ ! -e "$PIN_DIR/skb_in_link" ] || die "skb_in_link pinned with no rule standing"
recv_unwatched || die "recv() watched with no rule standing"

# Observe and cancel rules hold nothing.
connctl rule add action observe lport 8081 >/dev/null
connctl rule add action cancel lport 8082 >/dev/null
expect_progs "$BASE_PROGS" "observe and cancel rules"
# A once reset destroys in its walk, and never stands: nothing to hold.
connctl rule add action reset lport 8084 once >/dev/null
expect_progs "$BASE_PROGS" "a once reset"

# A UDP reset rule: connect and sendmsg only, refusing at once; gone after.
udp_id=$(connctl -j rule add action reset proto udp remote 127.0.0.1 rport 5300 | jget "$(cat)" 'd["id"]')
expect_progs "$UDP_PROGS" "a UDP reset rule"
expect_eq "$(attached_metric connect_sendmsg)" 1 "connctl_programs_attached, connect_sendmsg"
out=$(in_ns python3 "$TOP/tests/e2e/udp_peer.py" connect 127.0.0.1 5300)
expect_eq "$(jget "$out" 'd["connect"]') $(jget "$out" 'd["sendto"]')" "EPERM EPERM" \
	"a new connect() and an unconnected sendto() to the rule's peer"
connctl rule del "$udp_id" >/dev/null
expect_progs "$BASE_PROGS" "the UDP reset rule deleted" 5

connctl rule add action reset lport 8080 >/dev/null
expect_progs "$HOLD_PROGS" "a reset rule, at once"
[ -e "$PIN_DIR/skb_in_link" ] || die "skb_in_link not pinned while a reset rule stands"
expect_held_reset "a new match, just attached"
expect_eq "$(attached_metric cgroup_skb)" 1 "connctl_programs_attached, cgroup_skb"
recv_unwatched || die "recv() watched for a reset rule"

# A crash leaves them attached: a new match is held with no agent (then reset).
kill_agent
expect_progs "$HOLD_PROGS" "the agent killed"
start_agent
expect_progs "$HOLD_PROGS" "a restarted agent"
grep -q "adopted the programs" "$AGENT_LOG" || die "the restarted agent did not adopt the links"

# Pins removed (uninstall): the rule comes back from the state file, with them.
stop_agent
out=$(nsenter --net="$NETNS_PATH" -- "$CONNCTLD" --uninstall --pin-dir "$PIN_DIR" 2>&1)
expect_progs "" "after --uninstall"
# The UDP links were never attached: their absence is no error to report.
expect_eq "$out" "connctld: uninstalled $PIN_DIR" "what --uninstall says"
start_agent
expect_progs "$HOLD_PROGS" "the reset rule restored from the state file"
expect_held_reset "a new match, after the restore"

# The last reset or drain rule gone: detached and unpinned within two ticks.
reset_id=$(connctl -j rule show | jget "$(cat)" '[r["id"] for r in d if r["action"] == "reset"][0]')
drain_id=$(connctl -j rule add action drain lport 8083 | jget "$(cat)" 'd["id"]')
recv_watched || die "recv() not watched while a drain rule stands"
connctl rule del "$reset_id" >/dev/null
# What must not happen has no event to wait for: three ticks of the agent.
sleep 3
expect_progs "$HOLD_PROGS" "a drain rule still standing"
connctl rule del "$drain_id" >/dev/null
expect_progs "$BASE_PROGS" "no reset or drain rule left" 5
[ ! -e "$PIN_DIR/skb_in_link" ] || die "skb_in_link still pinned"
[ -e "$PIN_DIR/sockops_link" ] || die "sockops_link unpinned"
grep -q "detached cgroup_skb" "$AGENT_LOG" || die "the agent did not say it detached them"
wait_until 5 recv_unwatched || die "recv() still watched with no drain rule"

# A `once` drain never stands: the links come with its walk, stay while its
# drains are followed, and go after.
pairs_start once 127.0.0.1 9090 3 "$NETNS_PATH"
connctl rule add action drain lport 9090 quiet 1s once >/dev/null
expect_progs "$HOLD_PROGS" "a once drain, as it is applied"
recv_watched || die "recv() not watched while a once drain is followed"
pairs_end once
expect_eq "$(jget "$PAIRS_RES" 'd["eof"]')" 3 "idle clients that saw a FIN"
expect_progs "$BASE_PROGS" "the once drain done" 5
wait_until 5 recv_unwatched || die "recv() still watched after the once drain"

# And back on demand: the same agent holds a new match again.
connctl rule add action reset lport 8080 >/dev/null
expect_held_reset "attached again"
log "ok: the hold programs follow the reset and drain rules"
