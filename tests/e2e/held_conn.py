#!/usr/bin/env python3
"""A new connection to an echo listener of its own on ADDR:PORT: "hello" sent,
then what the client saw within DEADLINE seconds (reset, data, eof, open),
when, and how many bytes the server side received.

    held_conn.py ADDR PORT DEADLINE"""
import json
import socket
import sys
import threading
import time

addr, port, deadline = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind((addr, port))
server.listen(1)
got = [0]


def serve():
    try:
        s, _ = server.accept()
        s.settimeout(deadline)
        data = s.recv(100)
        got[0] = len(data)
        s.sendall(data)
    except OSError:
        pass


threading.Thread(target=serve, daemon=True).start()
start = time.monotonic()
c = socket.create_connection((addr, port))
c.settimeout(deadline)
try:
    c.sendall(b"hello")
    outcome = "data" if c.recv(10) else "eof"
except (ConnectionResetError, ConnectionAbortedError, BrokenPipeError):
    outcome = "reset"
except socket.timeout:
    outcome = "open"
after = time.monotonic() - start
time.sleep(0.1)
print(json.dumps({"client": outcome, "after_s": round(after, 3), "server_got": got[0]}))
