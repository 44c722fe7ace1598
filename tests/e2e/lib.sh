# shellcheck shell=bash
# Shared by the end-to-end tests. Each test gets its own network namespace,
# cgroup v2 child, pin directory, control socket and agent, and removes all
# of it when it exits, pass or fail: nothing touches the host's connections.

set -euo pipefail
# The helpers import each other: no __pycache__ left in the source tree.
export PYTHONDONTWRITEBYTECODE=1
# Debian's tools first: scripts/deps.sh installs requests, urllib3 and yaml
# for Debian's python3, and the tests start python hundreds of times. A
# python3 found earlier in PATH may lack them, and pyenv's shim takes 0.4 s
# to start one here, against 0.04 s.
export PATH=/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin:/usr/local/bin

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=$TOP/build
CONNCTLD=$BUILD/connctld
CONNCTL_BIN=$BUILD/connctl
GOCLIENT=$BUILD/clients/goclient

TEST_NAME=$(basename "$0" .sh)
TAG="cc-${TEST_NAME#test_}-$$"
TAG=${TAG:0:40}
NETNS=$TAG
NETNS_PATH=/var/run/netns/$NETNS
CG_ROOT=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
CGROUP=$CG_ROOT/$TAG
PIN_DIR=/sys/fs/bpf/$TAG
TMP=$(mktemp -d "/tmp/$TAG.XXXXXX")
SOCK=$TMP/connctl.sock
AGENT_LOG=$TMP/agent.log
STATE_FILE=$TMP/state/rules.json
AGENT_PID=
EXTRA_NETNS=()
CLIENT_NS=
CLIENT_CG=
NGINX_ADDRS="127.0.0.1 [::1]"

die() {
	echo "FAIL: $*" >&2
	exit 1
}

log() {
	echo "--- $*" >&2
}

