#!/usr/bin/env python3
"""How each connection to a server port ended, from a capture: the server's
FIN or an RST first, when, and what the client had in flight.

  pcap_ends.py PCAP PORT [--since EPOCH] [--until EPOCH] [--existing]

Connections whose server FIN or RST came in [since, until] are reported (all
by default); with --existing, only those open before --since. Prints one JSON object:
  ends          {"fin": n, "rst": n, "client_fin": n}: who ended it first
  rst_seen      connections where the server sent an RST with no FIN of its
                own before it: an abortive close, which the client sees
                (ECONNRESET)
  rst_after_fin connections where the server sent an RST after its own FIN:
                the client's read gives EOF still (the FIN came first). A
                request that crossed the FIN, retransmitted once the owner
                has closed, draws one
  met_fin       connections whose client sent a request the server never
                took (sent before the FIN reached it)
  fin_after_ack_ms  for FINs that follow a bare ACK of the whole response:
                that ACK to the FIN
  piggybacked   FINs whose response was acknowledged only by the next request
  end_ms        each end, ms after --since
"""
import argparse
import json
import re
import subprocess

LINE = re.compile(r"^(\d+\.\d+) IP6? (\S+)\.(\d+) > (\S+)\.(\d+): Flags \[([^\]]*)\]"
                  r"(?:, seq (\d+)(?::(\d+))?)?(?:, ack (\d+))?.*?, length (\d+)")


def segments(path):
    out = subprocess.run(["tcpdump", "-r", path, "-tt", "-nn", "-S"],
                         capture_output=True, text=True).stdout
    for line in out.splitlines():
        m = LINE.match(line)
        if m:
            yield m


class Conn:
    def __init__(self):
        self.first = None		# t of its first segment
        self.server_fin = None		# (t, seq, ack)
        self.rst = None			# t of the first RST, either way
        self.server_rst = None
        self.client_fin = None
        self.first_ack = {}		# ack number -> (t, payload) of its first segment
        self.client_end = 0		# highest client seq end sent


def main():
    p = argparse.ArgumentParser()
    p.add_argument("pcap")
    p.add_argument("port")
    p.add_argument("--since", type=float, default=0)
    p.add_argument("--until", type=float, default=float("inf"))
    p.add_argument("--existing", action="store_true")
    args = p.parse_args()

    conns = {}
    for m in segments(args.pcap):
        t = float(m.group(1))
        src, sport, dst, dport = m.group(2), m.group(3), m.group(4), m.group(5)
        flags, length = m.group(6), int(m.group(10))
        seq = int(m.group(7)) if m.group(7) else None
        ack = int(m.group(9)) if m.group(9) else None
        if args.port not in (sport, dport):
            continue
        from_server = sport == args.port
        key = (dst, dport) if from_server else (src, sport)
        c = conns.setdefault(key, Conn())
        if c.first is None:
            c.first = t
        if "R" in flags and c.rst is None:
            c.rst = t
        if from_server:
            if "R" in flags and c.server_rst is None:
                c.server_rst = t
            if "F" in flags and c.server_fin is None and seq is not None:
                c.server_fin = (t, seq, ack)
            continue
        if seq is not None and length:
            c.client_end = max(c.client_end, seq + length)
        if "F" in flags and c.client_fin is None:
            c.client_fin = t
        if c.server_fin is None and ack is not None and ack not in c.first_ack:
            c.first_ack[ack] = (t, length)

    out = {"ends": {"fin": 0, "rst": 0, "client_fin": 0}, "rst_seen": 0, "rst_after_fin": 0,
           "met_fin": 0,
           "fin_after_ack_ms": [], "piggybacked": 0, "end_ms": []}
    for c in conns.values():
        ends = [(c.server_fin[0], "fin") if c.server_fin else None,
                (c.rst, "rst") if c.rst else None,
                (c.client_fin, "client_fin") if c.client_fin else None]
        ends = sorted(e for e in ends if e)
        if not ends or not args.since <= ends[0][0] <= args.until:
            continue
        if args.existing and c.first >= args.since:
            continue
        t, how = ends[0]
        out["ends"][how] += 1
        out["end_ms"].append(round((t - args.since) * 1000, 1) if args.since else t)
        if c.server_rst and c.server_fin and c.server_rst > c.server_fin[0]:
            out["rst_after_fin"] += 1
        elif c.server_rst:
            out["rst_seen"] += 1
        if how != "fin":
            continue
        fin_t, fin_seq, fin_ack = c.server_fin
        if fin_ack is not None and c.client_end > fin_ack:
            out["met_fin"] += 1
        first = c.first_ack.get(fin_seq)
        if first and first[1]:
            out["piggybacked"] += 1
        elif first:
            out["fin_after_ack_ms"].append(round((fin_t - first[0]) * 1000, 3))
    out["end_ms"].sort()
    out["fin_after_ack_ms"].sort()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
