#!/usr/bin/env python3
"""New TCP connections per second to a listener of its own on 127.0.0.1:PORT
for SECONDS: connect, one byte each way, close. Prints JSON: connections,
seconds, per second, failures.

    conn_rate.py PORT SECONDS"""
import json
import socket
import sys
import threading
import time

port, seconds = int(sys.argv[1]), float(sys.argv[2])
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", port))
server.listen(1024)


def serve():
    while True:
        try:
            c, _ = server.accept()
            c.recv(1)
            c.sendall(b"y")
            c.close()
        except OSError:
            return


threading.Thread(target=serve, daemon=True).start()
done = failed = 0
start = time.monotonic()
while time.monotonic() - start < seconds:
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
