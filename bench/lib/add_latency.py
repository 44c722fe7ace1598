#!/usr/bin/env python3
"""COUNT rule adds over the control socket, one after another, each timed
from the request to its reply. Rules are `reset remote 10.241.R.S/32 lport 9`
(R from 200), FIRST onwards, of PROTO (tcp): they match nothing in the
benchmarks, and nothing outside 10.241.0.0/16 in any case. Prints JSON: the
adds, p50, p99 and max in milliseconds, and what they matched in all.

    add_latency.py SOCKET COUNT [FIRST [PROTO]]"""
import json
import socket
import sys
import time

path, count = sys.argv[1], int(sys.argv[2])
first = int(sys.argv[3]) if len(sys.argv) > 3 else 0
proto = sys.argv[4] if len(sys.argv) > 4 else "tcp"
s = socket.socket(socket.AF_UNIX)
s.connect(path)
f = s.makefile("rwb")
times, matched = [], 0
for i in range(first, first + count):
    req = {"op": "rule.add", "rule": {"action": "reset", "lport": 9, "proto": proto,
                                      "remote": "10.241.%d.%d" % (200 + i // 256, i % 256)}}
    line = json.dumps(req).encode() + b"\n"
    t0 = time.perf_counter()
    f.write(line)
    f.flush()
    reply = json.loads(f.readline())
    times.append((time.perf_counter() - t0) * 1000)
    if not reply.get("ok"):
        sys.exit(f"rule.add refused: {reply}")
    matched += reply.get("matched", 0)
times.sort()
print(json.dumps({"adds": count, "p50": times[len(times) // 2],
                  "p99": times[min(len(times) - 1, len(times) * 99 // 100)],
                  "max": times[-1], "matched": matched}))
