#!/usr/bin/env python3
"""Packets and bytes (whole frames, as captured off the wire) in a pcap file,
by direction relative to HOST: {"to": {"packets", "bytes"}, "from": {...}}.
Reads the classic pcap format tcpdump -w writes; Ethernet, IPv4 and IPv6."""
import ipaddress
import json
import struct
import sys


def frames(path):
    with open(path, "rb") as f:
        magic = f.read(24)[:4]
        endian = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
        while True:
            rec = f.read(16)
            if len(rec) < 16:
                return
            _, _, incl, orig = struct.unpack(endian + "IIII", rec)
            yield orig, f.read(incl)


def addresses(frame):
    ethertype = struct.unpack("!H", frame[12:14])[0]
    if ethertype == 0x0800:
        return ipaddress.ip_address(frame[26:30]), ipaddress.ip_address(frame[30:34])
    if ethertype == 0x86DD:
        return ipaddress.ip_address(frame[22:38]), ipaddress.ip_address(frame[38:54])
    return None, None


def main():
    path, host = sys.argv[1], ipaddress.ip_address(sys.argv[2])
    out = {"to": {"packets": 0, "bytes": 0}, "from": {"packets": 0, "bytes": 0}}
    for length, frame in frames(path):
        src, dst = addresses(frame)
        side = "to" if dst == host else "from" if src == host else None
        if side:
            out[side]["packets"] += 1
            out[side]["bytes"] += length
    print(json.dumps(out))


if __name__ == "__main__":
    main()
