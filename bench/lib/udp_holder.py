#!/usr/bin/env python3
"""N connected UDP sockets to an unconnected server of its own on
127.0.0.1:PORT, each having sent a datagram; then CMD is run and timed, and
the sockets still connected are counted. Prints JSON: n, us (CMD's run
time), alive (sockets still connected), the server still bound.

    udp_holder.py N PORT CMD..."""
import json
import socket
import subprocess
import sys
import time

n, port, cmd = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
server.bind(("127.0.0.1", port))
server.setblocking(False)
clients = []
for _ in range(n):
    c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    c.connect(("127.0.0.1", port))
    c.send(b"x")
    clients.append(c)
    try:
        while True:
            server.recv(16)
    except BlockingIOError:
        pass
start = time.monotonic()
subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
us = (time.monotonic() - start) * 1e6
alive = 0
for c in clients:
    try:
        c.getpeername()
        alive += 1
    except OSError:
        pass
print(json.dumps({"n": n, "us": round(us), "alive": alive,
                  "server": server.getsockname()[1] == port}))
