"""One owner of the index while serving: `deflect ingest` while `deflect serve` runs (embedded Chroma) hands the
work to the server, and asks keep being answered during and after it. Before, the second process's writes left the
server's view of embedded Chroma broken: every ask after that was a 500 until a restart."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .servers import AGENT, Deployment

pytestmark = pytest.mark.integration

NEW_ARTICLE = """---
title: Exporting boards to Parquet
url: https://help.example/boards/parquet-export
audience: public
product: boards
tags: [export, parquet]
updated: 2026-11-01
---
# Exporting boards to Parquet

## How to export a board as a Parquet file

Open the board, choose Export, then pick Parquet. The quasarfile download starts at once and keeps every column.
"""


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    dep = Deployment(tmp_path)
    first = dep.cli("ingest", "--json")
    assert first.returncode == 0, first.stderr
    yield dep
    dep.stop()


def test_ingest_while_serving_is_done_by_the_server_and_asks_never_fail(deployment: Deployment) -> None:
    deployment.serve()
    statuses: list[int] = []
    stop = threading.Event()

    def keep_asking() -> None:
        while not stop.is_set():
            try:
                statuses.append(deployment.ask("How do I reset my password?").status_code)
            except httpx.HTTPError:
                statuses.append(-1)

    asker = threading.Thread(target=keep_asking)
    asker.start()
    try:
        (deployment.root / "kb" / "articles" / "parquet-export.md").write_text(NEW_ARTICLE, encoding="utf-8")
        ingest = deployment.cli("ingest", "--json")
    finally:
        stop.set()
        asker.join(60)

    assert ingest.returncode == 0, ingest.stderr
    assert json.loads(ingest.stdout)["added"] == 1
    assert statuses and set(statuses) == {200}, statuses
    after = [deployment.ask("How do I export a board as a Parquet file?", AGENT) for _ in range(5)]
    assert {r.status_code for r in after} == {200}  # was 500 (chromadb "Error finding id") until a restart
    assert "doc:articles/parquet-export" in after[0].json()["retrieved"]
    assert httpx.get(f"{deployment.url}/readyz", timeout=10).status_code == 200
    assert "a deflect server is running" in ingest.stderr  # the server did it, not this second process
    rerun = deployment.cli("ingest", "--json")  # handed over again, and idempotent
    assert rerun.returncode == 0 and json.loads(rerun.stdout)["added"] == 0


def test_ask_while_serving_is_answered_by_the_server_and_no_second_process_opens_the_index(
    deployment: Deployment,
) -> None:
    deployment.serve()

    asked = deployment.cli("ask", "How do I reset my password?", "--json")
    dry = deployment.cli("ask", "How do I reset my password?", "--dry-run")
    second = deployment.cli("calibrate")  # opens the embedded index itself: refused, not let in to corrupt it

    assert asked.returncode in (0, 3), asked.stderr
    assert "a deflect server is running" in asked.stderr
    reply = json.loads(asked.stdout)
    audit = httpx.get(f"{deployment.url}/v1/audit", params={"answer_id": reply["id"]}, headers=AGENT, timeout=10)
    assert audit.status_code == 200 and audit.json(), audit.text  # the server recorded the ask
    assert dry.returncode == 2 and "--dry-run needs the index to itself" in dry.stderr
    assert second.returncode == 2 and "index_in_use" in second.stderr, second.stderr
    assert httpx.get(f"{deployment.url}/readyz", timeout=10).status_code == 200
