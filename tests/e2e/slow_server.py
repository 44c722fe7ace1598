#!/usr/bin/env python3
"""A keep-alive HTTP server, one thread per connection, that takes --delay
seconds to compute each answer. Logs one JSON line per event to stdout:
  {"event": "request"|"answered"|"recv-eof"|"send-after-eof", ...}
with the time in ms since the server started, so a test can tell when the
owner's blocked recv returned 0 and what a send after that gave.
"""
import argparse
import errno
import json
import socket
import sys
import threading
import time

START = time.monotonic()
LOCK = threading.Lock()
BODY = b"x" * 1000


def log(**kv):
    kv["ms"] = round((time.monotonic() - START) * 1000, 1)
    with LOCK:
        print(json.dumps(kv), flush=True)


def serve(conn, delay):
    buf = b""
    while True:
        try:
            chunk = conn.recv(65536)
        except OSError as e:
            log(event="recv-error", errno=e.errno)
            return
        if not chunk:
            log(event="recv-eof")
            try:
                conn.send(b"late", socket.MSG_NOSIGNAL)
                log(event="send-after-eof", result="sent")
            except OSError as e:
                log(event="send-after-eof", result=errno.errorcode.get(e.errno, str(e.errno)))
            conn.close()
            return
        buf += chunk
        while b"\r\n\r\n" in buf:
            _, _, buf = buf.partition(b"\r\n\r\n")
            log(event="request")
            time.sleep(delay)
            try:
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(BODY) + BODY)
                log(event="answered")
            except OSError as e:
                log(event="send-error", errno=e.errno)
                return


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--delay", type=float, default=1.0)
    args = p.parse_args()
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", args.port))
    lsock.listen(128)
    log(event="listening")
    while True:
        conn, _ = lsock.accept()
        threading.Thread(target=serve, args=(conn, args.delay), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
