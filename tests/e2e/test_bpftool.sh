#!/usr/bin/env bash
# What an operator sees with bpftool: typed rules in the pinned map, the
# sockops program on the cgroup, the maps and link under the pin dir.
. "$(dirname "$0")/lib.sh"

setup_env
start_agent

connctl rule add action reset local 10.1.0.0/16 rport 1000-2000 id 42 >/dev/null
dump=$(bpftool -j map dump pinned "$PIN_DIR/rules")
log "$dump"
expect_eq "$(jget "$dump" 'len(d)')" 1 "entries in the rules map"
expect_eq "$(jget "$dump" 'd[0]["formatted"]["key"]')" 42 "key"
expect_eq "$(jget "$dump" 'd[0]["formatted"]["value"]["action"]')" CONNCTL_ACTION_RESET "action"
expect_eq "$(jget "$dump" 'd[0]["formatted"]["value"]["family"]')" CONNCTL_FAMILY_IPV4 "family"
expect_eq "$(jget "$dump" 'd[0]["formatted"]["value"]["local"]["addr"][10:]')" "[255, 255, 10, 1, 0, 0]" \
	"local address (IPv4-mapped)"
expect_eq "$(jget "$dump" 'd[0]["formatted"]["value"]["rport"]')" "{'min': 1000, 'max': 2000}" "rport"

# expect_listed PATTERN...: each in what bpftool lists on the cgroup.
expect_listed() {
	local attached prog
	# Read whole first: grep -q would stop reading, and bpftool die of SIGPIPE.
	attached=$(bpftool cgroup show "$CGROUP")
	for prog in "$@"; do
		grep -q "$prog" <<<"$attached" ||
			die "bpftool cgroup show does not list $prog on $CGROUP: $attached"
	done
}

# The TCP reset rule's hold; a UDP reset rule's connect/sendmsg refusals.
expect_listed 'sock_ops.*connctl_sockops' 'inet_ingress.*connctl_skb_in' \
	'inet_egress.*connctl_skb_out'
connctl rule add action reset proto udp remote 192.0.2.7 >/dev/null
expect_listed 'inet4_connect.*connctl_connect4' 'udp6_sendmsg.*connctl_sendmsg6'
log "ok: bpftool cgroup show lists connctl_sockops, cgroup_skb and the UDP connect/sendmsg programs"
for pin in layout rules sk_tags events sockops_link; do
	[ -e "$PIN_DIR/$pin" ] || die "$PIN_DIR/$pin is missing"
done
log "ok: pins present"
