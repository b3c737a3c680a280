"""GET /v1/gaps in process: staff only, query validation in the one error shape, the report as JSON."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from deflect.api.auth import caller_dependency
from deflect.api.errors import install_error_handlers
from deflect.api.gaps import gaps_router
from deflect.config import DEV_ADMIN_KEY, DEV_AGENT_KEY, DEV_CUSTOMER_KEY, Settings
from deflect.gaps import GapFinder
from deflect.testing import HashEmbedder

from .builders import NOW, PARAMS, PASSWORD, Desk, chunk, index_of

CUSTOMER = {"Authorization": f"Bearer {DEV_CUSTOMER_KEY}"}
AGENT = {"Authorization": f"Bearer {DEV_AGENT_KEY}"}
ADMIN = {"X-API-Key": DEV_ADMIN_KEY}


@pytest.fixture
def client() -> TestClient:
    desk = Desk()
    for days, text in enumerate(PASSWORD, start=1):
        desk.escalate(text, days=days)
    desk.escalate("what is the weather on mars tomorrow", days=2)
    desk.escalate(PASSWORD[0], days=45)
    index = index_of(HashEmbedder(), chunk("doc:password", "Forgot your password? Reset the password.", "2026-01-01"))
    finder = GapFinder(desk.store, HashEmbedder(), index, clock=lambda: NOW, params=PARAMS)
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(gaps_router(finder, caller_dependency(Settings())))
    return TestClient(app)


@pytest.mark.parametrize("headers", [AGENT, ADMIN])
def test_staff_get_the_report(client: TestClient, headers: dict[str, str]) -> None:
    res = client.get("/v1/gaps", headers=headers)

    assert res.status_code == 200
    body = res.json()
    assert body["questions"] == 4  # the 45-day-old escalation is outside the default 30 days
    assert [c["size"] for c in body["clusters"]] == [3]
    cluster = body["clusters"][0]
    assert set(cluster["examples"]) == set(PASSWORD)
    assert cluster["nearest_sources"][0]["source_id"] == "doc:password"
    assert cluster["recurring_after_resolution"] is False
    assert cluster["contradicted_article"] is False


def test_days_and_min_size_are_passed_through(client: TestClient) -> None:
    body = client.get("/v1/gaps", params={"days": 60, "min_size": 1}, headers=AGENT).json()

    assert body["questions"] == 5
    assert [c["size"] for c in body["clusters"]] == [4, 1]
    assert body["min_size"] == 1


def test_customers_are_refused(client: TestClient) -> None:
    res = client.get("/v1/gaps", headers=CUSTOMER)

    assert res.status_code == 403
    assert res.json()["error"]["code"] == "forbidden"


def test_no_key_is_unauthorized(client: TestClient) -> None:
    res = client.get("/v1/gaps")

    assert res.status_code == 401
    assert res.json()["error"]["code"] == "unauthorized"


@pytest.mark.parametrize("params", [{"days": 0}, {"days": "soon"}, {"min_size": 0}])
def test_bad_query_parameters_are_422_in_the_error_shape(client: TestClient, params: dict[str, int | str]) -> None:
    res = client.get("/v1/gaps", params=params, headers=AGENT)

    assert res.status_code == 422
    assert set(res.json()) == {"error"}
    assert set(res.json()["error"]) == {"code", "message", "details"}
