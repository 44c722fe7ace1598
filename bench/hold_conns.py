#!/usr/bin/env python3
"""Hold COUNT established loopback connections to PORT (both ends in this
process) until stdin closes; print 'ready' once they are all up, then, when
asked with a line 'count', how many of the server-side sockets are still open
(a reset socket reports an error on a zero-length peek)."""
import socket
import sys

port, count = int(sys.argv[1]), int(sys.argv[2])
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", port))
srv.listen(4096)
clients, servers = [], []
for _ in range(count):
    clients.append(socket.create_connection(("127.0.0.1", port)))
    servers.append(srv.accept()[0])
print("ready", flush=True)
for line in sys.stdin:
    alive = 0
    for s in servers:
        try:
            s.setblocking(False)
            s.recv(1, socket.MSG_PEEK)
            alive += 1
        except BlockingIOError:
            alive += 1
        except OSError:
            pass
    print(alive, flush=True)
