#!/usr/bin/env python3
"""Random rules against random new connections: what sockops matched (each
rule's new_matches) against what the rules say, computed here from each
connection's tuple and cgroup. All rules reset: the best is the lowest id.

    match_check.py rules SEED CGROUP_A CGROUP_B    -> the rules, JSON lines
    match_check.py expect RULES_FILE CONNS_FILE     -> {id: expected new matches}
    match_check.py buckets SHOWN LPM PORTS CGROUPS RPORTS CHUNKS CGROUP_INOS
                                                    -> the buckets that differ

buckets: each rule listed where sockops looks for it (its remote prefix, else
its one local port, else its cgroup, else its one remote port, else ::/0),
from `connctl -j rule show` against `bpftool -j map dump` of rule_lpm,
rule_ports, rule_cgroups and rule_rports: a bucket lists its first 6 rules,
rule_chunks the rest, 16 a chunk, and holds no chunk past them.

A connection is {"lport", "raddr", "rport", "cgroup"} (the server side);
conn_spray.py's remote ports are 22000-25999 for seeds 11 and 12."""
import ipaddress
import json
import random
import sys

PORTS = range(9000, 9050)
SOURCES = ["127.0.0.%d" % i for i in range(1, 21)]
RPORTS = range(22000, 26000)
CROWDED_RPORT = 22005	# a remote port many rules name: its bucket overflows


def rules(seed, cg_a, cg_b):
    rnd = random.Random(seed)
    out = []
    for _ in range(140):
        r = {"action": "reset"}
        # Narrow rport ranges twice as often: with the lport ranges, they
        # fill ::/0 past its bucket and first chunk.
        kind = rnd.choice([0, 1, 2, 3, 4, 5, 6, 7, 8, 8, 9, 10])
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
        elif kind == 6:
            r["lport"] = rnd.choice(PORTS)
            r["remote"] = rnd.choice(SOURCES)
        elif kind == 7:
            r["rport"] = rnd.choice(RPORTS)
        elif kind == 8:
            lo = rnd.choice(RPORTS)
            r["rport"] = "%d-%d" % (lo, lo + rnd.randrange(1, 60))
        elif kind == 9:	# many under one local port
            lo = rnd.choice(RPORTS)
            r["lport"] = 9001
            r["rport"] = "%d-%d" % (lo, lo + rnd.randrange(1, 400))
        else:		# many under one remote port
            r["rport"] = CROWDED_RPORT
            r["local"] = str(ipaddress.ip_network(
                "127.0.0.%d/%d" % (rnd.choice([1, 2]), rnd.choice([24, 31, 32])), strict=False))
        out.append(r)
    return out


def port_in(spec, port):
    p = str(spec)
    lo, hi = (int(x) for x in p.split("-")) if "-" in p else (int(p), int(p))
    return lo <= port <= hi


def matches(r, c):
    if "lport" in r and not port_in(r["lport"], c["lport"]):
        return False
    if "rport" in r and not port_in(r["rport"], c["rport"]):
        return False
    if "local" in r and ipaddress.ip_address("127.0.0.1") not in ipaddress.ip_network(r["local"]):
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
CHUNK_IDS = 16


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
    if "rport" in r and "-" not in str(r["rport"]):
        return ("rport", int(r["rport"]))
    return ("lpm", 0, tuple(bytes(16)))


KINDS = {1: "lpm", 2: "port", 3: "cgroup", 4: "rport"}


def chunk_bucket(k):
    """The bucket a chunk key names, as listing() names it."""
    raw = bytes(k["key"])
    kind = KINDS[k["kind"]]
    if kind == "lpm":
        return ("lpm", int.from_bytes(raw[:4], "little"), tuple(raw[4:20]))
    if kind == "cgroup":
        return ("cgroup", int.from_bytes(raw[:8], "little"))
    return (kind, int.from_bytes(raw[:4], "little"))


def buckets(shown, lpm, ports, cgroups, rports, chunks, inos):
    want, inos = {}, json.load(open(inos))
    for r in json.load(open(shown)):
        want.setdefault(listing(r, inos), []).append(r["id"])
    got = {}
    for e in json.load(open(lpm)):
        k = e["formatted"]["key"]
        got[("lpm", k["prefixlen"], tuple(k["addr"]))] = e["formatted"]["value"]
    for kind, dump in (("port", ports), ("cgroup", cgroups), ("rport", rports)):
        for e in json.load(open(dump)):
            got[(kind, e["formatted"]["key"])] = e["formatted"]["value"]
    chunked = {}
    for e in json.load(open(chunks)):
        k = e["formatted"]["key"]
        chunked.setdefault(chunk_bucket(k), {})[k["chunk"]] = e["formatted"]["value"]["ids"]
    bad = {}
    for k in set(want) | set(got) | set(chunked):
        ids, b, c = sorted(want.get(k, [])), got.get(k), chunked.get(k, {})
        n = b["count"] if b else 0
        listed = list(b["ids"][:min(n, BUCKET_IDS)]) if b else []
        need = (n - BUCKET_IDS + CHUNK_IDS - 1) // CHUNK_IDS if n > BUCKET_IDS else 0
        for i in range(need):
            listed += c.get(i, [])[:min(CHUNK_IDS, n - BUCKET_IDS - i * CHUNK_IDS)]
        if b is None and ids or sorted(listed) != ids or sorted(c) != list(range(need)):
            bad[repr(k)] = {"rules": ids, "bucket": b, "chunks": c}
    return bad


if sys.argv[1] == "rules":
    for r in rules(int(sys.argv[2]), sys.argv[3], sys.argv[4]):
        print(json.dumps(r))
elif sys.argv[1] == "buckets":
    print(json.dumps(buckets(*sys.argv[2:9])))
else:
    print(json.dumps(expect(sys.argv[2], sys.argv[3])))
