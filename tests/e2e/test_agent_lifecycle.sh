#!/usr/bin/env bash
# The agent refuses to start where it cannot work safely, keeps enforcement
# pinned when stopped, adopts it on restart (same rule ids, no second
# attachment), and --uninstall removes everything.
. "$(dirname "$0")/lib.sh"

setup_env
start_nginx 8080
start_agent

rc=0
nsenter --net="$NETNS_PATH" -- "$CONNCTLD" --socket "$TMP/second.sock" --pin-dir "$PIN_DIR" --state-file "" \
	--cgroup "$CGROUP" 2>"$TMP/second.err" || rc=$?
expect_eq "$rc" 1 "exit status of a second agent on the same pin dir"
grep 'held by another running connctld' "$TMP/second.err" >/dev/null ||
	die "second agent said: $(cat "$TMP/second.err")"
[ ! -e "$TMP/second.sock" ] || die "the second agent created its socket"

rc=0
"$CONNCTLD" --socket "$TMP/other.sock" --pin-dir "/sys/fs/bpf/$TAG-other" --cgroup "$TMP" \
	2>"$TMP/other.err" || rc=$?
expect_eq "$rc" 1 "exit status with a cgroup that is not cgroup v2"
grep 'is not a cgroup v2 directory' "$TMP/other.err" >/dev/null ||
	die "agent said: $(cat "$TMP/other.err")"

rc=0
"$CONNCTLD" --max-rules 0 2>/dev/null || rc=$?
expect_eq "$rc" 2 "exit status with a bad option value"

connctl rule add action reset lport 8080 id 5 >/dev/null
stop_agent
[ ! -e "$SOCK" ] || die "the stopped agent left its socket"
expect_eq "$(bpftool -j map dump pinned "$PIN_DIR/rules" | jget "$(cat)" '[e["formatted"]["key"] for e in d]')" \
	"[5]" "pinned rules while the agent is stopped"
sockops_count() { bpftool cgroup show "$CGROUP" | grep -c connctl_sockops || true; }
expect_eq "$(sockops_count)" 1 "sockops programs attached while the agent is stopped"

start_agent
expect_eq "$(connctl -j rule show | jget "$(cat)" '[r["id"] for r in d]')" "[5]" "rules after restart"
expect_eq "$(sockops_count)" 1 "sockops programs attached after restart"
res=$(in_ns python3 "$CLIENTS_PY" connect --to 127.0.0.1:8080 --count 5 --deadline 2)
expect_eq "$(jget "$res" 'd["outcomes"]')" "{'reset': 5}" "new connections after restart"
expect_eq "$(connctl -j rule add action reset lport 9 | jget "$(cat)" 'd["id"]')" 6 \
	"the next id after restart"

stop_agent
"$CONNCTLD" --uninstall --pin-dir "$PIN_DIR" 2>/dev/null
[ ! -e "$PIN_DIR" ] || die "--uninstall left $PIN_DIR"
expect_eq "$(bpftool cgroup show "$CGROUP" | grep -c connctl || true)" 0 \
	"programs on the cgroup after --uninstall"
res=$(in_ns python3 "$CLIENTS_PY" connect --to 127.0.0.1:8080 --count 5)
expect_eq "$(jget "$res" 'd["outcomes"]')" "{'ok': 5}" "new connections after --uninstall"