cleanup() {
	local rc=$? ns

	set +e
	if [ -d "$CGROUP" ]; then
		echo 1 >"$CGROUP/cgroup.kill" 2>/dev/null
		wait_until 10 cgroup_empty
	fi
	if [ -n "$AGENT_PID" ]; then
		# A test may have stopped it (SIGSTOP): it must run to hear SIGTERM.
		kill -CONT "$AGENT_PID" 2>/dev/null
		kill "$AGENT_PID" 2>/dev/null
		wait "$AGENT_PID" 2>/dev/null
	fi
	if [ -d "$PIN_DIR" ]; then
		# In the namespace: the tc interfaces it recorded are there.
		nsenter --net="$NETNS_PATH" -- "$CONNCTLD" --uninstall --pin-dir "$PIN_DIR" \
			>/dev/null 2>&1 || rm -rf "$PIN_DIR"
	fi
	# Child cgroups a test made, deepest first; cgroup.kill emptied them.
	[ -d "$CGROUP" ] && find "$CGROUP" -mindepth 1 -depth -type d -exec rmdir {} + 2>/dev/null
	[ -d "$CGROUP" ] && rmdir "$CGROUP"
	if [ -n "$CLIENT_CG" ] && [ -d "$CLIENT_CG" ]; then
		echo 1 >"$CLIENT_CG/cgroup.kill" 2>/dev/null
		wait_until 10 client_cgroup_empty
		rmdir "$CLIENT_CG"
	fi
	[ -n "$CLIENT_NS" ] && ip netns del "$CLIENT_NS" 2>/dev/null
	for ns in "${EXTRA_NETNS[@]}"; do
		ip netns del "$ns" 2>/dev/null
	done
	ip netns del "$NETNS" 2>/dev/null
	if [ $rc -ne 0 ] && [ -s "$AGENT_LOG" ]; then
		echo "--- agent log (last 20 lines):" >&2
		tail -n 20 "$AGENT_LOG" >&2
	fi
	# Kept, for a figure or a failure to be looked into after the run.
	if [ -s "$AGENT_LOG" ] && mkdir -p "$BUILD/agent-logs"; then
		tail -n 5000 "$AGENT_LOG" >"$BUILD/agent-logs/$TEST_NAME.log"
	fi
	rm -rf "$TMP"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Empty of tasks, dying ones too: cgroup.procs no longer lists a task that
# is still closing its files, but rmdir waits for it.
cgroup_empty() {
	grep -q '^populated 0$' "$CGROUP/cgroup.events"
}

client_cgroup_empty() {
	grep -q '^populated 0$' "$CLIENT_CG/cgroup.events"
}

# setup_veth: a client namespace joined to the test's by a veth pair:
# veth-s 10.99.0.1 / fd99::1 here, veth-c 10.99.0.2 / fd99::2 there. Client
# processes (in_client) run in a sibling cgroup, out of sockops' sight.
setup_veth() {
	CLIENT_NS=$NETNS-c
	CLIENT_CG=$CGROUP-c
	ip netns add "$CLIENT_NS"
	mkdir "$CLIENT_CG"
	ip -n "$CLIENT_NS" link set lo up
	ip -n "$NETNS" link add veth-s type veth peer name veth-c netns "$CLIENT_NS"
	ip -n "$NETNS" addr add 10.99.0.1/24 dev veth-s
	ip -n "$NETNS" addr add fd99::1/64 dev veth-s nodad
	ip -n "$CLIENT_NS" addr add 10.99.0.2/24 dev veth-c
	ip -n "$CLIENT_NS" addr add fd99::2/64 dev veth-c nodad
	ip -n "$NETNS" link set veth-s up
	ip -n "$CLIENT_NS" link set veth-c up
	NGINX_ADDRS="$NGINX_ADDRS 10.99.0.1 [fd99::1]"
}

# in_client CMD...: run CMD in the client namespace and cgroup.
in_client() {
	in_cgroup_netns "$CLIENT_CG" "/var/run/netns/$CLIENT_NS" "$@"
}

# wait_until SECONDS CMD...: poll CMD every 20 ms until it succeeds or time is up.
wait_until() {
	local secs=$1 deadline
	shift
	deadline=$(($(date +%s%N) + secs * 1000000000))
	until "$@"; do
		[ "$(date +%s%N)" -lt "$deadline" ] || return 1
		sleep 0.02
	done
}

setup_env() {
	[ "$(id -u)" -eq 0 ] || die "end-to-end tests need root"
	[ -n "$CG_ROOT" ] || die "no cgroup v2 mount in /proc/mounts"
	ip netns add "$NETNS"
	ip -n "$NETNS" link set lo up
	mkdir "$CGROUP"
}

# in_ns CMD...: run CMD inside the test's cgroup and network namespace.
in_ns() {
	in_cgroup_netns "$CGROUP" "$NETNS_PATH" "$@"
}

# in_cgroup_netns CGROUP NETNS_PATH CMD...: join the cgroup first, so that
# every process CMD starts is in it, then the namespace.
in_cgroup_netns() {
	sh -c 'echo $$ >"$1/cgroup.procs" && ns=$2 && shift 2 && exec nsenter --net="$ns" -- "$@"' \
		sh "$@"
}

# add_netns NAME: one more namespace of the test's own, $TAG-NAME, with lo
# up; removed at exit like the others.
# With NETNS_OWN_TABLES=1, the namespace has TCP and UDP hash tables of its
# own, not the host's, as on a host that sets net.ipv4.tcp_child_ehash_entries
# and udp_child_hash_entries for its containers: it is made from the test's
# namespace, where they are set (the kernel reads them where a namespace is
# made; the host's stay as they are).
add_netns() {
	local from=()

	if [ -n "${NETNS_OWN_TABLES:-}" ]; then
		in_ns_only sysctl -qw net.ipv4.tcp_child_ehash_entries=1024 \
			net.ipv4.udp_child_hash_entries=128 || die "cannot size the child hash tables"
		from=(in_ns_only)
	fi
	"${from[@]}" ip netns add "$TAG-$1" || die "cannot add namespace $TAG-$1"
	EXTRA_NETNS+=("$TAG-$1")
	ip -n "$TAG-$1" link set lo up
}

# require_test_net: 10.241.0.0/16 unused on this host. Rules of tests that
# act in every namespace (--netns all) match only it, so they can touch
# nothing of the host's own.
require_test_net() {
	! ip -o addr show | grep -q ' 10\.241\.' ||
		die "this host uses 10.241.0.0/16: the rules could touch it"
}

# add_netns_many COUNT [ADDR]: namespaces n1..nCOUNT of the test's own (ADDR
# on the lo of each, if given); their paths in NETNS_PATHS. With
# NETNS_OWN_TABLES=1, each has hash tables of its own (add_netns).
add_netns_many() {
	local i
	NETNS_PATHS=()
	for i in $(seq "$1"); do
		add_netns "n$i"
		[ -z "${2:-}" ] || ip -n "$TAG-n$i" addr add "$2/32" dev lo
		NETNS_PATHS+=("/var/run/netns/$TAG-n$i")
	done
}

# in_netns NAME CMD...: CMD in the test cgroup and in namespace $TAG-NAME.
in_netns() {
	local name=$1
	shift
	in_cgroup_netns "$CGROUP" "/var/run/netns/$TAG-$name" "$@"
}

# in_ns_only CMD...: inside the namespace, outside the test cgroup.
in_ns_only() {
	nsenter --net="$NETNS_PATH" -- "$@"
}

start_agent() {
	nsenter --net="$NETNS_PATH" -- "$CONNCTLD" --socket "$SOCK" --pin-dir "$PIN_DIR" \
		--cgroup "$CGROUP" --state-file "$STATE_FILE" "$@" >>"$AGENT_LOG" 2>&1 &
	AGENT_PID=$!
	wait_until 10 test -S "$SOCK" || die "connctld did not create $SOCK"
}

# kill_agent: SIGKILL, as a crash would; the pins stay, the socket file too.
kill_agent() {
	kill -KILL "$AGENT_PID"
	wait "$AGENT_PID" 2>/dev/null || true
	AGENT_PID=
	rm -f "$SOCK"
}

stop_agent() {
	kill "$AGENT_PID"
	wait "$AGENT_PID" || true
	AGENT_PID=
}

connctl() {
	"$CONNCTL_BIN" --socket "$SOCK" "$@"
}

# jget JSON EXPR: a value out of JSON with a Python expression over `d`.
jget() {
	python3 -c 'import json, sys; d = json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2"
}

expect_eq() {
	local got=$1 want=$2 what=$3

	[ "$got" = "$want" ] || die "$what: got '$got', want '$want'"
	log "ok: $what = $want"
}

# start_nginx PORT[:KEEPALIVE]...: nginx on $NGINX_ADDRS at each port, in
# the namespace and cgroup, closing idle keep-alive connections after
# KEEPALIVE (default 300s); /big is 4 MiB served at 200 KiB/s, /paced 1 MiB
# at 200 KiB/s (nginx sends a socket buffer, then pauses ~320 ms), /slow
# the 4 MiB at 20 KiB/s, /small
# 16 KiB, / is "hello from nginx".
start_nginx() {
	local servers="" spec p keepalive a
	for spec in "$@"; do
		p=${spec%%:*}
		keepalive=${spec#*:}
		[ "$keepalive" != "$spec" ] || keepalive=300s
		servers+="server { keepalive_timeout $keepalive; "
		for a in $NGINX_ADDRS; do
			# NGINX_H2_PORTS: these speak HTTP/2 (h2c, prior knowledge).
			case " ${NGINX_H2_PORTS:-} " in
			*" $p "*) servers+="listen $a:$p http2; " ;;
			*) servers+="listen $a:$p; " ;;
			esac
		done
		servers+="root $TMP/www; location /big { limit_rate 200k; } "
		servers+="location /paced { limit_rate 200k; } location /slow { limit_rate 20k; } }"$'\n'
	done
	mkdir -p "$TMP/www" "$TMP/nginx"
	chmod 755 "$TMP"
	echo "hello from nginx" >"$TMP/www/index.html"
	head -c 4194304 /dev/urandom >"$TMP/www/big"
	head -c 1048576 /dev/urandom >"$TMP/www/paced"
	head -c 16384 /dev/urandom >"$TMP/www/small"
	ln -sf big "$TMP/www/slow"
	cat >"$TMP/nginx/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/error.log;
events { worker_connections 4096; }
http {
	access_log ${NGINX_ACCESS_LOG:-off};
	keepalive_requests 1000000;
	client_body_temp_path $TMP/nginx/body;
	proxy_temp_path $TMP/nginx/proxy;
	fastcgi_temp_path $TMP/nginx/fastcgi;
	uwsgi_temp_path $TMP/nginx/uwsgi;
	scgi_temp_path $TMP/nginx/scgi;
	$servers
}
CONF
	in_ns nginx -c "$TMP/nginx/nginx.conf" -e "$TMP/nginx/error.log" &
	for spec in "$@"; do
		wait_until 10 port_listening "${spec%%:*}" || die "nginx is not listening on $spec"
	done
}

