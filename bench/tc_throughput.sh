#!/usr/bin/env bash
# tc datapath cost: requests/s through nginx across a veth, measured by wrk
# from a client namespace, without the agent, then with connctld on the
# veth (tc ingress and egress) holding 10,000 rules none of which match,
# then without again, in one run. Usage: bench/tc_throughput.sh [SECONDS] [RULES]
. "$(dirname "$0")/../tests/e2e/lib.sh"

SECONDS_PER_RUN=${1:-5}
RULES=${2:-10000}

setup_env
setup_veth
start_nginx 8080

run_wrk() {
	in_client wrk -t2 -c50 -d"${SECONDS_PER_RUN}s" http://10.99.0.1:8080/small |
		awk '/^Requests\/sec:/ { print $2 }'
}

# RULES rules that match nothing here: remote prefixes in 198.18.0.0/15.
load_rules() {
	python3 - "$SOCK" "$RULES" <<'PY'
import json, socket, sys
path, n = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_UNIX)
s.connect(path)
f = s.makefile("rw")
for i in range(n):
    f.write(json.dumps({"op": "rule.add", "rule": {"action": "reset",
             "remote": "198.%d.%d.%d" % (18 + i // 65536, i // 256 % 256, i % 256),
             "lport": 8080}}) + "\n")
f.flush()
ok = sum(1 for _ in range(n) if json.loads(f.readline()).get("ok"))
sys.exit(0 if ok == n else 1)
PY
}

without1=$(run_wrk)
start_agent --iface veth-s --max-clients 4
load_rules || die "loading $RULES rules failed"
count=$(connctl -j rule show | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))')
[ "$count" -eq "$RULES" ] || die "$count rules stand, not $RULES"
with=$(run_wrk)
flows=$(connctl -j flow show | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))')
stop_agent
in_ns_only "$CONNCTLD" --uninstall --pin-dir "$PIN_DIR" >/dev/null 2>&1 || die "uninstall failed"
without2=$(run_wrk)
[ "$flows" -eq 0 ] || die "no rule should match, yet $flows flows are in the table"

without=$(bc -l <<<"($without1 + $without2) / 2")
printf '\ntc datapath: nginx /small (16 KiB) over a veth, wrk -t2 -c50, %ss per run\n' \
	"$SECONDS_PER_RUN"
printf '%-44s %12s %8s\n' run "requests/s" ratio
printf '%-44s %12.0f %8.2f\n' "without the agent (mean of before and after)" "$without" 1
printf '%-44s %12.0f %8.2f\n' "  before" "$without1" "$(bc -l <<<"$without1 / $without")"
printf '%-44s %12.0f %8.2f\n' "  after" "$without2" "$(bc -l <<<"$without2 / $without")"
printf '%-44s %12.0f %8.2f\n' "connctld on the veth, $RULES rules, no match" "$with" \
	"$(bc -l <<<"$with / $without")"
