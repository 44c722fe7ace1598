#!/usr/bin/env bash
# Scale (issue 16, first rows): new connections per second through sockops
# while RULES rules stand, mixed (one local port each, a remote /32 each, a
# cgroup each among ten siblings) and matching none of them, against the
# same loop with no agent at all, in one run; then a connection that a rule
# does match is still reset. Usage: bench/scale.sh [SECONDS] [RULES]
. "$(dirname "$0")/../tests/e2e/lib.sh"

RUN_SECONDS=${1:-5}
RULES=${2:-100000}
PORT=8088

setup_env
cgroups=()
for i in $(seq 0 9); do
	mkdir "$CGROUP/r$i"
	cgroups+=("${CGROUP#"$CG_ROOT"}/r$i")
done

rate() { in_ns python3 "$TOP/bench/lib/conn_rate.py" "$PORT" "$RUN_SECONDS"; }
rate_of() { jget "$1" 'd["per_second"]'; }

none=$(rate)
start_agent --max-rules 131072 --state-file ""
empty=$(rate)
added=$(python3 "$TOP/bench/lib/mixed_rules.py" "$SOCK" "$RULES" "${cgroups[@]}")
[ "$(jget "$added" 'd["failed"]')" -eq 0 ] || die "rules not added: $added"
full=$(rate)
after=$(rate)
stop_agent
"$CONNCTLD" --uninstall --pin-dir "$PIN_DIR" >/dev/null 2>&1 || true
none2=$(rate)

# A rule that matches is still found among them.
start_agent --max-rules 131072 --state-file ""
python3 "$TOP/bench/lib/mixed_rules.py" "$SOCK" "$RULES" "${cgroups[@]}" >/dev/null
connctl rule add action reset lport 8090 >/dev/null
res=$(in_ns python3 "$TOP/tests/e2e/held_conn.py" 127.0.0.1 8090 5)
matched=$(jget "$res" 'd["client"]')

python3 - "$none" "$none2" "$empty" "$full" "$after" "$added" "$matched" "$RULES" <<'PY'
import json, sys
none, none2, empty, full, after = (json.loads(a) for a in sys.argv[1:6])
added, matched, rules = json.loads(sys.argv[6]), sys.argv[7], int(sys.argv[8])
base = (none["per_second"] + none2["per_second"]) / 2
print(f"\nscale: new connections per second through sockops, {none['seconds']:.0f} s a run")
print(f"{'':66} {'per second':>10} {'ratio':>7}")
print(f"{'no agent (mean of before and after)':66} {base:10.0f} {1:7.2f}")
print(f"{'  before':66} {none['per_second']:10d} {none['per_second'] / base:7.2f}")
print(f"{'  after':66} {none2['per_second']:10d} {none2['per_second'] / base:7.2f}")
print(f"{'connctld, no rule':66} {empty['per_second']:10d} {empty['per_second'] / base:7.2f}")
k = added["kinds"]
label = f"connctld, {rules} rules ({k.get('port', 0)} port, {k.get('prefix', 0)} prefix, " \
        f"{k.get('cgroup', 0)} cgroup)"
print(f"{label:66} {full['per_second']:10d} {full['per_second'] / base:7.2f}")
print(f"{'  again':66} {after['per_second']:10d} {after['per_second'] / base:7.2f}")
print(f"a new connection a rule matches, among them: {matched}")
PY
[ "$matched" = reset ] || die "a matching connection was not reset among $RULES rules"
