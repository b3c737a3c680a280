"""Latency of POST /v1/ask over real HTTP on loopback: starts `deflect serve`, asks golden questions, prints p50/p95.

    .venv/bin/python benchmarks/ask_latency.py [--golden eval/golden/kb.jsonl] [--n 200]

Uses the index under the data_dir setting (run `deflect ingest` first). A benchmark, not a test: numbers depend on
the machine and its load, so nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--golden", type=Path, default=Path("eval/golden/kb.jsonl"))
    parser.add_argument("--n", type=int, default=200)
    args = parser.parse_args()
    cases = [json.loads(line) for line in args.golden.read_text(encoding="utf-8").splitlines() if line.strip()]
    cases = (cases * (args.n // len(cases) + 1))[: args.n]
    port = free_port()
    deflect = Path(sys.executable).with_name("deflect")
    server = subprocess.Popen(
        [str(deflect), "serve", "--port", str(port)],
        env=os.environ.copy(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=30) as client:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if client.get("/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    print("server did not become ready (did you run `deflect ingest`?)", file=sys.stderr)
                    return 1
                time.sleep(0.2)
            keys = {"customer": "dev-customer-key", "agent": "dev-agent-key"}
            client.post("/v1/ask", json={"question": "warm up"}, headers={"X-API-Key": keys["customer"]})
            wall, server_ms, decisions = [], [], {"answer": 0, "escalate": 0}
            for case in cases:
                started = time.perf_counter()
                resp = client.post(
                    "/v1/ask",
                    json={"question": case["question"]},
                    headers={"X-API-Key": keys[case.get("audience", "customer")]},
                )
                wall.append((time.perf_counter() - started) * 1000)
                resp.raise_for_status()
                body = resp.json()
                server_ms.append(body["latency_ms"])
                decisions[body["decision"]] += 1
    finally:
        server.terminate()
        server.wait(timeout=10)
    q = statistics.quantiles(wall, n=100)
    qs = statistics.quantiles(server_ms, n=100)
    print(
        json.dumps(
            {
                "requests": len(wall),
                "http_p50_ms": round(q[49], 1),
                "http_p95_ms": round(q[94], 1),
                "http_max_ms": round(max(wall), 1),
                "service_p50_ms": round(qs[49], 1),
                "service_p95_ms": round(qs[94], 1),
                "decisions": decisions,
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
