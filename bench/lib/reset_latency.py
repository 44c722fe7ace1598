#!/usr/bin/env python3
"""New-connection reset latency, seen by the client: the time from calling
connect() to the connection failing with ECONNRESET, in connect() itself (the
reset can come that soon) or in the recv() after it. It includes the
handshake, a few tens of microseconds on loopback, so it is an upper bound.

    reset_latency.py RULE_PORT SELF_PORT COUNT

RULE_PORT: a listener that accepts and holds; a connctl reset rule stands on
it. SELF_PORT: the peer, a server that resets each connection itself as soon
as it accepts it (SO_LINGER 0, close), the fastest an application can.
Connections alternate between the two; prints one JSON line of latencies in
microseconds, by port."""
import json
import socket
import struct
import sys
import threading
import time

rule_port, self_port, count = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
held = []


def listener(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(4096)
    return s


def hold(srv):
    while True:
        held.append(srv.accept()[0])


def reset_at_once(srv):
    linger = struct.pack("ii", 1, 0)
    while True:
        c = srv.accept()[0]
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
        c.close()


def one(port):
    c = socket.socket()
    c.settimeout(5)
    t0 = time.perf_counter_ns()
    try:
        c.connect(("127.0.0.1", port))
        data = c.recv(1)
        raise SystemExit(f"port {port}: recv returned {data!r}, not a reset")
    except ConnectionResetError:
        t1 = time.perf_counter_ns()
    c.close()
    return (t1 - t0) / 1000


threading.Thread(target=hold, args=(listener(rule_port),), daemon=True).start()
threading.Thread(target=reset_at_once, args=(listener(self_port),), daemon=True).start()
lat = {rule_port: [], self_port: []}
for i in range(count):
    for port in (rule_port, self_port):
        lat[port].append(one(port))
print(json.dumps({str(k): v for k, v in lat.items()}))
