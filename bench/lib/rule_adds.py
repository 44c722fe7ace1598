#!/usr/bin/env python3
"""Add COUNT rules over the control socket from CLIENTS connections at once,
each sending its requests one after another (the next after the reply).
Rules are `reset remote 198.18.x.y/32 lport 8080`, FIRST onwards, matching
nothing in the benchmark. Prints JSON: adds, seconds, adds per second.

    rule_adds.py SOCKET COUNT CLIENTS [FIRST]"""
import json
import socket
import sys
import threading
import time

path, count, clients = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
first = int(sys.argv[4]) if len(sys.argv) > 4 else 0
failures = []


def addr(i):
    return "198.%d.%d.%d" % (18 + i // 65536, i // 256 % 256, i % 256)


def client(lo, hi):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    f = s.makefile("rwb")
    for i in range(lo, hi):
        f.write(json.dumps({"op": "rule.add", "rule": {
            "action": "reset", "remote": addr(i), "lport": 8080}}).encode() + b"\n")
        f.flush()
        reply = json.loads(f.readline())
        if not reply.get("ok"):
            failures.append(reply)
            return
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
