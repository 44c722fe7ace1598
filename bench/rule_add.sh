#!/usr/bin/env bash
# What a rule that matches nothing costs on a busy host (issue 16): NS
# network namespaces with PER connected pairs each (2 x NS x PER sockets:
# 50,000 by default), `connctld --netns all`, ADDS rule adds one after
# another, each timed from request to reply over the control socket.
# Beside it, same run: the same adds to an agent on an empty host (its one
# namespace, no connection). The rules match only 10.241.200.0/21 addresses,
# which nothing here uses. Then as many UDP reset rules, both hosts: a UDP
# rule walks the UDP table of each namespace that holds a connected UDP
# socket of --cgroup (udp_conns, kept by the connect and sock_release
# hooks), so the busy host's UDP adds run twice: with no connected UDP
# socket, then with UDP_PER in each of UDP_NS namespaces.
# Last, the busy host again with namespaces that have TCP and UDP hash
# tables of their own (made where net.ipv4.tcp_child_ehash_entries and
# udp_child_hash_entries are set, the test's namespace; the host's are left
# as they are), against the kernel's default, one table shared by all: the
# agent's listing of every namespace at its start, and the same adds.
# Usage: bench/rule_add.sh [NS] [PER] [ADDS] [UDP_NS] [UDP_PER]
. "$(dirname "$0")/../tests/e2e/lib.sh"

NS=${1:-100}
PER=${2:-250}
ADDS=${3:-1000}
UDP_NS=${4:-10}
UDP_PER=${5:-10}
PORT=9418
HOLDERS=4
ulimit -n 20000

setup_env
require_test_net
adds() { python3 "$TOP/bench/lib/add_latency.py" "$SOCK" "$ADDS" "$@"; }
metric() { agent_metric 9542 "$1"; }

# The empty host: the agent's namespace alone, no connection in it.
start_agent --metrics 9542
empty=$(adds 0)
empty_walks=$(metric 'connctl_walks_total{for="apply"}')
empty_udp=$(adds "$ADDS" udp)
stop_agent
"$CONNCTLD" --uninstall --pin-dir "$PIN_DIR" >/dev/null 2>&1 || true

