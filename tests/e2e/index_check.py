#!/usr/bin/env python3
"""Random rules against random connections: what connctl matched beside
what a full look at the same sockets says, and how many namespaces each rule
walked (from connctl_walks_total): one for each namespace where it matches
more connections than the agent takes from its index (--direct-max), none
elsewhere, and none when it matches nothing.

    index_check.py --connctl BIN --socket SOCK --metrics URL --agent-ns PATH
                   [--cgroup DIR] [--rules N] [--conns N] [--seed S]
                   [--confine PREFIX] NS=ADDR/LEN ...

Each NS (a namespace path) gets connections between addresses of ADDR/LEN
(say 127.0.0.0/16, or 10.241.3.0/24 on that namespace's lo), to listeners on
ports 9100-9107, IPv6 ::1 too where ADDR is in 127/8. With --cgroup, every
socket is made in one of two child cgroups DIR/c1, DIR/c2 (made here), and
rules may name them.

Prints 'ready' when the first half of the connections is up, then waits for
a line on stdin (the agent has started, and listed what exists), adds a
rule that matches nothing, opens the second half, closes a quarter of all, then adds the rules one by one (action observe, once: it
closes nothing) and prints one JSON line: {"rules": n, "mismatches": [...],
"walk_mismatches": [...], "connections": n}."""
import argparse
import ipaddress
import json
import os
import random
import signal
import socket
import subprocess
import sys
import urllib.request

from netns_pairs import enter

PORTS = list(range(9100, 9108))


def join(cgroup):
    with open(os.path.join(cgroup, "cgroup.procs"), "w") as f:
        f.write(str(os.getpid()))


class Space:
    """One namespace's listeners and connections, made from inside it."""

    def __init__(self, path, net, cgroups, rng):
        self.path, self.net, self.rng = path, ipaddress.ip_network(net), rng
        self.ino = os.stat(path).st_ino
        self.v6 = self.net.subnet_of(ipaddress.ip_network("127.0.0.0/8"))
        self.cgroups = cgroups
        self.listeners = {}
        self.conns = []		# (socket, cgroup): both ends of each pair

    def addr(self):
        hosts = self.net.num_addresses
        return str(self.net.network_address + self.rng.randrange(1, min(hosts - 1, 250)))

    def listener(self, family, port, cgroup):
        key = (family, port, cgroup)
        if key not in self.listeners:
            s = socket.socket(family)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("::1" if family == socket.AF_INET6 else "0.0.0.0",
                    port + (100 if cgroup == self.cgroups[-1] and len(self.cgroups) > 1 else 0)))
            s.listen(512)
            self.listeners[key] = s
        return self.listeners[key]

    def open(self, count):
        enter(self.path)
        for _ in range(count):
            cgroup = self.rng.choice(self.cgroups)
            if cgroup:
                join(cgroup)
            six = self.v6 and self.rng.random() < 0.25
            family = socket.AF_INET6 if six else socket.AF_INET
            srv = self.listener(family, self.rng.choice(PORTS), cgroup)
            c = socket.socket(family)
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
            if six:
                c.connect(("::1", srv.getsockname()[1]))
            else:
                c.bind((self.addr(), 0))
                c.connect((self.addr(), srv.getsockname()[1]))
            a = srv.accept()[0]
            a.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
            self.conns += [(c, cgroup), (a, cgroup)]

    def close_some(self, fraction):
        """Pairs closed by an RST (linger 0): gone at once, no TIME_WAIT."""
        pairs = len(self.conns) // 2
        for i in sorted(self.rng.sample(range(pairs), int(pairs * fraction)), reverse=True):
            for s, _ in self.conns[2 * i:2 * i + 2]:
                s.close()
            del self.conns[2 * i:2 * i + 2]

    def tuples(self):
        for s, cgroup in self.conns:
            local, remote = s.getsockname(), s.getpeername()
            yield {"laddr": ipaddress.ip_address(local[0]), "lport": local[1],
                   "raddr": ipaddress.ip_address(remote[0]), "rport": remote[1],
                   "cgroup": cgroup, "ino": self.ino}


def prefix_of(rng, space):
    """A prefix around one of the space's addresses: its /32, a /24, the space, wider."""
    if space.v6 and rng.random() < 0.2:
        return ipaddress.ip_network("::1/128")
    base = ipaddress.ip_address(space.addr())
    length = rng.choice([32, 30, 24, space.net.prefixlen, max(space.net.prefixlen - 8, 16)])
    return ipaddress.ip_network(f"{base}/{length}", strict=False)


def random_rule(rng, spaces, cgroups, confine):
    rule = {}
    while not rule:
        if rng.random() < 0.4:
            lo = rng.choice(PORTS + [9200, 9205, 8000])
            rule["lport"] = (lo, lo + rng.choice([0, 0, 3, 200]))
        if rng.random() < 0.3:
            lo = rng.randrange(30000, 61000)
            rule["rport"] = (lo, min(65535, lo + rng.choice([0, 50, 2000, 20000])))
        if rng.random() < 0.4:
            rule["remote"] = prefix_of(rng, rng.choice(spaces))
        if rng.random() < 0.3:
            rule["local"] = prefix_of(rng, rng.choice(spaces))
        if cgroups and rng.random() < 0.3:
            rule["cgroup"] = rng.choice(cgroups)
    # One family: a rule mixing them is refused.
    if "remote" in rule and "local" in rule and rule["remote"].version != rule["local"].version:
        del rule["local"]
    # With --netns all, nothing may reach beyond the test's addresses.
    if confine and "remote" not in rule and "local" not in rule:
        rule["remote"] = confine
    return rule


