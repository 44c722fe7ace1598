#!/usr/bin/env bash
# Scale (issue 16, first rows): new connections per second through sockops
# while RULES rules stand, mixed (one local port each, one remote port each,
# a remote /32 each, a cgroup each among ten siblings) and matching none of
# them, against the
# same loop with no agent at all. The loop is bench/lib/conn_rate.c, client
# and listener on one CPU, so a rate is that CPU's cost of a connection.
# This host's rate drifts by 5-15 % from one run to the next, so the cases
# take turns, ROUNDS times, and each round is compared with its own no-agent
# run, seconds apart (paired).
#
# Cases: no rule (sockops and the connection log); RULES reset rules (the
# issue's row: cgroup_skb and connect/sendmsg are attached while a reset or
# drain rule stands); RULES observe rules (the same matching, no hold);
# RULES cancel rules (the same matching, and a match is tagged by sockops,
# but no hold: a cancel closes through the owner); and, with no agent, an
# empty cgroup_skb program on the cgroup (the kernel's hook alone, the floor
# under the reset rules' hold). Then what each program costs a connection
# (kernel.bpf_stats_enabled, put back as it was) and what the agent itself
# spends on one (its threads' CPU time: reading the connection log into its
# index), and a connection that a rule does match is still reset, or
# cancelled.
# Usage: bench/scale.sh [SECONDS] [RULES] [ROUNDS]
. "$(dirname "$0")/../tests/e2e/lib.sh"

RUN_SECONDS=${1:-5}
RULES=${2:-100000}
ROUNDS=${3:-3}
PORT=8088
CONN_RATE=$BUILD/clients/conn_rate
EMPTY_SKB=$BUILD/clients/empty_skb.bpf.o
EMPTY_PINS=$PIN_DIR-empty
CPU=$(($(nproc) - 1))
[ -x "$CONN_RATE" ] && [ -f "$EMPTY_SKB" ] ||
	make -C "$TOP" --no-print-directory build/clients/conn_rate build/clients/empty_skb.bpf.o \
		>/dev/null || die "cannot build $CONN_RATE and $EMPTY_SKB"

setup_env
cgroups=()
for i in $(seq 0 9); do
	mkdir "$CGROUP/r$i"
	cgroups+=("${CGROUP#"$CG_ROOT"}/r$i")
done
STATS_WAS=$(sysctl -n kernel.bpf_stats_enabled)
# cleanup exits with the status it is called with: the sysctl's must not mask it,
# and errexit goes first, or a failing command here ends the trap before cleanup.
trap 'rc=$?; set +e; sysctl -q kernel.bpf_stats_enabled="$STATS_WAS"; rm -rf "$EMPTY_PINS"; (exit $rc); cleanup' EXIT

rate() {
	in_ns taskset -c "$CPU" "$CONN_RATE" "$PORT" "$RUN_SECONDS" | jget "$(cat)" 'd["per_second"]'
}

# A run with only the empty cgroup_skb programs on the cgroup, no agent.
empty_hook_rate() {
	bpftool prog loadall "$EMPTY_SKB" "$EMPTY_PINS" || die "cannot load $EMPTY_SKB"
	bpftool cgroup attach "$CGROUP" ingress pinned "$EMPTY_PINS/empty_skb_in" multi &&
		bpftool cgroup attach "$CGROUP" egress pinned "$EMPTY_PINS/empty_skb_out" multi ||
		die "cannot attach $EMPTY_SKB to $CGROUP"
	rate
	bpftool cgroup detach "$CGROUP" ingress pinned "$EMPTY_PINS/empty_skb_in"
	bpftool cgroup detach "$CGROUP" egress pinned "$EMPTY_PINS/empty_skb_out"
	rm -rf "$EMPTY_PINS"
}

# add_rules ACTION: RULES mixed rules; the JSON of what was added.
add_rules() {
	local added
	added=$(python3 "$TOP/bench/lib/mixed_rules.py" --action "$1" "$SOCK" "$RULES" "${cgroups[@]}")
	[ "$(jget "$added" 'd["failed"]')" -eq 0 ] || die "rules not added: $added"
	echo "$added"
}

fresh_agent() {
	start_agent --max-rules 131072 --state-file ""
}

gone_agent() {
	stop_agent
	"$CONNCTLD" --uninstall --pin-dir "$PIN_DIR" >/dev/null 2>&1 || true
}

# Run time of each connctl program so far, in ns; "id name run_time_ns" lines.
# By id: a stopped agent's programs may linger a moment under the same names.
prog_ns() {
	bpftool -j prog show | python3 -c '
import json, sys
for p in json.load(sys.stdin):
    if p.get("name", "").startswith("connctl_") and p.get("run_cnt"):
        print(p["id"], p["name"], p["run_time_ns"])'
}

