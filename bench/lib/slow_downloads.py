#!/usr/bin/env python3
"""COUNT keep-alive downloads of PATH from 127.0.0.1:PORT, each read as it
comes, held until stdin closes (or a line arrives). Prints one JSON line when
all are under way ("started") and one at the end: bytes read, connections the
server ended (EOF or reset).

    slow_downloads.py PORT PATH COUNT"""
import asyncio
import json
import sys


async def download(port, path, tally):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    await writer.drain()
    tally["open"] += 1
    try:
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                tally["ended"] += 1
                return
            tally["bytes"] += len(chunk)
    except OSError:
        tally["ended"] += 1
    finally:
        writer.close()


async def main():
    port, path, count = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    tally = {"open": 0, "bytes": 0, "ended": 0}
    tasks = [asyncio.create_task(download(port, path, tally)) for _ in range(count)]
    while tally["open"] < count:
        await asyncio.sleep(0.05)
    print(json.dumps({"started": count}), flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.readline)
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    print(json.dumps(tally), flush=True)


asyncio.run(main())
