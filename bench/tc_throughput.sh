#!/usr/bin/env bash
# Datapath cost: nginx across a veth, measured by wrk from a client
# namespace: keep-alive requests/s, and new connections/s (each request on a
# connection of its own, `Connection: close`). Without the agent, then with
# connctld on the veth (tc ingress and egress) and sockops on nginx's cgroup
# holding 10,000 rules none of which match, then without again, in one run.
# Usage: bench/tc_throughput.sh [SECONDS] [RULES]
. "$(dirname "$0")/../tests/e2e/lib.sh"

SECONDS_PER_RUN=${1:-5}
RULES=${2:-10000}

setup_env
setup_veth
# Connection: close runs leave a TIME_WAIT per connection on the client:
# reuse them, or the ports run out and the run measures that instead.
in_client sysctl -qw net.ipv4.tcp_tw_reuse=1 net.ipv4.ip_local_port_range="1024 65000"
start_nginx 8080

# run_wrk [WRK ARGS]: requests/s.
run_wrk() {
	in_client wrk -t2 -c50 -d"${SECONDS_PER_RUN}s" "$@" http://10.99.0.1:8080/small |
		awk '/^Requests\/sec:/ { print $2 }'
}

# Both measures: "KEEPALIVE NEWCONN".
run_both() {
	echo "$(run_wrk) $(run_wrk -H 'Connection: close')"
}


read -r ka_without1 nc_without1 <<<"$(run_both)"
start_agent --iface veth-s --max-clients 4
# Rules that match nothing here: remote addresses in 198.18.0.0/15.
python3 "$TOP/bench/lib/rule_adds.py" --pipeline "$SOCK" "$RULES" 1 >/dev/null ||
	die "loading $RULES rules failed"
count=$(connctl -j rule show | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))')
[ "$count" -eq "$RULES" ] || die "$count rules stand, not $RULES"
read -r ka_with nc_with <<<"$(run_both)"
flows=$(connctl -j flow show | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))')
stop_agent
in_ns_only "$CONNCTLD" --uninstall --pin-dir "$PIN_DIR" >/dev/null 2>&1 || die "uninstall failed"
read -r ka_without2 nc_without2 <<<"$(run_both)"
[ "$flows" -eq 0 ] || die "no rule should match, yet $flows flows are in the table"

printf '\ndatapath: nginx /small (16 KiB) over a veth, wrk -t2 -c50, %ss per run\n' \
	"$SECONDS_PER_RUN"
report() {	# report TITLE BEFORE WITH AFTER
	local without
	without=$(bc -l <<<"($2 + $4) / 2")
	printf '%-50s %12s %8s\n' "$1" "per second" ratio
	printf '%-50s %12.0f %8.2f\n' "  without the agent (mean of before and after)" "$without" 1
	printf '%-50s %12.0f %8.2f\n' "    before" "$2" "$(bc -l <<<"$2 / $without")"
	printf '%-50s %12.0f %8.2f\n' "    after" "$4" "$(bc -l <<<"$4 / $without")"
	printf '%-50s %12.0f %8.2f\n' "  connctld, $RULES rules, no match" "$3" \
		"$(bc -l <<<"$3 / $without")"
}
report "keep-alive requests" "$ka_without1" "$ka_with" "$ka_without2"
report "new connections (Connection: close)" "$nc_without1" "$nc_with" "$nc_without2"
