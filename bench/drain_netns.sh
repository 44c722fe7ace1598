#!/usr/bin/env bash
# A drain across many namespaces (issue 16): NS network namespaces, each with
# a server and PER idle keep-alive connections (one request answered, then
# a second of quiet), all
# held by two processes. `connctld --netns all` and one rule, `drain local
# 10.241.0.1 lport 9417 once`: the time from the rule to the last client
# seeing EOF, and how many did. Its peer, same run, on fresh connections:
# the servers closing every connection themselves (shutdown), the floor for
# any graceful close. The rule matches only 10.241.0.0/16, which no
# namespace but the bench's own has. All of it twice: namespaces on the
# host's shared TCP hash table (the kernel's default), then namespaces with
# tables of their own (made where net.ipv4.tcp_child_ehash_entries is set,
# the bench's namespace; the host's stays as it is), where each walk of a
# namespace costs its own sockets. Usage: bench/drain_netns.sh [NS] [PER]
. "$(dirname "$0")/../tests/e2e/lib.sh"

NS=${1:-100}
PER=${2:-100}
ADDR=10.241.0.1
PORT=9417
ulimit -n 20000

setup_env
require_test_net
half=$(((NS + 1) / 2))

# round HOW: both holders up, then HOW (drain: the rule; close: the servers).
round() {
	local how=$1 g t0 pids=()
	for g in 0 1; do
		rm -f "$TMP/in$g" "$TMP/out$g"
		mkfifo "$TMP/in$g"
		if [ "$g" = 0 ]; then set -- "${paths[@]:0:$half}"; else set -- "${paths[@]:$half}"; fi
		in_ns python3 "$TOP/tests/e2e/netns_pairs.py" "$ADDR" "$PORT" "$PER" "$@" \
			<"$TMP/in$g" >"$TMP/out$g" &
		pids+=($!)
		exec {fd}>"$TMP/in$g"
		eval "in_fd$g=$fd"
	done
	for g in 0 1; do
		wait_until 120 grep -q ready "$TMP/out$g" || die "holder $g is not up"
	done
	if [ "$how" = drain ]; then
		for g in 0 1; do
			eval "echo wait >&\$in_fd$g"
			wait_until 30 grep -q waiting "$TMP/out$g" || die "holder $g does not wait"
		done
		sleep 1		# idle keep-alives: quiet longer than the rule's 500 ms
		t0=$(date +%s.%N)
		connctl -j rule add action drain local "$ADDR" lport "$PORT" once >"$TMP/added"
	else
		for g in 0 1; do eval "echo close >&\$in_fd$g"; done
	fi
	wait "${pids[@]}"
	for g in 0 1; do eval "exec {in_fd$g}>&-"; done
	python3 - "$TMP/out0" "$TMP/out1" "${t0:-}" "$how" "$TMP/added" <<'PY'
import json, sys
outs = [json.loads(open(p).read().splitlines()[-1]) for p in sys.argv[1:3]]
t0, how = sys.argv[3], sys.argv[4]
start = float(t0) if t0 else min(o["start"] for o in outs)
last = max(o["last"] or start for o in outs)
eof, other = sum(o["eof"] for o in outs), sum(o["other"] for o in outs)
matched = json.load(open(sys.argv[5]))["matched"] if how == "drain" else "-"
label = "connctl drain --netns all" if how == "drain" else "servers shut down themselves"
print("%-32s %8s %8d %8d %10.1f" % (label, matched, eof, other, (last - start) * 1000))
PY
}

# host [own]: the namespaces (own: with hash tables of their own), the agent,
# both rounds; then all of it gone.
host() {
	local ns
	[ "${1:-}" != own ] || NETNS_OWN_TABLES=1
	add_netns_many "$NS" "$ADDR"
	unset NETNS_OWN_TABLES
	paths=("${NETNS_PATHS[@]}")
	STATE_FILE=$TMP/${1:-shared}/rules.json
	start_agent --netns all
	round drain
	round close
	stop_agent
	"$CONNCTLD" --uninstall --pin-dir "$PIN_DIR" >/dev/null 2>&1 || true
	for ns in "${paths[@]}"; do ip netns del "$(basename "$ns")"; done
}

printf '\ndrain across %s namespaces x %s idle keep-alive connections\n' "$NS" "$PER"
printf '%-32s %8s %8s %8s %10s\n' "" matched EOF other "last ms"
printf 'namespaces on the host'"'"'s shared TCP table (the kernel'"'"'s default)\n'
host
printf 'namespaces with tables of their own (net.ipv4.tcp_child_ehash_entries)\n'
host own
