#!/usr/bin/env python3
"""Add COUNT rules over the control socket from CLIENTS connections at once,
each sending its requests one after another (the next after the reply), or
with --pipeline all at once while reading the replies as they come. Rules are
`reset remote 198.18.x.y/32 lport 8080`, FIRST onwards, matching nothing in
the benchmarks. Prints JSON: adds, seconds, adds per second.

    rule_adds.py [--pipeline] SOCKET COUNT CLIENTS [FIRST]"""
import json
import socket
import sys
import threading
import time

args = sys.argv[1:]
pipeline = args[:1] == ["--pipeline"]
args = args[1:] if pipeline else args
path, count, clients = args[0], int(args[1]), int(args[2])
first = int(args[3]) if len(args) > 3 else 0
failures = []


def addr(i):
    return "198.%d.%d.%d" % (18 + i // 65536, i // 256 % 256, i % 256)


def request(i):
    return json.dumps({"op": "rule.add", "rule": {
        "action": "reset", "remote": addr(i), "lport": 8080}}).encode() + b"\n"


def reply_ok(f):
    reply = json.loads(f.readline())
    if not reply.get("ok"):
        failures.append(reply)
    return reply.get("ok")


def client(lo, hi):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    f = s.makefile("rwb")
    if pipeline:
        # A writer of its own: the agent stops reading a client whose
        # replies pile up unread, so reading only after writing could stall.
        def write():
            w = s.makefile("wb")
            w.write(b"".join(request(i) for i in range(lo, hi)))
            w.flush()
        writer = threading.Thread(target=write)
        writer.start()
        all(reply_ok(f) for _ in range(lo, hi))
        writer.join()
    else:
        for i in range(lo, hi):
            f.write(request(i))
            f.flush()
            if not reply_ok(f):
                break
    s.close()


per = count // clients
threads = [threading.Thread(target=client, args=(first + k * per, first + (k + 1) * per))
           for k in range(clients)]
t0 = time.perf_counter()
for t in threads:
    t.start()
for t in threads:
    t.join()
elapsed = time.perf_counter() - t0
if failures:
    sys.exit("rule.add failed: %s" % failures[0])
print(json.dumps({"adds": per * clients, "seconds": elapsed, "per_second": per * clients / elapsed}))
