#!/usr/bin/env bash
# Owners (issue 16): a drain closes each connection through the process that
# holds it, found by one walk of every process's sockets per batch of
# closes. The agent walks the file tables in the kernel (bpf/owners.bpf.c);
# its peer, same run, is the walk of /proc/PID/fd it falls back to. PROCS
# processes hold PER socket pairs each (AF_UNIX: no network is touched).
# The first of them is moved to a cgroup of its own, a service's: a drain
# finds the owner of one of its sockets by a walk of that cgroup's
# processes alone, the third row.
# Usage: bench/owner_walk.sh [ROUNDS] [PROCS:PER...]
. "$(dirname "$0")/../tests/e2e/lib.sh"

ROUNDS=${1:-5}
shift || true
SIZES=(1:1000 2:9000 8:9000)
[ $# -gt 0 ] && SIZES=("$@")
WALK=$BUILD/clients/owner_walk
ulimit -n 20000
make -C "$TOP" --no-print-directory build/clients/owner_walk >/dev/null ||
	die "cannot build $WALK"

setup_env
printf '\nowners: one walk of every process'"'"'s sockets, median of %s\n' "$ROUNDS"
printf '%10s %-32s %10s %8s %10s\n' sockets walk "time (ms)" found "vs /proc"
for size in "${SIZES[@]}"; do
	res=$("$WALK" "${size%%:*}" "${size##*:}" "$ROUNDS" "$CGROUP") ||
		die "owner_walk $size failed"
	python3 - "$res" <<'PY'
import json, sys
d = json.loads(sys.argv[1])
for label, ms, found in (("connctld, owners iterator", d["iterator_ms"], d["iterator_found"]),
                         ("/proc/PID/fd", d["proc_ms"], d["proc_found"]),
                         ("connctld, the service's cgroup", d["cgroup_ms"], d["cgroup_found"])):
    print(f"{d['sockets_held']:10} {label:32} {ms:10.2f} {found:8} {ms / d['proc_ms']:10.2f}")
PY
	[ "$(jget "$res" 'd["iterator_found"] >= d["sockets_held"]')" = True ] ||
		die "the iterator missed sockets: $res"
done