# fetch_adding_rule PORT PATH AT_BYTES RULE...: fetch PATH from nginx on
# 127.0.0.1:PORT on one keep-alive connection, run `connctl -j rule add
# RULE...` once AT_BYTES of the body have arrived, then wait for the
# connection to end; prints clients.py's JSON (bytes, sha256, end, cmd).
fetch_adding_rule() {
	local port=$1 path=$2 at=$3
	shift 3
	in_ns python3 "$CLIENTS_PY" fetch --to "127.0.0.1:$port" --path "$path" \
		--at-bytes "$at" --deadline 20 \
		-- "$CONNCTL_BIN" --socket "$SOCK" -j rule add "$@"
}

# sha256 FILE: the hex digest alone.
sha256() {
	sha256sum "$1" | cut -d' ' -f1
}

# expect_body RES FILE [WHAT]: a fetch (clients.py) read FILE whole, by length and sha256.
expect_body() {
	local what=${3:+$3: }

	expect_eq "$(jget "$1" 'd["bytes"]')" "$(stat -c %s "$2")" "${what}body bytes received"
	expect_eq "$(jget "$1" 'd["sha256"]')" "$(sha256 "$2")" "${what}body checksum"
}

# expect_fin_after_quiet RES MS: a fetch's connection ended with a FIN (EOF)
# once its last byte had been quiet for the drain's MS, and not long after.
expect_fin_after_quiet() {
	expect_eq "$(jget "$1" 'd["end"]')" eof "the connection ended with a FIN once quiet"
	expect_eq "$(jget "$1" "$(($2 - 50)) <= d['end_after_ms'] < $(($2 + 800))")" True \
		"the FIN after the $2 ms quiet ($(jget "$1" 'd["end_after_ms"]') ms)"
}

