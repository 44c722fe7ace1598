#!/usr/bin/env python3
"""Listeners on 127.0.0.1 at ports FIRST..LAST, accepting and closing what
comes; prints "ready" once all listen, then runs until killed.

    conn_servers.py FIRST LAST"""
import selectors
import socket
import sys

sel = selectors.DefaultSelector()
for port in range(int(sys.argv[1]), int(sys.argv[2]) + 1):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(1024)
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ)
print("ready", flush=True)
while True:
    for key, _ in sel.select():
        try:
            c, _ = key.fileobj.accept()
            c.close()
        except OSError:
            pass
