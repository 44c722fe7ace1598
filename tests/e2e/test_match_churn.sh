#!/usr/bin/env bash
# A standing rule is found by every new connection while the rules beside it
# come and go: one rule (lport 9001 rport 20000-21999) among 40 others under
# the same local port, so their list runs through two chunks, while a client
# adds and deletes rules there (each delete moves the list's last id into
# the hole) as 2,000 connections arrive, 100 after each round of changes.
# The rule must count every one of them as a new match, and the list must
# end as the rules that stand.
. "$(dirname "$0")/lib.sh"

setup_env
CLIENT_CG=$CGROUP-c		# the clients, out of sockops' sight
mkdir "$CLIENT_CG"
start_agent

in_ns python3 "$TOP/tests/e2e/conn_servers.py" 9001 9001 >/dev/null &
wait_until 10 port_listening 9001 || die "server not listening"

# rules_on_9001 FIRST COUNT: rules no connection here matches (rport 1-2).
rules_on_9001() {
	python3 - "$SOCK" "$1" "$2" <<'PY'
import json, socket, sys
path, first, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = socket.socket(socket.AF_UNIX); s.connect(path); f = s.makefile("rb")
for i in range(first, first + count):
    s.sendall(json.dumps({"op": "rule.add", "rule": {"action": "reset", "lport": 9001,
                          "rport": "1-2", "id": i}}).encode() + b"\n")
    assert json.loads(f.readline())["ok"]
PY
}

rules_on_9001 100 20
connctl rule add action reset lport 9001 rport 20000-21999 id 50 >/dev/null
rules_on_9001 120 20
bucket_count() {
	bpftool -j map lookup pinned "$PIN_DIR/rule_ports" key 0x29 0x23 0 0 |
		jget "$(cat)" 'd["formatted"]["value"]["count"]'
}
expect_eq "$(bucket_count)" 41 "rules listed under local port 9001"

# The churn: 20 added, then 20 of the others deleted, over and over, until
# told to stop; the rounds done so far in a file.
python3 - "$SOCK" "$TMP/stop" "$TMP/rounds" >"$TMP/churn.out" 2>&1 <<'PY' &
import json, os, random, socket, sys
path, stop, progress = sys.argv[1], sys.argv[2], sys.argv[3]
s = socket.socket(socket.AF_UNIX); s.connect(path); f = s.makefile("rb")
rnd = random.Random(5)
def call(req):
    s.sendall(json.dumps(req).encode() + b"\n")
    reply = json.loads(f.readline())
    assert reply["ok"], reply
standing = list(range(100, 140))
next_id, rounds = 1000, 0
while not os.path.exists(stop):
    for _ in range(20):
        call({"op": "rule.add", "rule": {"action": "reset", "lport": 9001, "rport": "1-2",
                                         "id": next_id}})
        standing.append(next_id)
        next_id += 1
    for _ in range(20):
        call({"op": "rule.del", "id": standing.pop(rnd.randrange(len(standing)))})
    rounds += 1
    with open(progress + ".new", "w") as out:
        out.write(str(rounds))
    os.rename(progress + ".new", progress)
print(json.dumps({"rounds": rounds, "standing": len(standing)}))
PY
churn=$!

# 100 connections after each round of the churn (a slower disk slows the
# churn, not the connections: paced by it, they meet it whatever the machine).
in_cgroup_netns "$CLIENT_CG" "$NETNS_PATH" python3 - "$TMP/rounds" <<'PY'
import socket, sys, time
def rounds():
    try:
        return int(open(sys.argv[1]).read())
    except (OSError, ValueError):
        return 0
for i in range(2000):
    if i % 100 == 0:
        deadline = time.monotonic() + 10
        while rounds() < i // 100 + 1 and time.monotonic() < deadline:
            time.sleep(0.001)
    c = socket.socket()
    c.bind(("127.0.0.1", 20000 + i))
    try:
        c.connect(("127.0.0.1", 9001))
    except OSError:
        pass	# reset as soon as the server side was established
    c.close()
PY
touch "$TMP/stop"
wait "$churn" || die "the churn failed: $(cat "$TMP/churn.out")"
log "churn: $(cat "$TMP/churn.out")"
[ "$(jget "$(cat "$TMP/churn.out")" 'd["rounds"]')" -ge 20 ] ||
	die "too few rounds of churn while the connections came: a test of nothing"

new_matches() { connctl -j rule show 50 | jget "$(cat)" 'd[0]["stats"]["new_matches"]'; }
all_counted() { [ "$(new_matches)" -ge 2000 ]; }
wait_until 10 all_counted || true
expect_eq "$(new_matches)" 2000 "new connections the standing rule matched amid the churn"
expect_eq "$(bucket_count)" 41 "rules listed under local port 9001 after the churn"
