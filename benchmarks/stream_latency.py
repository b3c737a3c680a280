"""First-answer-text and full-answer latency of POST /v1/ask/stream next to POST /v1/ask, in one run over real HTTP
on loopback: starts `deflect serve`, asks the same golden questions both ways (interleaved, alternating which
way goes first), prints p50/p95.

    .venv/bin/python benchmarks/stream_latency.py [--golden eval/golden/kb.jsonl] [--n 50]

Uses the index under the data_dir setting (run `deflect ingest` first). A benchmark, not a test: numbers depend on
the machine and its load, so nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ask_latency import free_port  # noqa: E402 - the sibling benchmark's helper

KEYS = {"customer": "dev-customer-key", "agent": "dev-agent-key"}


def wait_ready(client: httpx.Client, server: subprocess.Popen[bytes]) -> bool:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and server.poll() is None:
        try:
            if client.get("/readyz").status_code == 200:
                return True
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    return False


def streamed(client: httpx.Client, question: str, key: str) -> dict[str, float]:
    """Milliseconds from sending to: the decision event, the first delta (answer text) and the done event."""
    started = time.perf_counter()
    marks: dict[str, float] = {}
    with client.stream("POST", "/v1/ask/stream", json={"question": question}, headers={"X-API-Key": key}) as r:
        r.raise_for_status()
        for line in r.iter_lines():
            if line.startswith("event: "):
                name = line[7:]
                if name in {"decision", "delta", "done", "error"} and name not in marks:
                    marks[name] = (time.perf_counter() - started) * 1000
    if "error" in marks:
        raise RuntimeError(f"stream error for {question!r}")
    return marks


def pct(values: list[float]) -> dict[str, float]:
    q = statistics.quantiles(values, n=100)
    return {"p50_ms": round(q[49], 1), "p95_ms": round(q[94], 1)}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--golden", type=Path, default=Path("eval/golden/kb.jsonl"))
    parser.add_argument("--n", type=int, default=50)
    args = parser.parse_args()
    cases = [json.loads(line) for line in args.golden.read_text(encoding="utf-8").splitlines() if line.strip()]
    cases = cases[: args.n]
    port = free_port()
    deflect = Path(sys.executable).with_name("deflect")
    server = subprocess.Popen(
        [str(deflect), "serve", "--port", str(port)],
        env=os.environ.copy(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    plain, decision, first_text, done = [], [], [], []
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            if not wait_ready(client, server):
                print("server did not become ready (did you run `deflect ingest`?)", file=sys.stderr)
                return 1
            client.post("/v1/ask", json={"question": "warm up"}, headers={"X-API-Key": KEYS["customer"]})
            # Each question is asked both ways; which way goes first alternates, because the second ask of a
            # question finds its embeddings cached: each way gets half the questions cold and half warm.
            for i, case in enumerate(cases):
                key = KEYS[case.get("audience", "customer")]
                for way in ("ask", "stream") if i % 2 == 0 else ("stream", "ask"):
                    if way == "ask":
                        started = time.perf_counter()
                        response = client.post(
                            "/v1/ask", json={"question": case["question"]}, headers={"X-API-Key": key}
                        )
                        response.raise_for_status()
                        plain.append((time.perf_counter() - started) * 1000)
                    else:
                        marks = streamed(client, case["question"], key)
                        decision.append(marks["decision"])
                        first_text.append(marks["delta"])
                        done.append(marks["done"])
    finally:
        server.terminate()
        server.wait(timeout=10)
    print(
        json.dumps(
            {
                "questions": len(cases),
                "ask": pct(plain),
                "stream_decision": pct(decision),
                "stream_first_text": pct(first_text),
                "stream_done": pct(done),
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
