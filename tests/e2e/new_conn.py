#!/usr/bin/env python3
"""A new connection to a listener of its own on ADDR:PORT, one request's
worth of bytes sent, then what came back within 3 s: reset (the connection
was reset or destroyed: ECONNRESET, ECONNABORTED), eof, data, or open.

    new_conn.py ADDR PORT"""
import socket
import sys

addr, port = sys.argv[1], int(sys.argv[2])
server = socket.socket()
server.bind((addr, port))
server.listen(1)
server.settimeout(3)
c = socket.create_connection((addr, port))
try:
    s, _ = server.accept()   # a reset may take the connection before accept
except OSError:
    pass
c.settimeout(3)
try:
    c.sendall(b"hello")
    print("data" if c.recv(10) else "eof")
except (ConnectionResetError, ConnectionAbortedError):
    print("reset")
except socket.timeout:
    print("open")
