#!/usr/bin/env python3
"""HTTP/1.1 keep-alive load from real client libraries, for drain tests and
benchmarks: python requests (a Session a worker) or urllib3 (a one-connection
pool a worker, its default retries). Each worker asks for URL again and again,
thinking THINK seconds (or a random time up to THINK_MAX) between answers,
until SECONDS have passed; CMD runs meanwhile. Prints one JSON line: answers
complete, errors by exception kind, truncated bodies.

  real_clients.py requests|urllib3 --url URL --workers N --seconds S
                  [--think T | --think-max T] [--length BYTES] [-- CMD...]
"""
import argparse
import collections
import json
import random
import subprocess
import sys
import threading
import time


def error_kind(e):
    """The innermost cause's class: what the library saw on the wire. A
    context the raiser suppressed (raise ... from None) is not followed, as
    Python's own traceback does not: urllib3 1.26 raises the wire's error so,
    over a TypeError it caught on its own way there."""
    seen = set()
    while True:
        nxt = e.__cause__ or (None if e.__suppress_context__ else e.__context__)
        if getattr(e, "reason", None) is not None and isinstance(e.reason, BaseException):
            nxt = e.reason
        if nxt is None or id(nxt) in seen:
            return type(e).__name__
        seen.add(id(e))
        e = nxt


class Tally:
    def __init__(self):
        self.lock = threading.Lock()
        self.ok = 0
        self.truncated = 0
        self.errors = collections.Counter()

    def add(self, what, kind=None):
        with self.lock:
            if what == "ok":
                self.ok += 1
            elif what == "truncated":
                self.truncated += 1
            else:
                self.errors[kind] += 1


def requests_worker(args, tally, stop):
    import requests
    session = requests.Session()
    while not stop.is_set():
        try:
            r = session.get(args.url, timeout=5)
            body = r.content
            if args.length and len(body) != args.length:
                tally.add("truncated")
            else:
                tally.add("ok")
        except Exception as e:  # every kind is counted, none is fatal
            tally.add("error", error_kind(e))
        think(args, stop)


def urllib3_worker(args, tally, stop):
    import urllib3
    pool = urllib3.PoolManager(maxsize=1)
    while not stop.is_set():
        try:
            r = pool.request("GET", args.url, timeout=5.0)
            if args.length and len(r.data) != args.length:
                tally.add("truncated")
            else:
                tally.add("ok")
        except Exception as e:
            tally.add("error", error_kind(e))
        think(args, stop)


def think(args, stop):
    t = args.think if args.think_max is None else random.uniform(0, args.think_max)
    if t > 0:
        stop.wait(t)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("client", choices=["requests", "urllib3"])
    p.add_argument("--url", required=True)
    p.add_argument("--workers", type=int, default=4)
    p.add_argument("--seconds", type=float, default=3)
    p.add_argument("--think", type=float, default=0)
    p.add_argument("--think-max", type=float)
    p.add_argument("--length", type=int, default=0)
    argv = sys.argv[1:]
    cut = argv.index("--") if "--" in argv else len(argv)
    args = p.parse_args(argv[:cut])
    args.cmd = argv[cut + 1:]

    worker = requests_worker if args.client == "requests" else urllib3_worker
    # Imported before the clock starts: on a loaded host the import alone
    # can take seconds, and --seconds is the time the workers run.
    __import__(args.client)
    tally, stop = Tally(), threading.Event()
    threads = [threading.Thread(target=worker, args=(args, tally, stop))
               for _ in range(args.workers)]
    for t in threads:
        t.start()
    started = time.monotonic()
    cmd = subprocess.run(args.cmd, capture_output=True, text=True) if args.cmd else None
    left = args.seconds - (time.monotonic() - started)
    if left > 0:
        time.sleep(left)
    stop.set()
    for t in threads:
        t.join()
    out = {"client": args.client, "ok": tally.ok, "truncated": tally.truncated,
           "errors": dict(tally.errors)}
    if cmd is not None:
        out["cmd"] = {"rc": cmd.returncode, "stdout": cmd.stdout, "stderr": cmd.stderr}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
