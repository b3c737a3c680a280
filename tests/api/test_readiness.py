"""/readyz says whether deflect can answer now (a real index query, a database write lock), within a bound; a
locked database gives asks a bounded wait and then a clear 503."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from conftest import FAKE_CALIBRATION
from deflect.api import create_app
from deflect.config import DEV_CUSTOMER_KEY, Settings
from deflect.service import DeflectService
from deflect.testing import HashEmbedder
from deflect.testing.faults import FaultyIndex
from deflect.wiring import assemble, build_store

CUSTOMER = {"Authorization": f"Bearer {DEV_CUSTOMER_KEY}"}
BOUND_S = 0.4


@pytest.fixture
def fast(settings: Settings, tmp_path: Path) -> Settings:
    return settings.model_copy(
        update={"index_timeout_s": BOUND_S, "index_retry_after_s": 0.0, "database_timeout_s": BOUND_S}
    )


@pytest.fixture
def index() -> Iterator[FaultyIndex]:
    idx = FaultyIndex()
    yield idx
    idx.release.set()


@pytest.fixture
def client(fast: Settings, index: FaultyIndex, make_service: Callable[..., DeflectService]) -> TestClient:
    make_service(index=index)  # ingest the tiny kb into it
    svc = assemble(fast, index, HashEmbedder(), calibration=FAKE_CALIBRATION, store=build_store(fast))
    return TestClient(create_app(fast, svc))


def db_path(settings: Settings) -> Path:
    return Path(settings.database_url.removeprefix("sqlite:///"))


def test_ready_when_everything_answers(client: TestClient) -> None:
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json()["checks"] == {"index": True, "indexed": True, "database": True, "model": True}


def test_not_ready_when_the_index_counts_but_cannot_answer_a_query(client: TestClient, index: FaultyIndex) -> None:
    # What a foreign ingest did to embedded Chroma: count() fine, every query failing, and /readyz said 200.
    index.mode = "fail"

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["error"]["details"][0]["index"] is False


def test_a_hung_index_makes_readyz_answer_503_within_the_bound(client: TestClient, index: FaultyIndex) -> None:
    index.mode = "hang"

    started = time.monotonic()
    response = client.get("/readyz")

    assert response.status_code == 503
    assert time.monotonic() - started < 10  # the 0.4 s bound, with room for a slow machine; not the 30 s hang


def test_not_ready_when_the_database_is_locked_or_gone(client: TestClient, fast: Settings) -> None:
    locker = sqlite3.connect(db_path(fast), isolation_level=None)
    locker.execute("BEGIN IMMEDIATE")
    try:
        locked = client.get("/readyz")
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    assert locked.status_code == 503
    assert locked.json()["error"]["details"][0]["database"] is False

    assert client.get("/readyz").status_code == 200  # recovers with the lock gone, no restart

    db_path(fast).unlink()
    assert client.get("/readyz").json()["error"]["details"][0]["database"] is False


def test_an_ask_on_a_locked_database_waits_the_bound_then_gets_a_503(client: TestClient, fast: Settings) -> None:
    locker = sqlite3.connect(db_path(fast), isolation_level=None)
    locker.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        response = client.post("/v1/ask", json={"question": "What is the weather on Mars?"}, headers=CUSTOMER)
        elapsed = time.monotonic() - started
    finally:
        locker.execute("ROLLBACK")
        locker.close()

    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "store_unavailable"
    assert "nothing was stored" in error["message"]
    assert elapsed < 10  # DEFLECT_DATABASE_TIMEOUT_S=0.4 bounds it (it was a fixed 30 s, then a 500)
