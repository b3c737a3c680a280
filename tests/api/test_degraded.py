"""Degraded mode: when the index fails or hangs, asks still hand off (200, escalate, `index_unavailable`, packet
stored); when the database fails, a 503 says nothing was stored."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from conftest import FAKE_CALIBRATION
from deflect.api import create_app
from deflect.config import DEV_AGENT_KEY, DEV_CUSTOMER_KEY, Settings
from deflect.service import DeflectService
from deflect.store.sql import SqlStore
from deflect.testing import HashEmbedder
from deflect.testing.faults import FaultyIndex
from deflect.wiring import assemble

CUSTOMER = {"Authorization": f"Bearer {DEV_CUSTOMER_KEY}"}
AGENT = {"Authorization": f"Bearer {DEV_AGENT_KEY}"}
ANSWERABLE = "How do I reset my password?"


class BreakableIndex(FaultyIndex):
    """Queries fail or hang on demand (deflect.testing.faults)."""


@pytest.fixture
def index() -> Iterator[BreakableIndex]:
    idx = BreakableIndex()
    yield idx
    idx.release.set()


@pytest.fixture
def fast_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"index_timeout_s": 0.3, "index_retry_after_s": 60.0})


def client_for(settings: Settings, service: DeflectService) -> TestClient:
    return TestClient(create_app(settings, service))


@pytest.fixture
def degraded(
    fast_settings: Settings, make_service: Callable[..., DeflectService], index: BreakableIndex
) -> tuple[TestClient, DeflectService]:
    svc = make_service(index=index)  # ingested while healthy
    # Rebuild on the fast settings (same index, same store) so the ask deadline is short.
    svc = assemble(fast_settings, index, HashEmbedder(), calibration=FAKE_CALIBRATION, store=svc.desk.store)
    return client_for(fast_settings, svc), svc


def assert_handed_off(client: TestClient, body: dict[str, object]) -> None:
    assert body["decision"] == "escalate"
    assert "index_unavailable" in body["reasons"]  # type: ignore[operator]
    assert body["escalation_id"]
    assert str(body["escalation_id"]) in str(body["answer"])  # the hand-off message names the reference
    stored = client.get(f"/v1/escalations/{body['escalation_id']}", headers=AGENT)
    assert stored.status_code == 200
    assert "index_unavailable" in stored.json()["escalation"]["reasons"]


def test_a_failing_index_still_hands_off_and_stores_the_packet(
    degraded: tuple[TestClient, DeflectService], index: BreakableIndex
) -> None:
    client, _ = degraded
    index.mode = "fail"

    response = client.post("/v1/ask", json={"question": ANSWERABLE}, headers=CUSTOMER)

    assert response.status_code == 200
    assert_handed_off(client, response.json())


def test_a_hung_index_hands_off_within_the_deadline(
    degraded: tuple[TestClient, DeflectService], index: BreakableIndex
) -> None:
    client, _ = degraded
    index.mode = "hang"

    started = time.monotonic()
    response = client.post("/v1/ask", json={"question": ANSWERABLE}, headers=CUSTOMER)
    elapsed = time.monotonic() - started

    assert response.status_code == 200
    assert_handed_off(client, response.json())
    assert elapsed < 10  # bounded by the 0.3 s deadline (with room for a slow machine), not by the 30 s hang


def test_after_a_failure_asks_skip_the_index_until_the_breaker_closes(
    degraded: tuple[TestClient, DeflectService], index: BreakableIndex
) -> None:
    client, _ = degraded
    index.mode = "fail"
    client.post("/v1/ask", json={"question": ANSWERABLE}, headers=CUSTOMER)
    reached = index.queries

    for _ in range(3):
        body = client.post("/v1/ask", json={"question": ANSWERABLE}, headers=CUSTOMER).json()
        assert "index_unavailable" in body["reasons"]

    assert index.queries == reached


@pytest.mark.parametrize(
    ("question", "reason"),
    [
        ("I want to talk to a human, please", "human_requested"),
        ("You charged us twice this month and I want a refund", "risk_topic:billing_dispute"),
    ],
)
def test_human_requests_and_risk_topics_escalate_with_their_reason_without_the_index(
    degraded: tuple[TestClient, DeflectService], index: BreakableIndex, question: str, reason: str
) -> None:
    client, _ = degraded
    index.mode = "fail"

    body = client.post("/v1/ask", json={"question": question}, headers=CUSTOMER).json()

    assert_handed_off(client, body)
    assert reason in body["reasons"]


def test_when_the_database_is_gone_the_ask_gets_a_503_that_says_nothing_was_stored(
    settings: Settings, make_service: Callable[..., DeflectService], tmp_path: Path
) -> None:
    db = tmp_path / "gone.db"
    store = SqlStore(f"sqlite:///{db}")
    client = client_for(settings, make_service(store=store))
    db.unlink()  # an operator's cleanup, a volume unmounted: before, asks kept handing out ids that vanished

    response = client.post("/v1/ask", json={"question": "What is the weather on Mars?"}, headers=CUSTOMER)

    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "store_unavailable"
    assert "nothing was stored" in error["message"]
    assert error["details"][0]["stored"] is False
    assert "escalation_id" not in response.text
