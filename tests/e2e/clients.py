#!/usr/bin/env python3
"""HTTP keep-alive clients for the end-to-end tests.

hold:    open COUNT keep-alive connections to each --to target, complete one
         request on each, run CMD, then send one more request on each and
         report, per target, what came back: ok (a full 200 response), reset
         (ECONNRESET/EPIPE), eof, timeout.
connect: open COUNT new connections to the first target and report the same
         for one request each, with the time from connect() to the outcome.
fetch:   one request for --path on one keep-alive connection; once --at-bytes
         of the body have arrived, run CMD; read the whole response, then wait
         for the server to close. Reports the body's length and sha256, how
         the connection ended (eof, reset, timeout) and when.
again:   one request on one keep-alive connection, run CMD, and at once a
         second request; report how the second answer came (ok, eof, reset,
         timeout), when, and then how the connection ended.
idle:    COUNT keep-alive connections with one request done, idle --idle
         seconds, run CMD, then report how long each took to see EOF.
load:    COUNT connections, each a thread sending requests back to back for
         --seconds, with now and then an idle pause; each response is checked
         against --sha256. A connection the server closed while idle is
         reopened. CMD runs once every connection is open (5 s at most), so
         it meets all COUNT. Counts every kind of failure.

A target is 127.0.0.1:8080 or [::1]:8080.

Prints one JSON object on stdout.
"""
import argparse
import errno
import hashlib
import json
import random
import select
import socket
import subprocess
import sys
import threading
import time


def request(host, path):
    if ":" in host:
        host = f"[{host}]"
    return (f"GET {path} HTTP/1.1\r\nHost: {host}\r\n"
            "Connection: keep-alive\r\n\r\n").encode()