# The agent's own CPU so far, in ns: every thread's time on a CPU.
agent_cpu_ns() {
	cat /proc/"$AGENT_PID"/task/*/schedstat 2>/dev/null | awk '{ t += $1 } END { printf "%.0f\n", t }'
}

# cost LABEL: a run with bpf_stats on; "LABEL|programs' us|agent's us|prog us ..."
# a connection. The agent's is its user-space share: reading the connection
# log into its index, on the other CPU.
cost() {
	local before after res cpu0 cpu1
	before=$(prog_ns)
	cpu0=$(agent_cpu_ns)
	res=$(in_ns taskset -c "$CPU" "$CONN_RATE" "$PORT" "$RUN_SECONDS")
	cpu1=$(agent_cpu_ns)
	after=$(prog_ns)
	python3 - "$1" "$before" "$after" "$(jget "$res" 'd["connections"]')" "$((cpu1 - cpu0))" <<'PY'
import sys
label, before, after, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
agent = int(sys.argv[5]) / n / 1000
def ns(text):
    return {int(i): (name, int(t)) for i, name, t in (l.split() for l in text.splitlines() if l.strip())}
b, a = ns(before), ns(after)
used = {}
for i, (name, t) in a.items():
    spent = t - b.get(i, (name, 0))[1]
    if spent:
        key = name[len("connctl_"):]
        used[key] = used.get(key, 0) + spent / n / 1000
print(f"{label}|{sum(used.values()):.2f}|{agent:.2f}|"
      + " ".join(f"{k} {v:.2f}" for k, v in sorted(used.items())))
PY
}

none=() hook=() empty=() full=() observe=() cancel=()
for ((r = 0; r < ROUNDS; r++)); do
	none+=("$(rate)")
	hook+=("$(empty_hook_rate)")
	fresh_agent
	empty+=("$(rate)")
	added=$(add_rules reset)
	full+=("$(rate)")
	gone_agent
	fresh_agent
	add_rules observe >/dev/null
	observe+=("$(rate)")
	gone_agent
	fresh_agent
	add_rules cancel >/dev/null
	cancel+=("$(rate)")
	gone_agent
done

# Where the time goes, one run a case, bpf_stats on only now.
sysctl -q kernel.bpf_stats_enabled=1
fresh_agent
costs=("$(cost "no rule")")
add_rules reset >/dev/null
costs+=("$(cost "$RULES reset rules")")
gone_agent
fresh_agent
add_rules observe >/dev/null
costs+=("$(cost "$RULES observe rules")")
gone_agent
fresh_agent
add_rules cancel >/dev/null
costs+=("$(cost "$RULES cancel rules")")
sysctl -q kernel.bpf_stats_enabled="$STATS_WAS"

# A rule that matches is still found among them.
gone_agent
fresh_agent
add_rules reset >/dev/null
connctl rule add action reset lport 8090 >/dev/null
res=$(in_ns python3 "$TOP/tests/e2e/held_conn.py" 127.0.0.1 8090 5)
matched=$(jget "$res" 'd["client"]')
gone_agent
fresh_agent
add_rules cancel >/dev/null
connctl rule add action cancel lport 8091 >/dev/null
# Both ends wait for the other: only the cancel can end the connection.
cancelled=$(in_ns python3 - <<'PY'
import socket, threading
srv = socket.create_server(("127.0.0.1", 8091))
def serve():
    s, _ = srv.accept()
    s.settimeout(5)
    try:
        s.recv(1)
    except OSError:
        pass
threading.Thread(target=serve, daemon=True).start()
c = socket.create_connection(("127.0.0.1", 8091))
c.settimeout(5)
try:
    print("eof" if c.recv(1) == b"" else "data")
except socket.timeout:
    print("open")
except OSError as e:
    print(e.__class__.__name__)
PY
)

python3 - "$RUN_SECONDS" "$RULES" "$added" "$matched" "$cancelled" "${none[*]}" \
	"${hook[*]}" "${empty[*]}" "${full[*]}" "${observe[*]}" "${cancel[*]}" "${costs[@]}" <<'PY'
import json, statistics, sys
secs, rules, added = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
matched, cancelled = sys.argv[4], sys.argv[5]
none, hook, empty, full, observe, cancel = ([int(float(x)) for x in a.split()]
                                            for a in sys.argv[6:12])
costs = sys.argv[12:]
k = added["kinds"]
mix = (f"({k.get('port', 0)} lport, {k.get('rport', 0)} rport, {k.get('prefix', 0)} prefix, "
       f"{k.get('cgroup', 0)} cgroup)")
print(f"\nscale: new connections per second through sockops, conn_rate.c on one CPU, "
      f"{secs} s a run, {len(none)} rounds taking turns")
print(f"{'':84} {'median':>7} {'paired':>7}   each round against its own no-agent run")
base = statistics.median(none)
print(f"{'no agent':84} {base:7.0f} {1:7.2f}   " + " ".join(str(x) for x in none))
for label, runs in (("no agent, empty cgroup_skb programs (the kernel's hook alone)", hook),
                    ("connctld, no rule", empty),
                    (f"connctld, {rules} reset rules {mix}", full),
                    (f"connctld, {rules} observe rules (no hold)", observe),
                    (f"connctld, {rules} cancel rules (tagged on a match, no hold)", cancel)):
    paired = [x / n for x, n in zip(runs, none)]
    print(f"{label:84} {statistics.median(runs):7.0f} {statistics.median(paired):7.2f}   "
          + " ".join(f"{x:.2f}" for x in paired))
print(f"spread of the no-agent runs: {(max(none) - min(none)) / base * 100:.0f} %")
beside = statistics.median(x / h for x, h in zip(full, hook))
print(f"the reset rules against the empty hook's runs, paired: {beside:.2f} "
      f"(what connctl costs beyond the hook the hold needs)")
print(f"\nwhat a connection costs, us (kernel.bpf_stats_enabled, one run each): the programs,"
      f" and the agent's own CPU")
print(f"  {'':24} {'programs':>8} {'agent':>6}   each program")
for line in costs:
    label, total, agent, each = line.split("|")
    print(f"  {label:24} {total:>8} {agent:>6}   {each}")
print(f"\na new connection a rule matches, among them: {matched} (reset rules), "
      f"{cancelled} (cancel rules)")
PY
[ "$matched" = reset ] || die "a matching connection was not reset among $RULES rules"
[ "$cancelled" = eof ] || die "a matching connection was not cancelled among $RULES rules"
