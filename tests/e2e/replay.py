#!/usr/bin/env python3
"""Replay, on interface IF, the first frame of a pcap file that goes to HOST
and carries TCP payload: a stray packet of an old flow. Prints the frame's
length."""
import socket
import struct
import sys

sys.path.insert(0, __import__("os").path.dirname(__file__))
from pcap_count import addresses, frames  # noqa: E402


def tcp_payload(frame):
    ethertype = struct.unpack("!H", frame[12:14])[0]
    if ethertype == 0x0800:
        ihl = (frame[14] & 0x0F) * 4
        total = struct.unpack("!H", frame[16:18])[0]
        tcp = 14 + ihl
        return total - ihl - (frame[tcp + 12] >> 4) * 4
    if ethertype == 0x86DD:
        plen = struct.unpack("!H", frame[18:20])[0]
        return plen - (frame[54 + 12] >> 4) * 4
    return 0


def main():
    path, host, ifname = sys.argv[1], sys.argv[2], sys.argv[3]
    import ipaddress
    host = ipaddress.ip_address(host)
    for length, frame in frames(path):
        if length != len(frame):
            continue	# cut by the snap length: cannot be replayed whole
        _, dst = addresses(frame)
        if dst == host and tcp_payload(frame) > 0:
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
            s.bind((ifname, 0))
            s.send(frame)
            print(length)
            return 0
    print("no frame to replay", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
