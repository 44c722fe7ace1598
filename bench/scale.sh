#!/usr/bin/env bash
# Scale (issue 16, first rows): new connections per second through sockops
# while RULES rules stand, mixed (one local port each, a remote /32 each, a
# cgroup each among ten siblings) and matching none of them, against the
# same loop with no agent at all. This host's rate drifts by 5-15 % from one
# run to the next, so the three cases take turns, ROUNDS times, and the
# medians are compared, and each round's ratios to its own no-agent run.
# Then a connection that a rule does match is still reset.
# Usage: bench/scale.sh [SECONDS] [RULES] [ROUNDS]
. "$(dirname "$0")/../tests/e2e/lib.sh"

RUN_SECONDS=${1:-5}
RULES=${2:-100000}
ROUNDS=${3:-3}
PORT=8088

setup_env
cgroups=()
for i in $(seq 0 9); do
	mkdir "$CGROUP/r$i"
	cgroups+=("${CGROUP#"$CG_ROOT"}/r$i")
done

rate() {
	in_ns python3 "$TOP/bench/lib/conn_rate.py" "$PORT" "$RUN_SECONDS" |
		jget "$(cat)" 'd["per_second"]'
}

# One round: no agent, the agent with no rule, the agent with RULES rules.
none=() empty=() full=()
for ((r = 0; r < ROUNDS; r++)); do
	none+=("$(rate)")
	start_agent --max-rules 131072 --state-file ""
	empty+=("$(rate)")
	added=$(python3 "$TOP/bench/lib/mixed_rules.py" "$SOCK" "$RULES" "${cgroups[@]}")
	[ "$(jget "$added" 'd["failed"]')" -eq 0 ] || die "rules not added: $added"
	full+=("$(rate)")
	stop_agent
	"$CONNCTLD" --uninstall --pin-dir "$PIN_DIR" >/dev/null 2>&1 || true
done

# A rule that matches is still found among them.
start_agent --max-rules 131072 --state-file ""
python3 "$TOP/bench/lib/mixed_rules.py" "$SOCK" "$RULES" "${cgroups[@]}" >/dev/null
connctl rule add action reset lport 8090 >/dev/null
res=$(in_ns python3 "$TOP/tests/e2e/held_conn.py" 127.0.0.1 8090 5)
matched=$(jget "$res" 'd["client"]')

python3 - "$RUN_SECONDS" "$RULES" "$added" "$matched" "${none[*]}" "${empty[*]}" \
	"${full[*]}" <<'PY'
import json, statistics, sys
secs, rules, added, matched = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3]), sys.argv[4]
none, empty, full = ([int(float(x)) for x in a.split()] for a in sys.argv[5:8])
base = statistics.median(none)
print(f"\nscale: new connections per second through sockops, {secs} s a run, "
      f"{len(none)} rounds taking turns")
print(f"{'':62} {'median':>8} {'ratio':>6}   {'each run':<24}")
def row(label, runs):
    each = " ".join(str(x) for x in runs)
    print(f"{label:62} {statistics.median(runs):8.0f} {statistics.median(runs) / base:6.2f}   {each}")
row("no agent", none)
row("connctld, no rule", empty)
k = added["kinds"]
row(f"connctld, {rules} rules ({k.get('port', 0)} port, {k.get('prefix', 0)} prefix, "
    f"{k.get('cgroup', 0)} cgroup)", full)
print(f"spread of the no-agent runs: {(max(none) - min(none)) / base * 100:.0f} %")
# Each round against its own no-agent run, seconds apart: drift between
# rounds cancels out.
for label, runs in (("no rule", empty), (f"{rules} rules", full)):
    paired = [x / n for x, n in zip(runs, none)]
    print(f"paired, {label}: median {statistics.median(paired):.2f}, each round "
          + " ".join(f"{x:.2f}" for x in paired))
print(f"a new connection a rule matches, among them: {matched}")
PY
[ "$matched" = reset ] || die "a matching connection was not reset among $RULES rules"