def read_response(sock, deadline):
    """Read one HTTP response; return 'ok', 'eof', 'reset', 'timeout' or 'bad'."""
    buf = b""
    want = None
    while True:
        if want is None and b"\r\n\r\n" in buf:
            head, _, body = buf.partition(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 200"):
                return "bad"
            length = [l for l in head.split(b"\r\n")
                      if l.lower().startswith(b"content-length:")]
            want = len(head) + 4 + int(length[0].split(b":")[1])
        if want is not None and len(buf) >= want:
            return "ok"
        left = deadline - time.monotonic()
        if left <= 0:
            return "timeout"
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            return "timeout"
        except OSError as e:
            return classify(e)
        if not chunk:
            return "eof"
        buf += chunk


def classify(err):
    """A reset seen from either end: RST from the peer, or the local socket destroyed."""
    if err.errno in (errno.ECONNRESET, errno.EPIPE, errno.ECONNABORTED):
        return "reset"
    return f"error:{err.errno}"


def exchange(sock, host, path, deadline):
    try:
        sock.sendall(request(host, path))
    except OSError as e:
        return classify(e)
    return read_response(sock, deadline)


def tally(outcomes):
    counts = {}
    for o in outcomes:
        counts[o] = counts.get(o, 0) + 1
    return counts


def parse_target(t):
    host, _, port = t.rpartition(":")
    return host.strip("[]"), int(port)


def open_keepalive(target, count, path):
    """COUNT connections to TARGET with one request done on each: (host, [sockets])."""
    host, port = parse_target(target)
    socks = []
    for _ in range(count):
        s = socket.create_connection((host, port), timeout=5)
        outcome = exchange(s, host, path, time.monotonic() + 5)
        if outcome != "ok":
            sys.exit(f"clients.py: first request to {target}: {outcome}")
        socks.append(s)
    return host, socks


def hold(args):
    conns = []
    for t in args.to:
        host, socks = open_keepalive(t, args.count, args.path)
        conns += [(t, host, s) for s in socks]
    cmd = subprocess.run(args.cmd, capture_output=True, text=True)
    deadline = time.monotonic() + args.deadline
    outcomes = {t: [] for t in args.to}
    for t, host, s in conns:
        outcomes[t].append(exchange(s, host, args.path, deadline))
    print(json.dumps({"count": args.count,
                      "outcomes": {t: tally(o) for t, o in outcomes.items()},
                      "cmd": {"rc": cmd.returncode, "stdout": cmd.stdout,
                              "stderr": cmd.stderr}}))
    return 0


def connect(args):
    host, port = parse_target(args.to[0])
    outcomes, times = [], []
    for _ in range(args.count):
        t0 = time.monotonic()
        try:
            s = socket.create_connection((host, port), timeout=5)
        except (ConnectionResetError, ConnectionRefusedError, ConnectionAbortedError):
            outcomes.append("reset")
            times.append(time.monotonic() - t0)
            continue
        outcomes.append(exchange(s, host, args.path,
                                 time.monotonic() + args.deadline))
        times.append(time.monotonic() - t0)
        s.close()
    times.sort()
    print(json.dumps({"count": args.count, "outcomes": tally(outcomes),
                      "ms_p50": round(times[len(times) // 2] * 1000, 3),
                      "ms_max": round(times[-1] * 1000, 3)}))
    return 0


def read_head(sock, deadline):
    """Headers of one response: (content-length, body bytes already read)."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        sock.settimeout(max(deadline - time.monotonic(), 0.001))
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError("eof before the response")
        buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise ValueError(head.split(b"\r\n")[0].decode(errors="replace"))
    length = [l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")]
    return int(length[0].split(b":")[1]), body


def read_body(sock, length, body, deadline, progress=None):
    """The rest of a body after read_head: (bytes received, sha256 hex).
    Stops short at EOF; progress(bytes so far) is called before each read;
    socket errors propagate."""
    digest = hashlib.sha256(body)
    got = len(body)
    while got < length:
        if progress:
            progress(got)
        sock.settimeout(max(deadline - time.monotonic(), 0.001))
        chunk = sock.recv(min(65536, length - got))
        if not chunk:
            break
        digest.update(chunk)
        got += len(chunk)
    return got, digest.hexdigest()


def wait_end(sock, deadline):
    """After a response: how the connection ends, and when (monotonic)."""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return "timeout", None
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            return "timeout", None
        except OSError as e:
            return classify(e), time.monotonic()
        if not chunk:
            return "eof", time.monotonic()
        return "extra-data", time.monotonic()


def fetch(args):
    host, port = parse_target(args.to[0])
    s = socket.create_connection((host, port), timeout=5)
    s.sendall(request(host, args.path))
    deadline = time.monotonic() + args.deadline
    result = {"cmd": None, "bytes": 0}

    def progress(got):
        result["bytes"] = got
        if args.at_bytes is not None and got >= args.at_bytes and result["cmd"] is None:
            cmd = subprocess.run(args.cmd, capture_output=True, text=True)
            result["cmd"] = {"rc": cmd.returncode, "stdout": cmd.stdout,
                             "stderr": cmd.stderr, "at_bytes": got}

    try:
        length, body = read_head(s, deadline)
        got, digest = read_body(s, length, body, deadline, progress)
        last_byte = time.monotonic()
        result.update(length=length, bytes=got, sha256=digest)
        if got < length:
            result["end"] = "eof"
        else:
            result["end"], at = wait_end(s, deadline)
            if at is not None:
                result["end_after_ms"] = round((at - last_byte) * 1000, 1)
    except OSError as e:
        result["end"] = classify(e)
    except (EOFError, ValueError) as e:
        result["end"] = str(e)
    print(json.dumps(result))
    return 0


def again(args):
    host, socks = open_keepalive(args.to[0], 1, args.path)
    s = socks[0]
    cmd = subprocess.run(args.cmd, capture_output=True, text=True)
    asked = time.monotonic()
    deadline = asked + args.deadline
    result = {"cmd": {"rc": cmd.returncode, "stdout": cmd.stdout, "stderr": cmd.stderr}}
    result["second"] = exchange(s, host, args.path, deadline)
    answered = time.monotonic()
    result["second_after_ms"] = round((answered - asked) * 1000, 1)
    if result["second"] == "ok":
        result["end"], at = wait_end(s, deadline)
        if at is not None:
            result["end_after_ms"] = round((at - answered) * 1000, 1)
    print(json.dumps(result))
    return 0


def idle(args):
    _, conns = open_keepalive(args.to[0], args.count, args.path)
    time.sleep(args.idle)
    t0 = time.monotonic()
    cmd = subprocess.run(args.cmd, capture_output=True, text=True)
    ends, times = [], []
    for s in conns:
        end, at = wait_end(s, t0 + args.deadline)
        ends.append(end)
        if at is not None:
            times.append((at - t0) * 1000)
    print(json.dumps({"count": args.count, "ends": tally(ends),
                      "ms_max": round(max(times), 1) if times else None,
                      "cmd": {"rc": cmd.returncode, "stdout": cmd.stdout,
                              "stderr": cmd.stderr}}))
    return 0


class LoadStats:
    def __init__(self):
        self.lock = threading.Lock()
        self.counts = {"ok": 0, "reopened": 0, "eof_before_response": 0,
                       "truncated": 0, "corrupt": 0, "reset": 0, "error": 0}
        self.opened = 0
        self.all_open = threading.Condition(self.lock)

    def add(self, what):
        with self.lock:
            self.counts[what] += 1

    def first_open(self):
        with self.lock:
            self.opened += 1
            self.all_open.notify_all()

    def wait_all_open(self, count, timeout):
        with self.lock:
            self.all_open.wait_for(lambda: self.opened >= count, timeout)


def closed_while_idle(sock):
    """The server closed it: readable, and reading gives EOF."""
    r, _, _ = select.select([sock], [], [], 0)
    if not r:
        return False
    try:
        return sock.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


def load_worker(args, host, port, stats, stop):
    sock = None
    rng = random.Random()
    try:
        sock = socket.create_connection((host, port), timeout=5)
    except OSError:
        stats.add("error")
    stats.first_open()
    while not stop.is_set():
        try:
            if sock is not None and closed_while_idle(sock):
                sock.close()
                sock = None
                stats.add("reopened")
            if sock is None:
                sock = socket.create_connection((host, port), timeout=5)
            sock.sendall(request(host, args.path))
            deadline = time.monotonic() + 5
            length, body = read_head(sock, deadline)
            got, digest = read_body(sock, length, body, deadline)
            if got < length:
                stats.add("truncated")
                sock.close()
                sock = None
            elif digest != args.sha256:
                stats.add("corrupt")
            else:
                stats.add("ok")
        except EOFError:
            stats.add("eof_before_response")
            sock.close()
            sock = None
        except OSError as e:
            stats.add("reset" if classify(e) == "reset" else "error")
            if sock is not None:
                sock.close()
            sock = None
        # Mostly back to back; now and then idle long enough to be drained.
        if rng.random() < args.pause_chance:
            stop.wait(args.pause)
    if sock is not None:
        sock.close()


def load(args):
    host, port = parse_target(args.to[0])
    stats, stop = LoadStats(), threading.Event()
    workers = [threading.Thread(target=load_worker, args=(args, host, port, stats, stop))
               for _ in range(args.count)]
    for w in workers:
        w.start()
    # A rule that catches no new connection (a server outside --cgroup)
    # must meet them all.
    stats.wait_all_open(args.count, 5)
    cmd = subprocess.run(args.cmd, capture_output=True, text=True)
    stop.wait(max(args.seconds, 0))
    stop.set()
    for w in workers:
        w.join()
    print(json.dumps({"count": args.count, "results": stats.counts,
                      "cmd": {"rc": cmd.returncode, "stdout": cmd.stdout[-2000:],
                              "stderr": cmd.stderr[-2000:]}}))
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mode", choices=["hold", "connect", "fetch", "again", "idle", "load"],
                   help="hold|fetch|again|idle|load ... -- CMD ARGS, or connect")
    p.add_argument("--to", action="append", required=True,
                   help="HOST:PORT, repeatable")
    p.add_argument("--count", type=int, default=10)
    p.add_argument("--path", default="/")
    p.add_argument("--deadline", type=float, default=5.0,
                   help="seconds to wait for each outcome")
    p.add_argument("--at-bytes", type=int, help="fetch: run CMD after this much body")
    p.add_argument("--idle", type=float, default=1.0, help="idle: seconds before CMD")
    p.add_argument("--seconds", type=float, default=10.0, help="load: at least this long")
    p.add_argument("--sha256", help="load: every response body's digest")
    p.add_argument("--pause", type=float, default=0.3, help="load: idle pause, seconds")
    p.add_argument("--pause-chance", type=float, default=0.05,
                   help="load: chance of a pause after each request")
    argv = sys.argv[1:]
    cmd = argv[argv.index("--") + 1:] if "--" in argv else []
    args = p.parse_args(argv[:argv.index("--")] if "--" in argv else argv)
    args.cmd = cmd
    modes = {"hold": hold, "connect": connect, "fetch": fetch, "again": again, "idle": idle,
             "load": load}
    return modes[args.mode](args)


if __name__ == "__main__":
    sys.exit(main())
