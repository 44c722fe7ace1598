#!/usr/bin/env bash
# New-connection reset latency while a reset rule stands: the time from the
# client calling connect() to the connection failing with ECONNRESET (the
# handshake included). connctl
# (sockops sees the connection established, the agent destroys it) against a
# server that resets each connection itself the moment it accepts it, in one
# run, connections alternating. Usage: bench/new_reset.sh [COUNT]
. "$(dirname "$0")/../tests/e2e/lib.sh"

COUNT=${1:-2000}
RULE_PORT=9300
SELF_PORT=9301

setup_env
start_agent
connctl rule add action reset lport "$RULE_PORT" >/dev/null

in_ns python3 "$TOP/bench/lib/reset_latency.py" "$RULE_PORT" "$SELF_PORT" "$COUNT" \
	>"$TMP/lat.json" || die "latency run failed"
resets=$(connctl -j rule show | python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["stats"]["closed"]["rst"])')
[ "$resets" -eq "$COUNT" ] || die "connctl counted $resets resets, not $COUNT"

python3 - "$TMP/lat.json" "$RULE_PORT" "$SELF_PORT" "$COUNT" <<'PY'
import json, sys
lat = json.load(open(sys.argv[1]))
rule, own, count = sys.argv[2], sys.argv[3], int(sys.argv[4])
def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(p / 100 * len(v)))]
print(f"\nnew-connection reset: connect() called to ECONNRESET, {count} connections each, ms")
print("%-42s%9s%9s%9s" % ("", "p50", "p99", "max"))
rows = [("connctl reset rule (sockops + agent)", lat[rule]),
        ("server resets it itself on accept()", lat[own])]
for name, v in rows:
    print("%-42s%9.3f%9.3f%9.3f" % (name, pct(v, 50) / 1000, pct(v, 99) / 1000, max(v) / 1000))
c, s = rows[0][1], rows[1][1]
print("%-42s%9.2f%9.2f%9.2f" % ("ratio connctl / server", pct(c, 50) / pct(s, 50),
                                pct(c, 99) / pct(s, 99), max(c) / max(s)))
PY
