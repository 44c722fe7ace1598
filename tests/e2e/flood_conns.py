#!/usr/bin/env python3
"""COUNT short connections to a listener of its own on ADDR:PORT, each closed
at once by both sides, as fast as they go. Prints how many were made.

    flood_conns.py ADDR PORT COUNT"""
import socket
import sys
import threading

addr, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind((addr, port))
server.listen(4096)


def serve():
    for _ in range(count):
        s, _ = server.accept()
        s.close()


t = threading.Thread(target=serve, daemon=True)
t.start()
made = 0
for _ in range(count):
    c = socket.create_connection((addr, port))
    # No TIME_WAIT left behind: an RST-free abortive close would reset; a
    # plain close is what real clients do.
    c.close()
    made += 1
t.join(30)
print(made)
