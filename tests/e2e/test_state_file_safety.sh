#!/usr/bin/env bash
# The state file keeps what was acknowledged, and only that: one agent a
# file (locked; the default follows --pin-dir), a change that cannot reach
# the disk is refused and undone, a planted link is never followed, and a
# directory others may write is refused.
. "$(dirname "$0")/lib.sh"

setup_env

# --- One agent a state file; the default follows the pin dir.
start_agent
rc=0
out=$(nsenter --net="$NETNS_PATH" -- "$CONNCTLD" --socket "$TMP/second.sock" \
	--pin-dir "$PIN_DIR-2" --cgroup "$CGROUP" --state-file "$STATE_FILE" 2>&1) || rc=$?
expect_eq "$rc" 1 "exit status of a second agent on the same state file"
grep -q "in use by another running connctld" <<<"$out" || die "no clear message: $out"
[ ! -e "$PIN_DIR-2" ] || rmdir "$PIN_DIR-2" 2>/dev/null || true
stop_agent
# Started without --state-file, it names its default: one of its pin dir's.
default_state=/var/lib/connctl/sys-fs-bpf-$TAG.json
[ -d /var/lib/connctl ] && had_state_dir=yes || had_state_dir=
nsenter --net="$NETNS_PATH" -- "$CONNCTLD" --socket "$SOCK" --pin-dir "$PIN_DIR" \
	--cgroup "$CGROUP" >>"$AGENT_LOG" 2>&1 &
AGENT_PID=$!
wait_until 10 test -S "$SOCK" || die "connctld did not start"
stop_agent
rm -f "$default_state" "$default_state.lock"
# The agent made the directory: the machine gets it back as it was.
[ -n "$had_state_dir" ] || rmdir /var/lib/connctl
grep -q "state file $default_state)" "$AGENT_LOG" ||
	die "the default state file is not $default_state"
log "ok: the default state file follows the pin dir: $default_state"

# --- A disk that fills: changes refused and undone, nothing lost after a reboot.
mkdir "$TMP/small"
mount -t tmpfs -o size=1m,mode=0700 tmpfs "$TMP/small"
umount_small() { umount "$TMP/small" 2>/dev/null || true; }
# The agent holds the file open: stopped first, or the tmpfs stays busy.
trap 'rc=$?; set +e; kill -CONT "$AGENT_PID" 2>/dev/null; [ -z "$AGENT_PID" ] || stop_agent
umount_small; (exit $rc); cleanup' EXIT
SMALL_STATE=$TMP/small/rules.json
start_agent --state-file "$SMALL_STATE" --metrics 127.0.0.1:9545
connctl rule add action reset lport 7001 id 1 >/dev/null
dd if=/dev/zero of="$TMP/small/filler" bs=4k 2>/dev/null || true
acked=(1)
refused=()
# The file's blank lines (64 KiB, written with it) take changes first.
for port in $(seq 7002 8200); do
	rc=0
	out=$(connctl -j rule add action reset lport "$port" id "$port") || rc=$?
	if [ $rc -eq 0 ]; then
		acked+=("$port")
		continue
	fi
	expect_eq "$(jget "$out" 'd["error"]["code"]')" not_durable "error of an add on a full disk"
	refused+=("$port")
	[ ${#refused[@]} -ge 3 ] && break
done
[ ${#refused[@]} -ge 3 ] || die "no add was refused on a full disk"
log "ok: ${#acked[@]} adds acknowledged, then refused: ${refused[*]}"
for id in "${refused[@]}"; do
	rc=0
	connctl rule show "$id" >/dev/null 2>&1 || rc=$?
	expect_eq "$rc" 1 "rule show of refused rule $id"
	in_ns_only bpftool map lookup pinned "$PIN_DIR/rules" key $((id & 255)) $(((id >> 8) & 255)) 0 0 \
		>/dev/null 2>&1 && die "refused rule $id is in the kernel's rules map"
done
rc=0
out=$(connctl -j rule del 1) || rc=$?
expect_eq "$(jget "$out" 'd["error"]["code"]')" not_durable "error of a del on a full disk"
connctl rule show 1 >/dev/null || die "rule 1 is gone after its refused deletion"
metrics=$(in_ns_only curl -s http://127.0.0.1:9545/metrics)
expect_eq "$(awk '$1 == "connctl_state_file_ok" { print $2 }' <<<"$metrics")" 0 \
	"connctl_state_file_ok while the disk is full"
grep -q "cannot write the state file" "$AGENT_LOG" || die "no log line for the failing state file"

rm "$TMP/small/filler"
connctl rule add action reset lport 9200 id 9200 >/dev/null
acked+=(9200)
connctl rule del "${acked[1]}" >/dev/null
deleted=${acked[1]}
unset 'acked[1]'
metrics=$(in_ns_only curl -s http://127.0.0.1:9545/metrics)
expect_eq "$(awk '$1 == "connctl_state_file_ok" { print $2 }' <<<"$metrics")" 1 \
	"connctl_state_file_ok once the disk has room"

# A reboot: pins gone, rules back from the state file: exactly the acknowledged.
stop_agent
nsenter --net="$NETNS_PATH" -- "$CONNCTLD" --uninstall --pin-dir "$PIN_DIR" >/dev/null 2>&1
start_agent --state-file "$SMALL_STATE"
ids=$(connctl -j rule show |
	python3 -c 'import json, sys; print(" ".join(str(r["id"]) for r in json.load(sys.stdin)))')
want=$(printf '%s\n' "${acked[@]}" | sort -n | tr '\n' ' ')
expect_eq "$ids " "$want" "rules after the reboot (acknowledged, not refused, not deleted $deleted)"
stop_agent

# --- A planted link where the file is rewritten is removed, never followed.
echo "root's own file" >"$TMP/victim"
mkdir -p "$(dirname "$STATE_FILE")"
ln -s "$TMP/victim" "$STATE_FILE.tmp"
start_agent
connctl rule add action reset lport 7300 >/dev/null
expect_eq "$(cat "$TMP/victim")" "root's own file" "the file the planted link named"
[ -f "$STATE_FILE" ] && [ ! -L "$STATE_FILE" ] || die "the state file is not a regular file"
stop_agent

# --- A directory others may write is refused, for the state file and the socket.
mkdir -m 1777 "$TMP/open"
rc=0
out=$(nsenter --net="$NETNS_PATH" -- "$CONNCTLD" --socket "$SOCK" --pin-dir "$PIN_DIR" \
	--cgroup "$CGROUP" --state-file "$TMP/open/rules.json" 2>&1) || rc=$?
expect_eq "$rc" 1 "exit status with the state file in a world-writable directory"
grep -q "may be written by others" <<<"$out" || die "no clear message: $out"
rc=0
out=$(nsenter --net="$NETNS_PATH" -- "$CONNCTLD" --socket "$TMP/open/c.sock" --pin-dir "$PIN_DIR" \
	--cgroup "$CGROUP" --state-file "$STATE_FILE" 2>&1) || rc=$?
expect_eq "$rc" 1 "exit status with the socket in a world-writable directory"
grep -q "may be written by others" <<<"$out" || die "no clear message: $out"
