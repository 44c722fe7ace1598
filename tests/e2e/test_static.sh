#!/usr/bin/env bash
# make static: connctld and connctl need no library at all. ldd says so, and
# both run from a root holding nothing but themselves (no /lib, no /usr):
# the agent starts, a reset rule cuts held connections and a new one.
. "$(dirname "$0")/lib.sh"

STATIC=$BUILD/static
for bin in connctld connctl; do
	[ -x "$STATIC/$bin" ] || die "$STATIC/$bin is missing: make static"
	expect_eq "$(ldd "$STATIC/$bin" 2>&1 | tr -d '\t')" "not a dynamic executable" "ldd $bin"
	log "$bin: $(stat -c %s "$STATIC/$bin") bytes"
done

setup_env
# A root of its own, outside $TMP, its mounts undone before anything is removed.
ROOT=/tmp/$TAG-root
mkdir -p "$ROOT"/{bin,proc,sys,dev,run,etc,var/lib}
undo_root() {
	umount -R "$ROOT/sys" || umount -R -l "$ROOT/sys"
	umount "$ROOT/proc" || umount -l "$ROOT/proc"
	umount "$ROOT/dev" || umount -l "$ROOT/dev"
	# Never across a mount left behind: only the root's own files go.
	rm -rf --one-file-system "$ROOT"
}
trap 'rc=$?; set +e; kill -CONT "$AGENT_PID" 2>/dev/null; kill "$AGENT_PID" 2>/dev/null;
      wait "$AGENT_PID" 2>/dev/null; AGENT_PID=; undo_root; (exit $rc); cleanup' EXIT
cp "$STATIC/connctld" "$STATIC/connctl" "$ROOT/bin/"
echo "root:x:0:" >"$ROOT/etc/group"
mount --bind /proc "$ROOT/proc"
mount --bind /dev "$ROOT/dev"
mount --rbind /sys "$ROOT/sys"
mount --make-rslave "$ROOT/sys"
[ ! -e "$ROOT/lib" ] && [ ! -e "$ROOT/usr" ] && [ ! -e "$ROOT/lib64" ] || die "the root has libraries"
log "the root: $(cd "$ROOT" && echo *)"

in_root() { nsenter --net="$NETNS_PATH" -- chroot "$ROOT" "$@"; }
# Not through a function: $! must be the agent itself (nsenter and chroot exec it).
nsenter --net="$NETNS_PATH" -- chroot "$ROOT" /bin/connctld --socket /run/c.sock \
	--pin-dir "$PIN_DIR" --cgroup "$CGROUP" --state-file /var/lib/connctl/rules.json \
	>>"$AGENT_LOG" 2>&1 &
AGENT_PID=$!
wait_until 10 test -S "$ROOT/run/c.sock" || die "the static connctld did not start"
expect_eq "$(in_root /bin/connctl --version | cut -d' ' -f1)" connctl "the static CLI runs"

hold_start 9200:20
out=$(in_root /bin/connctl --socket /run/c.sock -j rule add action reset lport 9200)
expect_eq "$(jget "$out" 'd["matched"]')" 20 "connections the rule matched"
expect_eq "$(hold_ask alive 9200)" 0 "held connections left"
hold_stop
res=$(in_ns python3 "$TOP/tests/e2e/held_conn.py" 127.0.0.1 9200 5)
expect_eq "$(jget "$res" 'd["client"]')" reset "a new connection to 9200"
expect_eq "$(in_root /bin/connctl --socket /run/c.sock -j rule show 1 |
	jget "$(cat)" 'd[0]["stats"]["closed"]["rst"]')" 21 "resets counted"
