#!/usr/bin/env python3
"""One round of bench/drain_clients.sh: real clients, each on a port of its
own, for a scenario. The python clients start first, the others once
python's are connected; CMD (the way connections are ended) runs --at
seconds after the others started, once every client holds its
connections (and 0.3 s after that at least). Prints one JSON object: per
client, its port and what it reported (answers complete, errors by kind,
truncated bodies), when CMD ran, how long the clients took to connect,
and any that never did.

  drain_clients.py --scenario busy|think20|think200|download --top DIR
                   [--seconds S] [--at S] -- CMD...
"""
import argparse
import collections
import json
import os
import re
import subprocess
import sys
import time

HOST = "127.0.0.1"
# client -> port, one server port each so a capture tells them apart.
PORTS = {"requests": 8081, "urllib3": 8082, "go": 8083, "curl": 8084, "ab": 8085,
         "wrk": 8086, "h2load": 8087, "redis-cli": 6379}
SCENARIOS = {
    "busy": ["requests", "urllib3", "go", "curl", "ab", "wrk", "h2load", "redis-cli"],
    "think20": ["requests", "urllib3", "go", "wrk", "redis-cli"],
    "think200": ["requests", "urllib3", "go", "wrk", "redis-cli"],
    "download": ["requests", "urllib3", "go", "curl"],
}
CONNS = 4
CONNECT_S = 10			# at most, for every client to hold its connections
# Started first, and connected, before the others start: python and its
# imports take seconds on a host these clients keep busy, and a client
# started beside them could run out its time before the action came.
SLOW_STARTERS = ("requests", "urllib3")
ACTION_AFTER_CONNECTED = 0.3	# s: the connections carry requests before the action
SMALL, PACED = 16384, 1048576


def think_s(scenario):
    return {"think20": 0.02, "think200": 0.2}.get(scenario, 0)


def url(client, scenario):
    path = "/paced" if scenario == "download" else "/small"
    return f"http://{HOST}:{PORTS[client]}{path}"


def command(client, scenario, seconds, top, tmp):
    """The client's command line and how to read what it printed."""
    u, think = url(client, scenario), think_s(scenario)
    length = PACED if scenario == "download" else SMALL
    if client in ("requests", "urllib3"):
        return [sys.executable, f"{top}/tests/e2e/real_clients.py", client, "--url", u,
                "--workers", str(CONNS), "--seconds", str(seconds), "--think", str(think),
                "--length", str(length)], json.loads
    if client == "go":
        return [f"{top}/build/clients/goclient", "-url", u, "-workers", str(CONNS),
                "-seconds", str(seconds), "-think", f"{think}s",
                "-length", str(length)], json.loads
    if client == "curl":
        # One curl a connection, URLs one after another; stopped at the end.
        # Each writes a file of its own: four on one pipe split lines.
        glob = u + ("?[1-1000000]" if scenario != "download" else "")
        limit = seconds + (6 if scenario == "download" else 0)
        script = (f"for i in $(seq {CONNS}); do timeout {limit} curl -s -o /dev/null "
                  f"-w '%{{http_code}} %{{size_download}} %{{errormsg}}\\n' '{glob}' "
                  f">{tmp}/curl.$i & done; wait; "
                  f"for f in {tmp}/curl.*; do cat $f; echo; done; rm -f {tmp}/curl.*")
        return ["sh", "-c", script], lambda out: read_curl(out, length)
    if client == "ab":
        return ["ab", "-k", "-r", "-c", str(CONNS), "-t", str(seconds), "-n", "10000000",
                "-s", "5", u], read_ab
    if client == "wrk":
        lua = f"{tmp}/think.lua"
        with open(lua, "w") as f:
            f.write(f"function delay() return {int(think * 1000)} end\n")
        return ["wrk", "-t", "1", "-c", str(CONNS), "-d", f"{max(1, round(seconds))}s", "-s", lua, u], read_wrk
    if client == "h2load":
        return ["h2load", "-c", str(CONNS), "-m", "1", "-D", str(max(1, round(seconds))), u], read_h2load
    if client == "redis-cli":
        # A loop a connection, a GET every think time. redis-cli keeps its
        # output until it exits, so it is left to end by itself: after its
        # count, or at a close, which ends it.
        n = int(seconds / think) if think else 30000
        script = (f"for i in $(seq {CONNS}); do redis-cli -p {PORTS[client]} -r {n} -i {think} "
                  f"GET k >{tmp}/redis-cli.$i 2>&1 & done; wait; cat {tmp}/redis-cli.*; "
                  f"rm -f {tmp}/redis-cli.*")
        return ["sh", "-c", script], read_redis
    raise ValueError(client)


def established(port):
    """The server's established connections on PORT, in this namespace."""
    out = subprocess.run(["ss", "-Htn", "state", "established", f"( sport = :{port} )"],
                         capture_output=True, text=True).stdout
    return len(out.splitlines())


