#!/usr/bin/env python3
"""Send raw requests to an HTTP server, a connection each, and print what
each got back as one JSON line: {"status": N, "body": bytes} (status 0 when
the server closed without a word). A request is given with Python escapes
(\\r\\n, \\x00); @long:N is a GET with N bytes of header."""
import json
import socket
import sys


def ask(host, port, raw):
    with socket.create_connection((host, port), timeout=5) as s:
        s.sendall(raw)
        got = b""
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                # Closed with our bytes unread (a header too large): an RST
                # after the answer.
                break
            if not chunk:
                break
            got += chunk
    head, _, body = got.partition(b"\r\n\r\n")
    words = head.split(b" ", 2)
    status = int(words[1]) if len(words) > 1 and words[1].isdigit() else 0
    return {"status": status, "body": len(body)}


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    for arg in sys.argv[3:]:
        if arg.startswith("@long:"):
            raw = b"GET /metrics HTTP/1.1\r\nX: " + b"x" * int(arg[6:]) + b"\r\n\r\n"
        else:
            raw = arg.encode().decode("unicode_escape").encode("latin-1")
        print(json.dumps(ask(host, port, raw)))


main()
