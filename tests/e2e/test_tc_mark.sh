#!/usr/bin/env bash
# `mark N`: packets of the rule's flows carry skb mark N. An nftables rule in
# the server namespace counts marked packets arriving (tc ingress runs before
# netfilter's prerouting): it counts exactly the rule's packets in, IPv4 and
# IPv6, and none of another port's traffic.
. "$(dirname "$0")/lib.sh"

setup_env
setup_veth
start_nginx 8080 8081
start_agent --iface veth-s

in_ns_only nft -f - <<'NFT'
table inet cc_mark {
	chain pre {
		type filter hook prerouting priority -150; policy accept;
		meta mark 42 counter
	}
}
NFT
nft_marked() {
	in_ns_only nft -j list table inet cc_mark | jget "$(cat)" \
		'[r["rule"]["expr"][1]["counter"]["packets"] for r in d["nftables"] if "rule" in r][0]'
}

connctl rule add action observe lport 8080 mark 42 >/dev/null
expect_eq "$(connctl -j rule show | jget "$(cat)" 'd[0]["mark"]')" 42 "the rule's mark"
for to in 10.99.0.1:8080 10.99.0.1:8081 '[fd99::1]:8080' '[fd99::1]:8081'; do
	res=$(in_client python3 "$CLIENTS_PY" connect --to "$to" --path /small --count 5)
	expect_eq "$(jget "$res" 'd["outcomes"]')" "{'ok': 5}" "requests to $to"
done
table_empty() { [ "$(connctl -j flow show)" = "[]" ]; }
wait_until 10 table_empty || die "flows stayed in the table"

stats=$(connctl -j stats)
log "$stats"
packets_in=$(jget "$stats" 'd["rules"][0]["packets_in"]')
expect_eq "$(jget "$stats" 'd["rules"][0]["flows"]')" 10 "flows counted (5 IPv4, 5 IPv6)"
expect_eq "$([ "$packets_in" -ge 50 ] && echo yes)" yes "packets in counted ($packets_in)"
expect_eq "$(nft_marked)" "$packets_in" "packets nftables saw with mark 42"