# expect_load_clean RES: load clients (clients.py) saw no response cut or
# corrupt, no reset and no other error.
expect_load_clean() {
	expect_eq "$(jget "$1" 'd["results"]["truncated"]')" 0 "truncated responses"
	expect_eq "$(jget "$1" 'd["results"]["corrupt"]')" 0 "corrupt responses"
	expect_eq "$(jget "$1" 'd["results"]["reset"]')" 0 "resets seen by clients"
	expect_eq "$(jget "$1" 'd["results"]["error"]')" 0 "other errors"
}

# start_capture [FILTER]: tcpdump on the namespace's loopback into
# $TMP/cap.pcap; CAPTURE_NS and CAPTURE_IF choose another namespace and device.
start_capture() {
	# nsenter execs tcpdump: $! is tcpdump itself, for stop_capture to signal.
	nsenter --net="/var/run/netns/${CAPTURE_NS:-$NETNS}" -- tcpdump -i "${CAPTURE_IF:-lo}" \
		-U --immediate-mode -w "$TMP/cap.pcap" ${CAPTURE_SNAP:--s 128} "$@" 2>"$TMP/tcpdump.log" &
	CAPTURE_PID=$!
	capture_ready() { grep -q "listening on" "$TMP/tcpdump.log"; }
	wait_until 5 capture_ready || die "tcpdump did not start"
}

# stop_capture: let tcpdump write what it has and exit; CAPTURE_DROPPED is
# the count of packets it says the kernel dropped (a capture that missed
# packets cannot count FINs and RSTs).
stop_capture() {
	kill -INT "$CAPTURE_PID"
	wait "$CAPTURE_PID" || true
	CAPTURE_DROPPED=$(awk '/packets dropped by kernel/ { print $1 }' "$TMP/tcpdump.log")
	CAPTURE_DROPPED=${CAPTURE_DROPPED:-0}
}

