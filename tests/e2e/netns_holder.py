#!/usr/bin/env python3
"""In the namespace it runs in: a server on ADDR:PORT with COUNT clients
connected to it, held open until it is killed. Writes "ready" to
READY_FILE once all are up.

    netns_holder.py ADDR PORT COUNT READY_FILE"""
import signal
import sys

from netns_pairs import connected

addr, port, count, ready = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
server, clients, accepted = connected(addr, port, count)
with open(ready, "w") as f:
    f.write("ready\n")
signal.pause()
