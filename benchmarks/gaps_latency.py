"""Time of the gap report (what GET /v1/gaps computes) over N escalations, cold (first call after start) and warm.

    .venv/bin/python benchmarks/gaps_latency.py [--n 1000]

Builds the real service (packaged MiniLM, embedded Chroma over the sample kb/ in a temporary folder), stores N
escalations made from the golden questions with small variations, then times `service.gaps()`. A benchmark, not a
test: nothing here asserts a time. The server's `gaps` job refreshes the report every DEFLECT_GAPS_REFRESH_S; the
GET serves that report.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient

from deflect.api import create_app
from deflect.config import Settings
from deflect.domain.models import Audience
from deflect.wiring import build_service

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="gaps-bench-"))
    shutil.copytree(ROOT / "kb", work / "kb")
    settings = Settings(  # type: ignore[call-arg]
        kb_dir=work / "kb",
        data_dir=work / "data",
        database_url=f"sqlite:///{work / 'deflect.db'}",
        policy_file=ROOT / "config" / "policy.yaml",
        escalation_file=ROOT / "config" / "escalation.yaml",
        _env_file=None,
    )
    service = build_service(settings)
    service.ingest([settings.kb_dir], settings.kb_dir)
    golden = [json.loads(line)["question"] for line in (ROOT / "eval/golden/kb.jsonl").read_text().splitlines() if line]
    rng = random.Random(7)
    started = time.perf_counter()
    for i in range(args.n):
        question = f"{rng.choice(golden)} (ticket {i})"
        service.desk.escalate(
            answer_id=f"ans_bench_{i}",
            question=question,
            audience=Audience.CUSTOMER,
            reasons=["low_confidence"],
            hits=[],
            policy_version="bench",
            decision_data={},
        )
    print(f"stored {args.n} escalations in {time.perf_counter() - started:.1f}s")
    for label in ("computed, cold (first embedding of every question)", "computed, warm (embeddings cached)"):
        started = time.perf_counter()
        report = service._gaps.refresh()  # what the `gaps` job does in the background
        print(
            f"gaps {label}: {time.perf_counter() - started:.2f}s, {report.questions} questions, "
            f"{len(report.clusters)} clusters"
        )
    client = TestClient(create_app(settings, service))
    times = []
    for _ in range(5):
        started = time.perf_counter()
        response = client.get("/v1/gaps", headers={"Authorization": f"Bearer {settings.agent_api_keys[0]}"})
        times.append(time.perf_counter() - started)
        assert response.status_code == 200
    print(
        f"GET /v1/gaps served from the job's report: max {max(times) * 1000:.0f} ms over 5 calls "
        f"({len(response.content)} bytes)"
    )
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
