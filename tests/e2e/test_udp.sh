#!/usr/bin/env bash
# Connected UDP sockets, with real programs (python sockets, socat, dig
# against dnsmasq): a `reset proto udp` rule ends the connected sockets it
# matches (their owners' recv() fails with ECONNABORTED), refuses their new
# connect() and sendto() (EPERM), over IPv4 and IPv6, and leaves
# unconnected server sockets serving every other client; `cancel proto udp`
# wakes a blocked recv() with 0; `drain proto udp` is refused. The rule
# carries proto through rule show, bpftool, a restart and the state file.
. "$(dirname "$0")/lib.sh"

PEER=$TOP/tests/e2e/udp_peer.py
setup_env
start_agent --metrics 9552

# A datagram echo server (unconnected sockets on port 5300) and dnsmasq (the
# same, on 5353), both serving 127.0.0.1 and 127.0.0.2.
in_ns python3 "$PEER" echo 5300 127.0.0.1 127.0.0.2 >"$TMP/echo.out" &
in_ns python3 "$PEER" echo 5301 127.0.0.1 >/dev/null &
in_ns dnsmasq --no-daemon --no-resolv --no-hosts --port=5353 \
	--listen-address=127.0.0.1,127.0.0.2 --bind-interfaces --address=/svc.test/192.0.2.53 \
	--user=root --pid-file= >"$TMP/dnsmasq.log" 2>&1 &
udp_listening() { [ -n "$(in_ns_only ss -Huln "sport = :$1")" ]; }
wait_until 10 udp_listening 5300 && wait_until 10 udp_listening 5301 &&
	wait_until 10 udp_listening 5353 || die "UDP servers not up"
# dig's first line: the address, or what went wrong (dig then fails).
dig_answer() {
	{ in_ns dig +short +tries=1 +time=2 -p 5353 "@$1" svc.test 2>&1 || true; } | head -n 1
}
expect_eq "$(dig_answer 127.0.0.1)" 192.0.2.53 "dig before any rule"

# Connected clients: two to 127.0.0.1:5300 (to be reset), one to
# 127.0.0.1:5301 (to be cancelled later), socat to 127.0.0.1:5300.
for i in a b; do
	in_ns python3 "$PEER" client 127.0.0.1 5300 20 >"$TMP/client_$i.out" &
done
in_ns python3 "$PEER" client 127.0.0.1 5301 20 >"$TMP/client_c.out" &
mkfifo "$TMP/socat.in"
sleep 30 >"$TMP/socat.in" &
in_ns socat STDIO UDP:127.0.0.1:5300 <"$TMP/socat.in" >/dev/null 2>"$TMP/socat.err" &
SOCAT=$!
ready() { grep -q ready "$TMP/client_$1.out"; }
wait_until 10 ready a && wait_until 10 ready b && wait_until 10 ready c || die "clients not up"
socat_up() { [ -n "$(in_ns_only ss -Hun state established "dport = :5300" | grep socat)" ] ||
	[ "$(in_ns_only ss -Hunp state established "dport = :5300" | grep -c socat)" -gt 0 ]; }
wait_until 10 socat_up || die "socat not connected"
server_inode() { in_ns_only ss -Hulne "sport = :5300" | grep -o 'ino:[0-9]*' | sort; }
inode_before=$(server_inode)

# A dry run lists the three connected sockets with their owners, not the server.
dry=$(connctl -j rule add action reset proto udp remote 127.0.0.1 rport 5300 dry-run)
expect_eq "$(jget "$dry" 'd["matched"]')" 3 "dry run: connected sockets to 127.0.0.1:5300"
expect_eq "$(jget "$dry" 'sorted(set(o["command"] for c in d["connections"] for o in c["owners"]))')" \
	"['python3', 'socat']" "dry run: their owners"

# The reset: the connected sockets end, the owners see ECONNABORTED.
res=$(connctl -j rule add action reset proto udp remote 127.0.0.1 rport 5300)
expect_eq "$(jget "$res" 'd["matched"]')" 3 "reset proto udp: matched"
expect_eq "$(jget "$res" 'd["rule"]["proto"]')" udp "the rule's proto"
RULE=$(jget "$res" 'd["id"]')
ended() { grep -q '"after"' "$TMP/client_$1.out"; }
wait_until 5 ended a && wait_until 5 ended b || die "reset clients still waiting"
for i in a b; do
	out=$(grep after "$TMP/client_$i.out")
	expect_eq "$(jget "$out" 'd["error"]')" ECONNABORTED "client $i: its recv()"
	# Disconnected: the next send() has no destination any more.
	expect_eq "$(jget "$out" 'd["send_error"]')" EDESTADDRREQ "client $i: its next send()"
done
socat_gone() { ! kill -0 "$SOCAT" 2>/dev/null; }
wait_until 5 socat_gone || die "socat still running after the reset"
grep -q "Software caused connection abort" "$TMP/socat.err" ||
	die "socat did not report the abort: $(cat "$TMP/socat.err")"
log "socat said: $(head -n 1 "$TMP/socat.err")"

# New sockets to the peer are refused; other peers and servers are not.
out=$(in_ns python3 "$PEER" connect 127.0.0.1 5300)
expect_eq "$(jget "$out" 'd["connect"]') $(jget "$out" 'd["sendto"]')" "EPERM EPERM" \
	"a new connect() and an unconnected sendto() to 127.0.0.1:5300"
