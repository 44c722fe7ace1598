#!/usr/bin/env python3
"""COUNT connections to 127.0.0.1 at random PORTS, from random sources
127.0.0.1-20, each from a port of its own: SEED's block of COUNT ports from
20000 + 2000 * (SEED % 10) (so rules can name remote ports, and rounds of
other seeds reuse no 4-tuple still in TIME-WAIT). Each is connect()ed and
closed. Prints one JSON line each: the source address,
its port and the port connected to (the server side's raddr, rport and
lport). Servers are others' (conn_servers).

    conn_spray.py SEED COUNT"""
import json
import random
import socket
import sys

seed, count = int(sys.argv[1]), int(sys.argv[2])
rnd = random.Random(seed)
base = 20000 + 2000 * (seed % 10)
for i in range(count):
    src = "127.0.0.%d" % rnd.randrange(1, 21)
    port = rnd.randrange(9000, 9050)
    s = socket.socket()
    s.bind((src, base + i))
    try:
        s.connect(("127.0.0.1", port))
    except OSError:
        pass	# reset by a rule as soon as the server side was established
    s.close()
    print(json.dumps({"raddr": src, "rport": base + i, "lport": port}))
