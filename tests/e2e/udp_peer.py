#!/usr/bin/env python3
"""UDP peers for the connected-UDP tests, each printing JSON lines.

    udp_peer.py echo PORT ADDR...     an unconnected server on each ADDR:PORT
                                      (IPv4 or IPv6, as ADDR is)
                                      echoing every datagram; {"serving": PORT}
    udp_peer.py client ADDR PORT SECS a connected client: one exchange, then
                                      {"ready": LPORT}; then it waits in a
                                      blocking recv() (SECS at most) and says how that ended
                                      and what one more send() did:
                                      {"recv": TEXT|null, "error": ERRNO|null,
                                       "send_error": ERRNO|null, "after": S,
                                       "at": when recv() returned, Unix time}
    udp_peer.py connect ADDR PORT     a new socket's connect() and an
                                      unconnected socket's sendto():
                                      {"connect": ERRNO|null, "sendto": ERRNO|null}
    udp_peer.py exchange ADDR PORT    one round trip on a new connected socket:
                                      {"reply": TEXT|null, "error": ERRNO|null}
    udp_peer.py hold N ADDR PORT SECS N connected sockets (no peer needed), held
                                      SECS: {"ready": [LPORT, ...], "pid": PID}"""
import errno
import json
import os
import select
import signal
import socket
import sys
import time


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def name(e):
    return errno.errorcode.get(e.errno, str(e.errno))


def error_of(call, *args):
    """The errno name a call fails with, or None."""
    try:
        call(*args)
    except OSError as e:
        return name(e)
    return None


def say(obj):
    print(json.dumps(obj), flush=True)


def echo(port, addrs):
    # One socket an address: a reply leaves from the address the client named.
    socks = []
    for addr in addrs:
        s = socket.socket(family(addr), socket.SOCK_DGRAM)
        s.bind((addr, port))
        socks.append(s)
    say({"serving": port})
    while True:
        for s in select.select(socks, [], [])[0]:
            data, peer = s.recvfrom(2048)
            try:
                s.sendto(data, peer)
            except OSError:
                pass


def expired(signum, frame):
    raise TimeoutError()


def client(addr, port, secs):
    s = socket.socket(family(addr), socket.SOCK_DGRAM)
    s.connect((addr, port))
    s.settimeout(5)
    s.send(b"hello")
    s.recv(100)
    say({"ready": s.getsockname()[1]})
    # Blocking, as a thread waiting for its peer: a socket timeout would make
    # it non-blocking, and there Linux answers a shut-down socket's recv()
    # with EAGAIN, not 0. The alarm bounds the wait.
    s.settimeout(None)
    signal.signal(signal.SIGALRM, expired)
    signal.alarm(max(1, int(secs)))
    out = {"recv": None, "error": None, "send_error": None}
    start = time.monotonic()
    try:
        out["recv"] = s.recv(100).decode()
    except TimeoutError:
        out["error"] = "timeout"
    except OSError as e:
        out["error"] = name(e)
    signal.alarm(0)
    out["after"] = round(time.monotonic() - start, 3)
    out["at"] = time.time()
    out["send_error"] = error_of(s.send, b"again")
    say(out)


def connect(addr, port):
    s = socket.socket(family(addr), socket.SOCK_DGRAM)
    u = socket.socket(family(addr), socket.SOCK_DGRAM)
    say({"connect": error_of(s.connect, (addr, port)),
         "sendto": error_of(u.sendto, b"hello", (addr, port))})


def exchange(addr, port):
    out = {"reply": None, "error": None}
    s = socket.socket(family(addr), socket.SOCK_DGRAM)
    s.settimeout(5)
    try:
        s.connect((addr, port))
        s.send(b"ping")
        out["reply"] = s.recv(100).decode()
    except socket.timeout:
        out["error"] = "timeout"
    except OSError as e:
        out["error"] = name(e)
    say(out)


def hold(n, addr, port, secs):
    socks = []
    for _ in range(n):
        s = socket.socket(family(addr), socket.SOCK_DGRAM)
        s.connect((addr, port))
        socks.append(s)
    say({"ready": [s.getsockname()[1] for s in socks], "pid": os.getpid()})
    time.sleep(secs)


mode, args = sys.argv[1], sys.argv[2:]
if mode == "echo":
    echo(int(args[0]), args[1:])
elif mode == "client":
    client(args[0], int(args[1]), float(args[2]))
elif mode == "hold":
    hold(int(args[0]), args[1], int(args[2]), float(args[3]))
elif mode == "connect":
    connect(args[0], int(args[1]))
else:
    exchange(args[0], int(args[1]))
