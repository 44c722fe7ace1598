#!/usr/bin/env python3
"""Send request lines down one control connection all at once, then read one
response per request. Prints the responses as a JSON list.

    pipeline.py SOCKET < requests (one JSON object, or a bad line, per line)"""
import json
import socket
import sys

lines = sys.stdin.buffer.read().splitlines(keepends=True)
s = socket.socket(socket.AF_UNIX)
s.settimeout(20)
s.connect(sys.argv[1])
s.sendall(b"".join(lines))
f = s.makefile("rb")
print(json.dumps([json.loads(f.readline()) for _ in lines]))
