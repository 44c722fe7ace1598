#!/usr/bin/env python3
"""Add COUNT rules that match nothing the benchmark opens, pipelined over one
connection: one local port each (1000-7999, past the servers' 8000s), one
remote port each (1000-7999, below the clients' ephemeral ports), a remote
/32 each (198.18.0.0/15), and a cgroup each among the given sibling
cgroups. Prints JSON: the rules added, by kind.

    mixed_rules.py SOCKET COUNT CGROUP..."""
import json
import socket
import sys

args = sys.argv[1:]
action = "reset"
if args[:1] == ["--action"]:
    action, args = args[1], args[2:]
path, count, cgroups = args[0], int(args[1]), args[2:]


def rule(i):
    kind = i % 10
    if kind == 0 and i // 10 < 7000:
        return "port", {"action": action, "lport": 1000 + i // 10}
    if kind == 1 and cgroups:
        return "cgroup", {"action": action, "cgroup": cgroups[i % len(cgroups)]}
    if kind == 2 and i // 10 < 7000:
        return "rport", {"action": action, "rport": 1000 + i // 10}
    return "prefix", {"action": action, "remote": "198.%d.%d.%d" % (
        18 + i // 65536, i // 256 % 256, i % 256)}


kinds = {}
s = socket.socket(socket.AF_UNIX)
s.connect(path)
f = s.makefile("rb")
batch = []
for i in range(count):
    kind, r = rule(i)
    kinds[kind] = kinds.get(kind, 0) + 1
    batch.append(json.dumps({"op": "rule.add", "rule": r}).encode() + b"\n")
sent = 0
failed = 0
while sent < count:
    chunk = batch[sent:sent + 4096]
    s.sendall(b"".join(chunk))
    for _ in chunk:
        if not json.loads(f.readline()).get("ok"):
            failed += 1
    sent += len(chunk)
print(json.dumps({"added": count - failed, "failed": failed, "kinds": kinds}))