socat_err=$(in_ns socat -T 2 - UDP:127.0.0.1:5300 </dev/null 2>&1 >/dev/null || true)
case $socat_err in
*"Operation not permitted"*) log "socat, new: $socat_err" ;;
*) die "a new socat was not refused: $socat_err" ;;
esac
out=$(in_ns python3 "$PEER" exchange 127.0.0.2 5300)
expect_eq "$(jget "$out" 'd["reply"]')" ping "the unconnected server answers 127.0.0.2:5300"
expect_eq "$(server_inode)" "$inode_before" "the server's socket is the same"
expect_eq "$(grep -c after "$TMP/client_c.out")" 0 "client c (port 5301) untouched"

# DNS: dig to a refused peer fails at once; dnsmasq serves the others.
connctl rule add action reset proto udp remote 127.0.0.1 rport 5353 >/dev/null
dig_err=$(dig_answer 127.0.0.1)
case $dig_err in
*"permitted"*|*"permission"*) log "dig to 127.0.0.1: $dig_err" ;;
*) die "dig to 127.0.0.1 was not refused: $dig_err" ;;
esac
expect_eq "$(dig_answer 127.0.0.2)" 192.0.2.53 "dig to 127.0.0.2 (dnsmasq untouched)"
expect_eq "$(in_ns_only ss -Hulnp "sport = :5353" | grep -c dnsmasq)" 2 \
	"dnsmasq's two unconnected sockets"

# IPv6 too: the iterator's and connect6/sendmsg6's side.
in_ns python3 "$PEER" echo 5302 ::1 >/dev/null &
wait_until 10 udp_listening 5302 || die "the IPv6 server is not up"
in_ns python3 "$PEER" client ::1 5302 20 >"$TMP/client_6.out" &
wait_until 10 ready 6 || die "the IPv6 client is not up"
res=$(connctl -j rule add action reset proto udp remote ::1 rport 5302)
expect_eq "$(jget "$res" 'd["matched"]')" 1 "reset proto udp, IPv6: matched"
wait_until 5 ended 6 || die "the IPv6 client still waits"
expect_eq "$(jget "$(grep after "$TMP/client_6.out")" 'd["error"]')" ECONNABORTED \
	"the IPv6 client's recv()"
out=$(in_ns python3 "$PEER" connect ::1 5302)
expect_eq "$(jget "$out" 'd["connect"]') $(jget "$out" 'd["sendto"]')" "EPERM EPERM" \
	"a new connect() and sendto() to [::1]:5302"

# Counts: matched, ended, refused; and the rule in bpftool.
stats=$(connctl -j rule show "$RULE")
expect_eq "$(jget "$stats" 'd[0]["stats"]["matched"]')" 3 "rule show: matched"
expect_eq "$(jget "$stats" 'd[0]["stats"]["closed"]["rst"]')" 3 "rule show: ended"
expect_eq "$(jget "$stats" 'd[0]["stats"]["closed"]["refused"] >= 2')" True \
	"rule show: refused connect() and sendto()"
expect_eq "$(bpftool -j map lookup pinned "$PIN_DIR/rules" key $((RULE & 255)) 0 0 0 |
	python3 -c 'import json, sys; print(json.load(sys.stdin)["formatted"]["value"]["proto"])')" \
	CONNCTL_PROTO_UDP "bpftool: the rule's proto"

# Cancel: the owner blocked in recv() wakes with 0, its socket shut down.
cancel_at=$(date +%s.%N)
res=$(connctl -j rule add action cancel proto udp rport 5301)
log "cancel: $res"
expect_eq "$(jget "$res" 'd["matched"]')" 1 "cancel proto udp: matched"
wait_until 5 ended c || die "the cancelled client still waits"
# Its owner found among its cgroup's processes, not by a walk of every one.
expect_eq "$(agent_metric 9552 'connctl_owner_walks_total{of="all"}')" 0 \
	"walks of every process's files for the cancel"
out=$(grep after "$TMP/client_c.out")
expect_eq "$(jget "$out" 'd["recv"]') $(jget "$out" 'd["error"]')" " None" \
	"client c: recv() returned 0 bytes, no error"
expect_eq "$(jget "$out" "d['at'] - $cancel_at < 2")" True "client c woke at once"
expect_eq "$(jget "$out" 'd["send_error"]')" EPIPE "client c: its next send()"

# Drain has no meaning for UDP: refused, nothing added.
if out=$(connctl rule add action drain proto udp lport 5300 2>&1); then
	die "drain proto udp was accepted"
fi
case $out in
*"UDP has no response boundary"*) log "drain refused: $out" ;;
*) die "drain proto udp: unclear error: $out" ;;
esac
expect_eq "$(connctl -j rule show | jget "$(cat)" 'len(d)')" 4 "rules standing"

# Pinned: with the agent stopped, the refusal stands; restarted, it shows proto.
stop_agent
out=$(in_ns python3 "$PEER" connect 127.0.0.1 5300)
expect_eq "$(jget "$out" 'd["connect"]')" EPERM "no agent: a new connect() still refused"
start_agent
expect_eq "$(connctl -j rule show "$RULE" | jget "$(cat)" 'd[0]["proto"]')" udp \
	"after a restart: the rule's proto"

# On disk too: after a reboot (pins gone), the state file brings it back as udp.
grep -q '"proto":"udp"' "$STATE_FILE" || die "the state file does not carry proto udp"
stop_agent
in_ns_only "$CONNCTLD" --uninstall --pin-dir "$PIN_DIR" >/dev/null 2>&1 || die "uninstall failed"
start_agent
expect_eq "$(connctl -j rule show "$RULE" | jget "$(cat)" 'd[0]["proto"]')" udp \
	"restored from the state file: the rule's proto"
out=$(in_ns python3 "$PEER" connect 127.0.0.1 5300)
expect_eq "$(jget "$out" 'd["connect"]')" EPERM "restored: a new connect() refused again"
