#!/usr/bin/env python3
"""HTTP keep-alive clients for the end-to-end tests.

hold:    open COUNT keep-alive connections to each --to target, complete one
         request on each, run CMD, then send one more request on each and
         report, per target, what came back: ok (a full 200 response), reset
         (ECONNRESET/EPIPE), eof, timeout.
connect: open COUNT new connections to the first target and report the same
         for one request each, with the time from connect() to the outcome.

A target is 127.0.0.1:8080 or [::1]:8080.

Prints one JSON object on stdout.
"""
import argparse
import errno
import json
import socket
import subprocess
import sys
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


def hold(args):
    conns = []
    for t in args.to:
        host, port = parse_target(t)
        for _ in range(args.count):
            s = socket.create_connection((host, port), timeout=5)
            outcome = exchange(s, host, args.path, time.monotonic() + 5)
            if outcome != "ok":
                print(f"clients.py: first request to {t}: {outcome}", file=sys.stderr)
                return 1
            conns.append((t, host, s))
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


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mode", choices=["hold", "connect"],
                   help="hold ... -- CMD ARGS, or connect")
    p.add_argument("--to", action="append", required=True,
                   help="HOST:PORT, repeatable")
    p.add_argument("--count", type=int, default=10)
    p.add_argument("--path", default="/")
    p.add_argument("--deadline", type=float, default=5.0,
                   help="seconds to wait for each outcome")
    argv = sys.argv[1:]
    cmd = argv[argv.index("--") + 1:] if "--" in argv else []
    args = p.parse_args(argv[:argv.index("--")] if "--" in argv else argv)
    args.cmd = cmd
    return hold(args) if args.mode == "hold" else connect(args)


if __name__ == "__main__":
    sys.exit(main())
