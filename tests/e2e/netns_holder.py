#!/usr/bin/env python3
"""In the namespace it runs in: a server on ADDR:PORT with COUNT clients
connected to it, held open until it is killed. Writes "ready" to
READY_FILE once all are up.

    netns_holder.py ADDR PORT COUNT READY_FILE"""
import signal
import socket
import sys

addr, port, count, ready = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind((addr, port))
server.listen(count)
clients = [socket.create_connection((addr, port)) for _ in range(count)]
accepted = [server.accept()[0] for _ in range(count)]
with open(ready, "w") as f:
    f.write("ready\n")
signal.pause()
