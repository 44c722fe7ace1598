#!/usr/bin/env python3
"""Connections that come and go while something else happens: loopback
pairs to a listener of its own on PORT, opened one after another for
SECONDS, each closed LIFE_MS after it opened, except every KEEP-th, which
stays open. Prints 'running PID' once the first pairs are up, then 'done N'
when it stops opening (N pairs kept open), and holds those until it is
killed.

    churn_window.py PORT SECONDS LIFE_MS KEEP"""
import collections
import os
import socket
import sys
import time

port, seconds, life, keep = (int(sys.argv[1]), float(sys.argv[2]),
                             float(sys.argv[3]) / 1000, int(sys.argv[4]))
srv = socket.create_server(("127.0.0.1", port), backlog=1024)
live = collections.deque()	# (closing time, client, server)
kept = []
end = time.monotonic() + seconds
n = 0
while time.monotonic() < end:
    c = socket.create_connection(("127.0.0.1", port))
    s, _ = srv.accept()
    n += 1
    if n % keep == 0:
        kept.append((c, s))
    else:
        live.append((time.monotonic() + life, c, s))
    while live and live[0][0] <= time.monotonic():
        _, c, s = live.popleft()
        c.close()
        s.close()
    if n == 100:
        print("running", os.getpid(), flush=True)
    time.sleep(0.0005)
for _, c, s in live:
    c.close()
    s.close()
print("done", len(kept), flush=True)
while True:
    time.sleep(3600)
