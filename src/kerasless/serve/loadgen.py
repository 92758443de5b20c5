"""A small load generator: N keep-alive HTTP/1.1 clients posting JSON for a fixed time (asyncio, no deps).

Example:
    >>> stats = run_load("127.0.0.1", 8501, lambda i: ("/v1/models/m:predict", body, None), clients=8, seconds=2)
    >>> stats["rps"], stats["p99_ms"]
"""

from __future__ import annotations

import asyncio
import time


async def _client(host, port, make, deadline, latencies, failures, check, index):
    reader, writer = await asyncio.open_connection(host, port)
    i = index
    try:
        while time.perf_counter() < deadline:
            path, body, expect = make(i)
            i += 1
            head = (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n").encode()
            start = time.perf_counter()
            writer.write(head + body)
            headers = await reader.readuntil(b"\r\n\r\n")
            status = int(headers[9:12])
            length = 0
            for line in headers.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            payload = await reader.readexactly(length)
            latencies.append(time.perf_counter() - start)
            if status != 200:
                failures.append(f"{status}: {payload[:200]!r}")
            elif check is not None:
                problem = check(payload, expect)
                if problem:
                    failures.append(problem)
    finally:
        writer.close()


async def load(host, port, make, clients: int, seconds: float, check=None) -> dict:
    latencies, failures = [], []
    start = time.perf_counter()
    deadline = start + seconds
    await asyncio.gather(*(_client(host, port, make, deadline, latencies, failures, check, c * 1000003)
                           for c in range(clients)))
    elapsed = time.perf_counter() - start
    lat = sorted(latencies)
    pick = (lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000) if lat else (lambda q: float("nan"))
    return {"clients": clients, "requests": len(lat), "seconds": round(elapsed, 3),
            "rps": round(len(lat) / elapsed, 1), "p50_ms": round(pick(0.50), 3), "p99_ms": round(pick(0.99), 3),
            "failures": len(failures), "first_failures": failures[:3]}


def run_load(host: str, port: int, make, clients: int = 1, seconds: float = 2.0, check=None) -> dict:
    """Post ``make(i) -> (path, body bytes, expected)`` from ``clients`` connections for ``seconds``; with ``check``,
    ``check(response body, expected)`` returns a problem string or None for every answer.
    Returns requests, rps, p50_ms, p99_ms, failures (non-200 answers and failed checks)."""
    return asyncio.run(load(host, port, make, clients, seconds, check))
