#!/usr/bin/env bash
# What waiting drains cost the agent: COUNT paced downloads (nginx limit_rate
# 20k: a burst, a pause, again) under a drain rule whose quiet (30 s) they
# never reach, so the rule waits on every one of them. Two nginx, same run:
# one in the agent's --cgroup, whose boundaries sockops and cgroup_skb
# report as they come; one outside it, whose connections the agent looks at
# one by one (a sock_diag lookup when a quiet could have run out; before,
# a sweep walked the namespace's sockets every 20 ms). Reported: the
# agent's CPU (utime + stime over the measured seconds), and the sweeps
# (walks of a namespace for drains) meanwhile.
# QUIET (30s) sets the rule's quiet: the shorter, the more often each
# connection is looked at (it must stay above the pauses, or the downloads
# are closed in one).
# Usage: [QUIET=30s] bench/drain_wait.sh [SECONDS] [COUNT...]
. "$(dirname "$0")/../tests/e2e/lib.sh"

MEASURE=${1:-8}
QUIET=${QUIET:-30s}
shift || true
COUNTS=${*:-1 1000}
ulimit -n 20000

setup_env
mkdir "$CGROUP/in" "$CGROUP/out"
mkdir "$TMP/in" "$TMP/out"
# nginx's worker must reach the files through the parent as well.
chmod 755 "$TMP"
TMP=$TMP/in CGROUP=$CGROUP/in start_nginx 8091
TMP=$TMP/out CGROUP=$CGROUP/out start_nginx 8092
start_agent --cgroup "$CGROUP/in" --metrics 9550
ticks() { awk '{ print $14 + $15 }' "/proc/$AGENT_PID/stat"; }
metric() { agent_metric 9550 "$1"; }
hz=$(getconf CLK_TCK)

printf '\nwaiting drains: the agent'"'"'s CPU while COUNT paced downloads wait (quiet %s), %s s measured\n' \
	"$QUIET" "$MEASURE"
printf '%7s %-34s %9s %8s %8s %8s\n' COUNT "boundaries found by" "CPU %" sweeps matched waiting
for count in $COUNTS; do
	for side in events sweeps; do
		port=8091
		[ "$side" = sweeps ] && port=8092
		coproc DL { in_ns python3 "$TOP/bench/lib/slow_downloads.py" "$port" /slow "$count"; }
		read -r -t 60 started <&"${DL[0]}" || die "$count downloads did not start"
		added=$(connctl -j rule add action drain lport "$port" quiet "$QUIET" timeout 10m)
		id=$(jget "$added" 'd["id"]')
		sleep 1
		t0=$(ticks)
		s0=$(metric connctl_sweeps_total)
		sleep "$MEASURE"
		t1=$(ticks)
		s1=$(metric connctl_sweeps_total)
		pending=$(connctl -j rule show "$id" | jget "$(cat)" 'd[0]["stats"]["pending"]')
		connctl rule del "$id" >/dev/null
		echo done >&"${DL[1]}"
		read -r -t 30 tally <&"${DL[0]}" || die "the downloads did not report"
		wait "$DL_PID" 2>/dev/null || true
		label="sockops + cgroup_skb (in --cgroup)"
		[ "$side" = sweeps ] && label="sock_diag looks (outside --cgroup)"
		[ "$(jget "$tally" 'd["ended"]')" = 0 ] || die "downloads ended: $tally"
		printf '%7s %-34s %9.2f %8s %8s %8s\n' "$count" "$label" \
			"$(python3 -c "print(($t1 - $t0) * 100 / $hz / $MEASURE)")" \
			"$((s1 - s0))" "$(jget "$added" 'd["matched"]')" "$pending"
	done
done
