#!/usr/bin/env python3
"""Random rules against random new connections: what sockops matched (each
rule's new_matches) against what the rules say, computed here from each
connection's tuple and cgroup. All rules reset: the best is the lowest id.

    match_check.py rules SEED CGROUP_A CGROUP_B    -> the rules, JSON lines
    match_check.py expect RULES_FILE CONNS_FILE     -> {id: expected new matches}
    match_check.py buckets SHOWN LPM PORTS CGROUPS CGROUP_INOS
                                                    -> the buckets that differ

buckets: each rule listed where sockops looks for it (its remote prefix, else
its one local port, else its cgroup, else ::/0), from `connctl -j rule show`
against `bpftool -j map dump` of rule_lpm, rule_ports and rule_cgroups; a
bucket of up to 6 rules lists each, a larger one only counts them.

A connection is {"lport", "raddr", "rport", "cgroup"} (the server side)."""
import ipaddress
import json
import random
import sys

PORTS = range(9000, 9050)
SOURCES = ["127.0.0.%d" % i for i in range(1, 21)]


def rules(seed, cg_a, cg_b):
    rnd = random.Random(seed)
    out = []
    for _ in range(120):
        r = {"action": "reset"}
        kind = rnd.randrange(7)
        if kind == 0:
            r["lport"] = rnd.choice(PORTS)
        elif kind == 1:
            lo = rnd.choice(PORTS)
            r["lport"] = "%d-%d" % (lo, lo + rnd.randrange(1, 8))
        elif kind == 2:
            r["remote"] = rnd.choice(SOURCES)
        elif kind == 3:
            net = ipaddress.ip_network("127.0.0.%d/30" % (rnd.randrange(0, 24) * 4))
            r["remote"] = str(net)
        elif kind == 4:
            r["cgroup"] = rnd.choice([cg_a, cg_b])
            r["remote"] = rnd.choice(SOURCES)
        elif kind == 5:
            r["lport"] = rnd.choice(PORTS)
            r["cgroup"] = rnd.choice([cg_a, cg_b])
        else:
            r["lport"] = rnd.choice(PORTS)
            r["remote"] = rnd.choice(SOURCES)
        out.append(r)
    return out


def matches(r, c):
    if "lport" in r:
        p = str(r["lport"])
        lo, hi = (int(x) for x in p.split("-")) if "-" in p else (int(p), int(p))
        if not lo <= c["lport"] <= hi:
            return False
    if "remote" in r and ipaddress.ip_address(c["raddr"]) not in ipaddress.ip_network(r["remote"]):
        return False
    if "cgroup" in r and r["cgroup"] != c["cgroup"]:
        return False
    return True


def expect(rules_file, conns_file):
    standing = [json.loads(l) for l in open(rules_file)]	# {"id":..., "rule":{...}}
    counts = {s["id"]: 0 for s in standing}
    for line in open(conns_file):
        c = json.loads(line)
        best = [s["id"] for s in standing if matches(s["rule"], c)]
        if best:
            counts[min(best)] += 1
    return counts


BUCKET_IDS = 6


def listing(r, inos):
    if "remote" in r:
        net = ipaddress.ip_network(r["remote"])
        if net.version == 4:
            addr = b"\0" * 10 + b"\xff\xff" + net.network_address.packed
            return ("lpm", net.prefixlen + 96, tuple(addr))
        return ("lpm", net.prefixlen, tuple(net.network_address.packed))
    if "lport" in r and "-" not in str(r["lport"]):
        return ("port", int(r["lport"]))
    if "cgroup" in r:
        return ("cgroup", inos[r["cgroup"]])
    return ("lpm", 0, tuple(bytes(16)))


def buckets(shown, lpm, ports, cgroups, inos):
    want, inos = {}, json.load(open(inos))
    for r in json.load(open(shown)):
        want.setdefault(listing(r, inos), []).append(r["id"])
    got = {}
    for e in json.load(open(lpm)):
        k = e["formatted"]["key"]
        got[("lpm", k["prefixlen"], tuple(k["addr"]))] = e["formatted"]["value"]
    for e in json.load(open(ports)):
        got[("port", e["formatted"]["key"])] = e["formatted"]["value"]
    for e in json.load(open(cgroups)):
        got[("cgroup", e["formatted"]["key"])] = e["formatted"]["value"]
    bad = {}
    for k in set(want) | set(got):
        ids, b = sorted(want.get(k, [])), got.get(k)
        listed = sorted(b["ids"][:b["count"]]) if b and b["count"] <= BUCKET_IDS else None
        ok = b is not None and b["count"] == len(ids) and (listed is None or listed == ids)
        if not ok:
            bad[repr(k)] = {"rules": ids, "bucket": b}
    return bad


if sys.argv[1] == "rules":
    for r in rules(int(sys.argv[2]), sys.argv[3], sys.argv[4]):
        print(json.dumps(r))
elif sys.argv[1] == "buckets":
    print(json.dumps(buckets(*sys.argv[2:7])))
else:
    print(json.dumps(expect(sys.argv[2], sys.argv[3])))