# busy_host [own]: NS namespaces, their pairs held by HOLDERS processes, the
# agent with --netns all; the adds. Sets listed, listing_ms, busy, busy_udp0
# (no connected UDP socket), busy_udp (UDP_PER in UDP_NS namespaces), udp_walks,
# udp_listed, busy_walks, index_walks, indexed, sockets. own: tables of their own.
busy_host() {
	local tables=${1:-shared} g fd per_holder ns pids=() fds=()

	[ "$tables" != own ] || NETNS_OWN_TABLES=1
	add_netns_many "$NS"
	unset NETNS_OWN_TABLES
	paths=("${NETNS_PATHS[@]}")
	per_holder=$(((NS + HOLDERS - 1) / HOLDERS))
	for ((g = 0; g < HOLDERS; g++)); do
		set -- "${paths[@]:$((g * per_holder)):$per_holder}"
		[ $# -gt 0 ] || break
		rm -f "$TMP/in$g"
		mkfifo "$TMP/in$g"
		in_ns python3 "$TOP/tests/e2e/netns_pairs.py" 127.0.0.1 "$PORT" "$PER" "$@" \
			<"$TMP/in$g" >"$TMP/out$g" &
		pids+=($!)
		exec {fd}>"$TMP/in$g"
		fds+=("$fd")
	done
	for ((g = 0; g < ${#pids[@]}; g++)); do
		wait_until 300 grep -q ready "$TMP/out$g" || die "holder $g is not up"
	done
	sockets=0
	for ns in "${paths[@]}"; do
		sockets=$((sockets + $(nsenter --net="$ns" ss -Htn state established | wc -l)))
	done
	# A state file of its own: the empty host's rules are not restored here.
	STATE_FILE=$TMP/busy-$tables/rules.json
	: >"$AGENT_LOG"
	start_agent --netns all --metrics 9542
	wait_until 60 grep -q 'connection index: ' "$AGENT_LOG" || die "the agent listed nothing"
	listed=$(grep -o 'connection index: [0-9]* connections.*' "$AGENT_LOG" | tail -1)
	listing_ms=$(grep -o '[0-9.]* ms)$' <<<"$listed" | cut -d' ' -f1)
	busy=$(adds 0)
	busy_walks=$(metric 'connctl_walks_total{for="apply"}')
	index_walks=$(metric 'connctl_walks_total{for="index"}')
	indexed=$(metric connctl_index_connections)
	busy_udp0=$(adds "$ADDS" udp)
	udp_pids=()
	for ns in "${paths[@]:0:$UDP_NS}"; do
		in_cgroup_netns "$CGROUP" "$ns" python3 "$TOP/tests/e2e/udp_peer.py" hold \
			"$UDP_PER" 127.0.0.1 9600 600 >"$TMP/udp-$(basename "$ns")" &
	done
	for ns in "${paths[@]:0:$UDP_NS}"; do
		wait_until 10 grep -q ready "$TMP/udp-$(basename "$ns")" || die "no UDP sockets in $ns"
		udp_pids+=("$(jget "$(cat "$TMP/udp-$(basename "$ns")")" 'd["pid"]')")
	done
	udp_walks=$(metric 'connctl_walks_total{for="apply"}')
	busy_udp=$(adds $((2 * ADDS)) udp)
	udp_walks=$(($(metric 'connctl_walks_total{for="apply"}') - udp_walks))
	udp_listed=$(grep -o 'listed those of [0-9]* namespaces ([0-9.]* ms)' "$AGENT_LOG" | tail -1)
	kill "${udp_pids[@]}"
	udp_gone() { ! kill -0 "${udp_pids[@]}" 2>/dev/null; }
	wait_until 10 udp_gone || die "UDP holders still running"
	stop_agent
	"$CONNCTLD" --uninstall --pin-dir "$PIN_DIR" >/dev/null 2>&1 || true
	# The servers close their side: the holders end at once, not after their 30 s.
	for fd in "${fds[@]}"; do echo close >&"$fd"; eval "exec $fd>&-"; done
	wait "${pids[@]}" 2>/dev/null || true
	for ns in "${paths[@]}"; do ip netns del "$(basename "$ns")"; done
}

# Tables of their own first: the shared host's figures stay for the report.
busy_host own
own_ms=$listing_ms own_tcp=$busy own_udp=$busy_udp own_walks=$index_walks
busy_host
python3 - "$empty" "$busy" "$NS" "$sockets" "$empty_walks" "$busy_walks" "$index_walks" \
	"$indexed" "$listed" "$empty_udp" "$busy_udp0" "$busy_udp" "$UDP_NS" "$UDP_PER" \
	"$udp_walks" "$udp_listed" <<'PY'
import json, sys
empty, busy = json.loads(sys.argv[1]), json.loads(sys.argv[2])
ns, sockets, ew, bw, iw, indexed, listed = sys.argv[3:10]
empty_udp, busy_udp0, busy_udp = (json.loads(a) for a in sys.argv[10:13])
udp_ns, udp_per, udp_walks, udp_listed = sys.argv[13:17]
print(f"\nrule add matching nothing, {busy['adds']} adds one after another, ms from request to reply")
print(f"{'':52} {'p50':>7} {'p99':>7} {'max':>7} {'walks':>6}")
print(f"{'empty host: 1 namespace, no connection':52} {empty['p50']:7.3f} {empty['p99']:7.3f} "
      f"{empty['max']:7.3f} {ew:>6}")
label = f"busy host: {int(ns) + 1} namespaces, {sockets} sockets, --netns all"
print(f"{label:52} {busy['p50']:7.3f} {busy['p99']:7.3f} {busy['max']:7.3f} {bw:>6}")
print(f"{'ratio busy / empty':52} {busy['p50'] / empty['p50']:7.2f} "
      f"{busy['p99'] / empty['p99']:7.2f} {busy['max'] / empty['max']:7.2f}")
print(f"at its start the agent on the busy host listed {iw} namespaces ({listed}); "
      f"after the adds its index held {indexed} connections")
print(f"matched: {empty['matched']} and {busy['matched']}")
print(f"\nthe same with proto udp (a walk of each namespace holding a connected UDP socket)")
print(f"{'empty host':52} {empty_udp['p50']:7.3f} {empty_udp['p99']:7.3f} {empty_udp['max']:7.3f}")
print(f"{'busy host, no connected UDP socket':52} {busy_udp0['p50']:7.3f} "
      f"{busy_udp0['p99']:7.3f} {busy_udp0['max']:7.3f}")
print(f"{'ratio busy / empty':52} {busy_udp0['p50'] / empty_udp['p50']:7.2f} "
      f"{busy_udp0['p99'] / empty_udp['p99']:7.2f} {busy_udp0['max'] / empty_udp['max']:7.2f}")
label = f"busy host, {udp_per} connected in each of {udp_ns} namespaces"
print(f"{label:52} {busy_udp['p50']:7.3f} {busy_udp['p99']:7.3f} {busy_udp['max']:7.3f}")
print(f"{'ratio busy / empty':52} {busy_udp['p50'] / empty_udp['p50']:7.2f} "
      f"{busy_udp['p99'] / empty_udp['p99']:7.2f} {busy_udp['max'] / empty_udp['max']:7.2f}")
print(f"namespaces walked for those {busy_udp['adds']} adds: {udp_walks}; "
      f"at its start the agent {udp_listed}")
PY

python3 - "$listing_ms" "$own_ms" "$busy" "$own_tcp" "$busy_udp" "$own_udp" "$index_walks" \
	"$own_walks" <<'PY'
import json, sys
shared_ms, own_ms = float(sys.argv[1]), float(sys.argv[2])
shared, own, shared_udp, own_udp = (json.loads(a) for a in sys.argv[3:7])
print("\nthe busy host, its namespaces on the host's one TCP and UDP table (the kernel's default)")
print("and on tables of their own (net.ipv4.tcp_child_ehash_entries, udp_child_hash_entries)")
print(f"{'':52} {'shared':>8} {'own':>8} {'ratio':>7}")
print(f"{'namespaces listed at the agent start':52} {sys.argv[7]:>8} {sys.argv[8]:>8}")
print(f"{'the listing, ms':52} {shared_ms:8.1f} {own_ms:8.1f} {own_ms / shared_ms:7.2f}")
print(f"{'rule add, p50 ms':52} {shared['p50']:8.3f} {own['p50']:8.3f} "
      f"{own['p50'] / shared['p50']:7.2f}")
print(f"{'rule add proto udp, p50 ms':52} {shared_udp['p50']:8.3f} {own_udp['p50']:8.3f} "
      f"{own_udp['p50'] / shared_udp['p50']:7.2f}")
print(f"{'rule add proto udp, p99 ms':52} {shared_udp['p99']:8.3f} {own_udp['p99']:8.3f} "
      f"{own_udp['p99'] / shared_udp['p99']:7.2f}")
PY
