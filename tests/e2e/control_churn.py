#!/usr/bin/env python3
"""CLIENTS concurrent control clients, each on its own connection: adds
RULES reset rules on its own ports (base + client * RULES + i), then
deletes every other one. Prints the responses counted, the errors, and the
ports that should still stand."""
import json
import socket
import sys
import threading


def client(path, idx, rules, base, out):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    f = s.makefile("rw")
    ids, answered, errors = [], 0, []
    for i in range(rules):
        port = base + idx * rules + i
        f.write(json.dumps({"op": "rule.add", "rule": {"action": "reset", "lport": port}}) + "\n")
        f.flush()
        r = json.loads(f.readline())
        answered += 1
        if not r.get("ok"):
            errors.append(r)
            continue
        ids.append((r["id"], port))
    kept = []
    for n, (rid, port) in enumerate(ids):
        if n % 2:
            kept.append(port)
            continue
        f.write(json.dumps({"op": "rule.del", "id": rid}) + "\n")
        f.flush()
        r = json.loads(f.readline())
        answered += 1
        if not r.get("ok"):
            errors.append(r)
    out[idx] = (answered, errors, kept)


def main():
    path, clients, rules, base = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    out = [None] * clients
    threads = [threading.Thread(target=client, args=(path, i, rules, base, out))
               for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(json.dumps({"answered": sum(o[0] for o in out if o),
                      "errors": [e for o in out if o for e in o[1]][:5],
                      "kept": sorted(p for o in out if o for p in o[2])}))


if __name__ == "__main__":
    main()