def wait_connected(clients, seconds):
    """Until every client holds its connections: those still short after SECONDS."""
    end = time.monotonic() + seconds
    while True:
        short = [c for c in clients if established(PORTS[c]) < CONNS]
        if not short or time.monotonic() >= end:
            return short
        time.sleep(0.02)


def tally(ok=0, truncated=0, errors=None):
    return {"ok": ok, "truncated": truncated, "errors": dict(errors or {})}


def read_curl(out, length):
    ok, trunc, errors = 0, 0, collections.Counter()
    for line in out.splitlines():
        parts = line.split(" ", 2)
        # A line cut short: its curl was stopped as the round ended.
        if len(parts) < 3 or not parts[0].isdigit() or not parts[1].isdigit():
            continue
        if parts[0] == "200" and int(parts[1]) == length:
            ok += 1
        elif parts[0] == "200":
            trunc += 1
        else:
            errors[(parts[2] if len(parts) > 2 else "") or f"http {parts[0]}"] += 1
    return tally(ok, trunc, errors)


def grab(pattern, text, default=0):
    m = re.search(pattern, text)
    return int(m.group(1)) if m else default


def read_ab(out):
    errors = collections.Counter()
    for kind in ("Connect", "Receive", "Length", "Exceptions"):
        n = grab(kind + r": (\d+)", out)
        if n:
            errors[kind.lower()] = n
    non2xx = grab(r"Non-2xx responses:\s+(\d+)", out)
    if non2xx:
        errors["non-2xx"] = non2xx
    done = grab(r"Complete requests:\s+(\d+)", out)
    return tally(done - grab(r"Failed requests:\s+(\d+)", out), 0, errors)


def read_wrk(out):
    errors = collections.Counter()
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        for kind, n in zip(("connect", "read", "write", "timeout"), m.groups()):
            if int(n):
                errors[kind] = int(n)
    non = grab(r"Non-2xx or 3xx responses: (\d+)", out)
    if non:
        errors["non-2xx"] = non
    done = grab(r"(\d+) requests in", out)
    return tally(done - sum(errors.values()), 0, errors)


def read_h2load(out):
    m = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, "
                  r"(\d+) failed, (\d+) errored, (\d+) timeout", out)
    if not m:
        return tally(errors={"no report": 1})
    total, started, done, ok, failed, errored, timeout = map(int, m.groups())
    errors = {k: v for k, v in (("failed", failed), ("errored", errored),
                                ("timeout", timeout)) if v}
    return tally(ok, 0, errors)


def read_redis(out):
    ok, errors = 0, collections.Counter()
    for line in out.splitlines():
        if line.strip() == "hello":
            ok += 1
        elif line.strip():
            errors[line.strip()[:40]] += 1
    return tally(ok, 0, errors)


def start_clients(procs, clients, args):
    for client in clients:
        line, reader = command(client, args.scenario, args.seconds, args.top, args.tmp)
        procs[client] = (subprocess.Popen(line, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                          text=True), reader)


def main():
    argv = sys.argv[1:]
    cut = argv.index("--") if "--" in argv else len(argv)
    p = argparse.ArgumentParser()
    p.add_argument("--scenario", choices=SCENARIOS, required=True)
    p.add_argument("--top", required=True)
    p.add_argument("--tmp", required=True)
    p.add_argument("--seconds", type=float, default=3)
    p.add_argument("--at", type=float, default=1)
    args = p.parse_args(argv[:cut])
    cmd = argv[cut + 1:]

    procs = {}
    clients = SCENARIOS[args.scenario]
    slow = [c for c in clients if c in SLOW_STARTERS]
    first = time.monotonic()
    start_clients(procs, slow, args)
    short = wait_connected(slow, CONNECT_S)
    start_clients(procs, [c for c in clients if c not in SLOW_STARTERS], args)
    # The action comes --at seconds after the others started, once all are
    # connected, and ACTION_AFTER_CONNECTED after that at least: a client
    # with nothing open yet would have nothing for it to end.
    launched = time.monotonic()
    short = sorted(set(short) | set(wait_connected(clients, CONNECT_S)))
    connected_s = time.monotonic() - first
    time.sleep(max(args.at - (time.monotonic() - launched), ACTION_AFTER_CONNECTED))
    at = time.time()
    ran = subprocess.run(cmd, capture_output=True, text=True) if cmd else None
    out = {"at": at, "connected_s": round(connected_s, 3), "not_connected": short, "clients": {}}
    if ran is not None:
        out["cmd"] = {"rc": ran.returncode, "stdout": ran.stdout, "stderr": ran.stderr}
    for client, (proc, reader) in procs.items():
        text, _ = proc.communicate()
        try:
            res = reader(text)
        except (ValueError, KeyError) as e:
            res = tally(errors={f"unreadable: {e}"[:40]: 1})
        res["port"] = PORTS[client]
        if not res["ok"]:
            res["output"] = text[-400:]
        out["clients"][client] = res
    print(json.dumps(out))


if __name__ == "__main__":
    main()
