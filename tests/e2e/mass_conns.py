#!/usr/bin/env python3
"""Hold many established loopback connections, spread over worker processes
(a process may hold at most 20,000 files, and each connection costs two here:
both ends live in the worker that made it).

    mass_conns.py [--per-process K] PORT:COUNT [PORT:COUNT ...]

Each group is COUNT connections to a listener on PORT, at most K (8,000) a
worker process; worker w listens on
127.0.0.(w+2), so every worker can use the same port. Prints 'ready' once all
are up, then answers lines on stdin:

    alive PORT       how many server-side sockets of PORT's group are open
    run CMD ...      run CMD, print its wall time in microseconds
    send PATH JSON   send one request line to the Unix socket PATH, print the
                     time to the reply line in microseconds and the reply
"""
import multiprocessing as mp
import socket
import subprocess
import sys
import time

PER_WORKER = 8000	# 16,001 files: under the 20,000 a process may hold


def worker(addr, port, count, conn):
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((addr, port))
    srv.listen(4096)
    clients, servers = [], []
    for _ in range(count):
        clients.append(socket.create_connection((addr, port)))
        servers.append(srv.accept()[0])
    for s in servers:
        s.setblocking(False)
    conn.send("ready")
    while conn.recv() == "alive":
        alive = 0
        for s in servers:
            try:
                s.recv(1, socket.MSG_PEEK)
                alive += 1
            except BlockingIOError:
                alive += 1
            except OSError:	# reset: ECONNRESET once, then EOF-like errors
                pass
        conn.send(alive)


def send(path, line):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    f = s.makefile("rwb")
    t0 = time.perf_counter_ns()
    f.write(line.encode() + b"\n")
    f.flush()
    reply = f.readline()
    t1 = time.perf_counter_ns()
    s.close()
    return (t1 - t0) // 1000, reply.decode().strip()


def main():
    global PER_WORKER
    args = sys.argv[1:]
    if args[:1] == ["--per-process"]:
        PER_WORKER = min(PER_WORKER, int(args[1]))
        args = args[2:]
    groups = []
    for arg in args:
        port, count = map(int, arg.split(":"))
        groups.append((port, count))
    workers = {}		# port -> [(process, pipe end)]
    index = 0
    for port, count in groups:
        while count > 0:
            n = min(count, PER_WORKER)
            here, there = mp.Pipe()
            p = mp.Process(target=worker, args=("127.0.0.%d" % (index + 2), port, n, there))
            p.start()
            workers.setdefault(port, []).append((p, here))
            count -= n
            index += 1
    for ws in workers.values():
        for _, pipe in ws:
            if pipe.recv() != "ready":
                sys.exit("a worker failed")
    print("ready", flush=True)
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        if words[0] == "alive":
            ws = workers[int(words[1])]
            for _, pipe in ws:
                pipe.send("alive")
            print(sum(pipe.recv() for _, pipe in ws), flush=True)
        elif words[0] == "run":
            t0 = time.perf_counter_ns()
            subprocess.run(words[1:], stdout=subprocess.DEVNULL, check=True)
            print((time.perf_counter_ns() - t0) // 1000, flush=True)
        elif words[0] == "send":
            us, reply = send(words[1], line.split(None, 2)[2].strip())
            print(us, reply, flush=True)
    for ws in workers.values():
        for p, pipe in ws:
            pipe.send("stop")
            p.join()


if __name__ == "__main__":
    main()
