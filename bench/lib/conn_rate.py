#!/usr/bin/env python3
"""New TCP connections per second to a listener of its own on 127.0.0.1:PORT
for SECONDS, or until COUNT are made: connect, one byte each way, close.
Prints JSON: connections, seconds, per second, failures (a connection the
agent closed or reset counts as one).

    conn_rate.py PORT SECONDS [COUNT]"""
import json
import socket
import sys
import threading
import time

port, seconds = int(sys.argv[1]), float(sys.argv[2])
count = int(sys.argv[3]) if len(sys.argv) > 3 else None
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", port))
server.listen(1024)


def serve():
    # A connection a rule resets or cancels fails here: the next is served all the same.
    while True:
        try:
            c, _ = server.accept()
        except OSError:
            return
        try:
            c.recv(1)
            c.sendall(b"y")
        except OSError:
            pass
        c.close()


threading.Thread(target=serve, daemon=True).start()
done = failed = 0
start = time.monotonic()
while time.monotonic() - start < seconds and (count is None or done + failed < count):
    try:
        c = socket.create_connection(("127.0.0.1", port))
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        c.sendall(b"x")
        if c.recv(1) != b"y":
            failed += 1
        c.close()
        done += 1
    except OSError:
        failed += 1
elapsed = time.monotonic() - start
print(json.dumps({"connections": done, "seconds": round(elapsed, 3),
                  "per_second": round(done / elapsed), "failed": failed}))