def matches(rule, t):
    def in_range(r, p):
        return r[0] <= p <= r[1]

    def in_prefix(net, a):
        return a.version == net.version and a in net

    return (("lport" not in rule or in_range(rule["lport"], t["lport"])) and
            ("rport" not in rule or in_range(rule["rport"], t["rport"])) and
            ("remote" not in rule or in_prefix(rule["remote"], t["raddr"])) and
            ("local" not in rule or in_prefix(rule["local"], t["laddr"])) and
            ("cgroup" not in rule or t["cgroup"] == rule["cgroup"]))


def words(rule):
    out = []
    for k in ("lport", "rport"):
        if k in rule:
            lo, hi = rule[k]
            out += [k, str(lo) if lo == hi else f"{lo}-{hi}"]
    for k in ("remote", "local"):
        if k in rule:
            out += [k, str(rule[k])]
    if "cgroup" in rule:
        out += ["cgroup", rule["cgroup"]]
    return out


def apply_walks(args):
    enter(args.agent_ns)
    with urllib.request.urlopen(args.metrics, timeout=10) as r:
        for line in r.read().decode().splitlines():
            if line.startswith('connctl_walks_total{for="apply"}'):
                return int(line.split()[-1])
    raise SystemExit("no connctl_walks_total in the metrics")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--connctl", required=True)
    p.add_argument("--socket", required=True)
    p.add_argument("--metrics", required=True)
    p.add_argument("--agent-ns", required=True)
    p.add_argument("--cgroup")
    p.add_argument("--rules", type=int, default=60)
    p.add_argument("--conns", type=int, default=300, help="pairs a namespace")
    p.add_argument("--after", type=int, help="pairs a namespace opened once the agent "
                   "runs (default: half of --conns)")
    p.add_argument("--stop-pid-file", help="stop the agent whose pid this file holds "
                   "(written before the line on stdin) while the pairs after are opened, "
                   "so that its connection log overflows")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--direct-max", type=int, default=256,
                   help="matches in a namespace the agent takes from its index (CONN_DIRECT_MAX)")
    p.add_argument("--confine", type=ipaddress.ip_network,
                   help="a rule with no address gets this remote prefix")
    p.add_argument("spaces", nargs="+")
    args = p.parse_args()
    rng = random.Random(args.seed)
    cgroups = [None]
    if args.cgroup:
        cgroups = [os.path.join(args.cgroup, c) for c in ("c1", "c2")]
        for c in cgroups:
            os.makedirs(c, exist_ok=True)
    spaces = [Space(s.split("=")[0], s.split("=")[1], cgroups, rng) for s in args.spaces]
    after = args.conns - args.conns // 2 if args.after is None else args.after
    for s in spaces:
        s.open(args.conns - after)
    print("ready", flush=True)
    sys.stdin.readline()
    # The agent listed the namespaces when it started; what follows, it learns from its log.
    first = [args.connctl, "--socket", args.socket, "-j", "rule", "add", "action", "observe",
             "remote", "192.0.2.1", "once"]
    subprocess.run(first, check=True, capture_output=True)
    stop = int(open(args.stop_pid_file).read()) if args.stop_pid_file else None
    if stop:
        os.kill(stop, signal.SIGSTOP)
    for s in spaces:
        s.open(after)
        s.close_some(0.25)
    if stop:
        os.kill(stop, signal.SIGCONT)
    if args.cgroup:
        join(args.cgroup)
    tuples = [t for s in spaces for t in s.tuples()]
    mismatches, walk_mismatches = [], []
    for _ in range(args.rules):
        rule = random_rule(rng, spaces, [c for c in cgroups if c], args.confine)
        want = [t for t in tuples if matches(rule, t)]
        before = apply_walks(args)
        cmd = [args.connctl, "--socket", args.socket, "-j", "rule", "add", "action",
               "observe", *words(rule), "once"]
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode:
            raise SystemExit(f"{' '.join(cmd)}: {out.stdout.strip()} {out.stderr.strip()}")
        got = json.loads(out.stdout)["matched"]
        walked = apply_walks(args) - before
        per_ns = {}
        for t in want:
            per_ns[t["ino"]] = per_ns.get(t["ino"], 0) + 1
        where = sum(1 for n in per_ns.values() if n > args.direct_max)
        if got != len(want):
            mismatches.append({"rule": " ".join(words(rule)), "want": len(want), "got": got})
        if walked != where:
            walk_mismatches.append({"rule": " ".join(words(rule)), "namespaces": where,
                                    "walked": walked})
    print(json.dumps({"rules": args.rules, "connections": len(tuples),
                      "mismatches": mismatches, "walk_mismatches": walk_mismatches}),
          flush=True)


if __name__ == "__main__":
    main()
