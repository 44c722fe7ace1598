#!/usr/bin/env python3
"""Read `tcpdump -tt -nn -r` text on stdin, for the server port argv[1] and
the times the drain rules were added (a file, argv[2], one a line). For each
FIN from the server that closed first:
  - a response was in flight when its rule came (the client's final ACK came
    after the rule): the delay from that final ACK to the FIN;
  - the connection was idle when the rule came: the delay from the rule;
  - the client's last segment carried data (a request): 'after_request', a
    close that would cut that request.
Prints JSON."""
import bisect
import json
import re
import sys

port = int(sys.argv[1])
rules = sorted(float(l) for l in open(sys.argv[2]) if l.strip())
pkt = re.compile(r"([\d.]+) IP 127\.0\.0\.1\.(\d+) > 127\.0\.0\.1\.(\d+): Flags \[([^\]]*)\]"
                 r".*length (\d+)")
last = {}		# client port -> (time, carried data), None once it closed
in_flight, idle, after_request = [], [], 0
for line in sys.stdin:
    m = pkt.match(line)
    if not m:
        continue
    t, src, dst, flags, length = float(m[1]), int(m[2]), int(m[3]), m[4], int(m[5])
    if dst == port and ("F" in flags or "R" in flags):
        last[src] = None	# the client closed first: not ours to time
    elif dst == port:
        last[src] = (t, length > 0)
    elif src == port and "F" in flags and last.get(dst):
        t_ack, data = last.pop(dst)
        i = bisect.bisect_right(rules, t) - 1
        if i < 0:
            continue	# a close before any rule: not a drain
        if data:
            after_request += 1
        elif t_ack >= rules[i]:
            in_flight.append((t - t_ack) * 1000)
        else:
            idle.append((t - rules[i]) * 1000)
print(json.dumps({"in_flight_ms": in_flight, "idle_ms": idle, "after_request": after_request}))
