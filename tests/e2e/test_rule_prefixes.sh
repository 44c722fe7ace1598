#!/usr/bin/env bash
# New connections are matched through the rules' index by remote prefix:
# a rule on 127.0.0.0/8 still resets a connection from 127.0.0.1 when rules
# on 127.0.0.1/32 (that do not match it) stand in front of it; also when
# more of those stand than one index entry lists, and after some go again.
. "$(dirname "$0")/lib.sh"

setup_env
start_nginx 9400
start_agent

outcome() {
	in_ns python3 "$CLIENTS_PY" connect --to 127.0.0.1:9400 --count 3 --deadline 2 |
		jget "$(cat)" 'd["outcomes"]'
}

connctl rule add action reset remote 127.0.0.1/32 lport 1 >/dev/null
expect_eq "$(outcome)" "{'ok': 3}" "a /32 rule on another port only"
wide=$(connctl -j rule add action reset remote 127.0.0.0/8 lport 9400 | jget "$(cat)" 'd["id"]')
expect_eq "$(outcome)" "{'reset': 3}" "the /8 rule below the /32 entry"
for p in 2 3 4 5 6 7 8; do
	connctl rule add action observe remote 127.0.0.1 lport "$p" >/dev/null
done
expect_eq "$(outcome)" "{'reset': 3}" "with 8 rules on the /32 (more than an entry lists)"
for id in 3 4 5 6; do
	connctl rule del "$id" >/dev/null
done
expect_eq "$(outcome)" "{'reset': 3}" "after 4 of them went (the entry lists all again)"
connctl rule add action reset remote 127.0.0.1 lport 9400 >/dev/null
connctl rule del "$wide" >/dev/null
expect_eq "$(outcome)" "{'reset': 3}" "the /32 reset rule, the /8 gone"
connctl rule del "$(connctl -j rule show | jget "$(cat)" 'd[-1]["id"]')" >/dev/null
expect_eq "$(outcome)" "{'ok': 3}" "no reset rule left for 9400"