# capture_count FILTER: packets in the capture that match a pcap filter.
capture_count() {
	tcpdump -r "$TMP/cap.pcap" -nn "$@" 2>/dev/null | wc -l
}

port_listening() {
	[ -n "$(in_ns_only ss -Htln "sport = :$1")" ]
}

# read_conn_log: the agent reads its connection log, as it does before any
# rule add (the log wakes it only at each eighth it fills): a rule that
# matches nothing here, added once.
read_conn_log() {
	connctl rule add action observe remote 192.0.2.1 lport 11 once >/dev/null
}

# established_count FILTER: ESTABLISHED TCP sockets in the namespace matching an ss filter.
established_count() {
	in_ns_only ss -Htn state established "$@" | wc -l
}

CLIENTS_PY=$TOP/tests/e2e/clients.py

# Many established loopback connections: a tests/e2e/mass_conns.py holder in
# the namespace, driven over a coprocess. One holder at a time.
# hold_start PORT:COUNT ...: the connections, all up when it returns.
hold_start() {
	coproc HOLD { in_ns python3 "$TOP/tests/e2e/mass_conns.py" "$@"; }
	local line
	read -r -t 300 line <&"${HOLD[0]}" || die "holder did not start"
	[ "$line" = ready ] || die "holder did not start"
}

# hold_ask LINE: one request to the holder, its one-line answer on stdout.
hold_ask() {
	local answer
	echo "$*" >&"${HOLD[1]}"
	read -r -t 120 answer <&"${HOLD[0]}" || die "holder did not answer '$*'"
	echo "$answer"
}

hold_stop() {
	local pid=$HOLD_PID
	eval "exec ${HOLD[1]}>&-"
	wait "$pid" 2>/dev/null || true
}

# pairs_start NAME ADDR PORT COUNT NETNS_PATH...: a tests/e2e/netns_pairs.py
# holder of COUNT idle keep-alive pairs in each namespace, up and waiting
# for their ends. pairs_end NAME waits for every client's end and puts the
# holder's verdict (eof, other, last) in PAIRS_RES.
pairs_start() {
	local name=$1 fd
	shift
	mkfifo "$TMP/pairs-$name.in"
	in_ns python3 "$TOP/tests/e2e/netns_pairs.py" "$@" \
		<"$TMP/pairs-$name.in" >"$TMP/pairs-$name.out" &
	eval "PAIRS_PID_$name=$!"
	exec {fd}>"$TMP/pairs-$name.in"
	eval "PAIRS_FD_$name=$fd"
	wait_until 60 grep -q ready "$TMP/pairs-$name.out" || die "the pairs of $name are not up"
	echo wait >&"$fd"
	wait_until 10 grep -q waiting "$TMP/pairs-$name.out" || die "the pairs of $name do not wait"
}

pairs_end() {
	local pid fd
	eval "pid=\$PAIRS_PID_$1 fd=\$PAIRS_FD_$1"
	wait "$pid"
	exec {fd}>&-
	PAIRS_RES=$(tail -n 1 "$TMP/pairs-$1.out")
}

# agent_metric PORT SERIES: the value of one series (its name and labels as
# printed) from the agent's --metrics PORT, asked from its namespace.
agent_metric() {
	in_ns_only curl -sf "http://127.0.0.1:$1/metrics" | awk -v m="$2" '$1 == m { print $2 }'
}

# median: of the numbers on stdin, one a line.
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# start_slow_server PORT DELAY LOG: slow_server.py in the namespace, listening.
start_slow_server() {
	in_ns python3 "$TOP/tests/e2e/slow_server.py" --port "$1" --delay "$2" >"$3" &
	wait_until 5 port_listening "$1" || die "slow server is not listening on $1"
}

# slow_server_story LOG: what slow_server.py logged of one exchange, in order.
slow_server_story() {
	python3 -c 'import json, sys
ev = [json.loads(l)["event"] for l in open(sys.argv[1])]
print(" ".join(e for e in ev if e in ("request", "answered", "recv-eof")))' "$1"
}
