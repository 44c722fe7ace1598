#!/usr/bin/env python3
"""Keep-alive pairs in many network namespaces, from one process: for each
namespace path, a server on ADDR:PORT and COUNT clients connected to it, one
request answered on each (so the server spoke last, as an idle keep-alive
server does), then idle. Sockets stay in the namespace they were made in.

Prints {"ready": n} when all are up, then reads one line from stdin:
  "wait"   print {"waiting": n} and wait for every client to see EOF
  "close"  the server closes each of its connections itself (shutdown),
           then waits the same way
and prints {"eof": n, "other": n, "start": EPOCH, "last": EPOCH}: clients
that saw EOF, those that met an error or data instead, when the closes
began ("close" only) and when the last client saw its end.

    netns_pairs.py ADDR PORT COUNT NETNS_PATH..."""
import ctypes
import json
import os
import select
import socket
import sys
import time

CLONE_NEWNET = 0x40000000
libc = ctypes.CDLL(None, use_errno=True)


def enter(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET):
            raise OSError(ctypes.get_errno(), f"setns {path}")
    finally:
        os.close(fd)


def connected(addr, port, count):
    """A listener on ADDR:PORT, COUNT clients connected to it, and the
    server's side of each: (listener, clients, accepted)."""
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((addr, port))
    server.listen(count)
    clients = [socket.create_connection((addr, port)) for _ in range(count)]
    return server, clients, [server.accept()[0] for _ in range(count)]


def pairs(addr, port, count):
    server, clients, accepted = connected(addr, port, count)
    # Left listening, as a server is: a listener says which side serves.
    accepted.append(server)
    for c in clients:
        c.sendall(b"GET\n")
    for a in accepted[:-1]:
        a.recv(16)
        a.sendall(b"OK\n")
    for c in clients:
        c.recv(16)
    return clients, accepted


def main():
    addr, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    clients, servers = [], []
    for path in sys.argv[4:]:
        enter(path)
        c, s = pairs(addr, port, count)
        clients += c
        servers += s
    print(json.dumps({"ready": len(clients)}), flush=True)
    how = sys.stdin.readline().strip()
    ep = select.epoll()
    for c in clients:
        ep.register(c.fileno(), select.EPOLLIN | select.EPOLLRDHUP)
    start = None
    if how == "close":
        start = time.time()
        for s in servers:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass	# the listener
    else:
        print(json.dumps({"waiting": len(clients)}), flush=True)
    left, eof, other, last = len(clients), 0, 0, None
    by_fd = {c.fileno(): c for c in clients}
    deadline = time.time() + 30
    while left and time.time() < deadline:
        for fd, _ in ep.poll(1):
            now = time.time()
            try:
                data = by_fd[fd].recv(16)
                eof += data == b""
                other += data != b""
            except OSError:
                other += 1
            ep.unregister(fd)
            left -= 1
            last = now
    print(json.dumps({"eof": eof, "other": other, "start": start, "last": last}), flush=True)


if __name__ == "__main__":
    main()
