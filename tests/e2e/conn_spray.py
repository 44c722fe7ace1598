#!/usr/bin/env python3
"""COUNT connections to 127.0.0.1 at random PORTS, from random sources
127.0.0.1-20; each connect()ed and closed. Prints one JSON line each: the
source address and the port connected to (the server side's raddr and
lport). Servers are others' (conn_servers).

    conn_spray.py SEED COUNT"""
import json
import random
import socket
import sys

rnd = random.Random(int(sys.argv[1]))
for _ in range(int(sys.argv[2])):
    src = "127.0.0.%d" % rnd.randrange(1, 21)
    port = rnd.randrange(9000, 9050)
    s = socket.socket()
    s.bind((src, 0))
    try:
        s.connect(("127.0.0.1", port))
    except OSError:
        pass
    s.close()
    print(json.dumps({"raddr": src, "lport": port}))
