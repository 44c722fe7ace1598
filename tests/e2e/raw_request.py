#!/usr/bin/env python3
"""Send raw lines to the control socket, one connection, and print each
response line. A line argument of @long:N sends N bytes of 'x'."""
import socket
import sys

sock = socket.socket(socket.AF_UNIX)
sock.connect(sys.argv[1])
f = sock.makefile("rwb")
for arg in sys.argv[2:]:
    line = b"x" * int(arg[6:]) if arg.startswith("@long:") else arg.encode()
    f.write(line + b"\n")
    f.flush()
    print(f.readline().decode().rstrip("\n"))
