"""POST /v1/escalations/{id}/self_serve over HTTP: a customer key withdraws the escalation it raised because a
suggested page solved it. Ownership (only that key), one not-found for everything else, idempotency, refusal once
an agent started, and what staff see afterwards: the list filters, /v1/stats, /metrics. The tiny kb under a
threshold nothing reaches, so the password question escalates for low confidence alone and gets its page."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from tests.web.test_stream import parse_sse

from conftest import FAKE_CALIBRATION
from deflect.api import create_app
from deflect.config import DEV_AGENT_KEY, DEV_CUSTOMER_KEY, Settings
from deflect.domain.keys import Role
from deflect.service import DeflectService
from deflect.testing import HashEmbedder, InMemoryIndex
from deflect.testing.store import InMemoryStore
from deflect.wiring import assemble

from .test_escalations import assert_error

CUSTOMER = {"Authorization": f"Bearer {DEV_CUSTOMER_KEY}"}
AGENT = {"Authorization": f"Bearer {DEV_AGENT_KEY}", "X-Actor": "agent-ana"}
PASSWORD = "How do I reset my password?"
PAGE = "doc:articles/reset-password"


@pytest.fixture
def svc(settings: Settings) -> DeflectService:
    strict = settings.model_copy(update={"confidence_threshold": 0.999})
    service = assemble(strict, InMemoryIndex(), HashEmbedder(), calibration=FAKE_CALIBRATION, store=InMemoryStore())
    service.ingest([strict.kb_dir], strict.kb_dir)
    return service


@pytest.fixture
def client(settings: Settings, svc: DeflectService) -> TestClient:
    return TestClient(create_app(settings.model_copy(update={"confidence_threshold": 0.999}), svc))


@pytest.fixture
def other_customer(svc: DeflectService) -> dict[str, str]:
    """A second customer key, from the database (`deflect keys create`)."""
    assert svc.keys is not None
    return {"Authorization": f"Bearer {svc.keys.create(Role.CUSTOMER, 'another shop', 'test').secret}"}


def escalate(client: TestClient, headers: dict[str, str] = CUSTOMER) -> str:
    body = client.post("/v1/ask", json={"question": PASSWORD}, headers=headers).json()
    assert body["decision"] == "escalate" and [p["source_id"] for p in body["suggested"]] == [PAGE]
    escalation_id: str = body["escalation_id"]
    return escalation_id


def self_serve(client: TestClient, escalation_id: str, headers: dict[str, str] = CUSTOMER, page: Any = PAGE) -> Any:
    return client.post(f"/v1/escalations/{escalation_id}/self_serve", json={"page": page}, headers=headers)


def audit_actions(client: TestClient, escalation_id: str) -> list[dict[str, Any]]:
    events = client.get(f"/v1/escalations/{escalation_id}/audit", headers=AGENT).json()
    return [e for e in events if e["kind"] == "action"]


def test_the_customer_who_asked_withdraws_it_and_a_repeat_is_the_same_answer(client: TestClient) -> None:
    escalation_id = escalate(client)

    first = self_serve(client, escalation_id)
    again = self_serve(client, escalation_id, page="other")

    assert first.status_code == 200, first.text
    body = first.json()
    assert set(body) == {"id", "state", "page", "message"}  # no packet fields: sources, drafts, notes stay inside
    assert (body["id"], body["state"], body["page"]) == (escalation_id, "self_served", PAGE)
    assert escalation_id in body["message"]
    assert again.status_code == 200 and again.json() == body
    # The withdrawal, and the customer's vote for the page it cast (tests/feedback/test_self_served.py).
    event, vote = audit_actions(client, escalation_id)
    assert event["action"] == "self_serve" and event["data"]["page"] == PAGE
    assert event["actor"].startswith("customer:")
    assert (vote["action"], vote["actor"], vote["data"]["correct_source"]) == ("feedback", event["actor"], PAGE)
    staff_view = client.get(f"/v1/escalations/{escalation_id}", headers=AGENT).json()
    assert staff_view["escalation"]["state"] == "self_served"
    assert staff_view["sla"]["resolved"] is True
    assert staff_view["knowledge"] is None  # nothing was written as knowledge


def test_the_streamed_ask_binds_the_escalation_to_its_key_too(
    client: TestClient, other_customer: dict[str, str]
) -> None:
    response = client.post("/v1/ask/stream", json={"question": PASSWORD}, headers=CUSTOMER)
    decision = dict(parse_sse(response.text))["decision"]

    assert assert_error(self_serve(client, decision["escalation_id"], other_customer), 404, "not_found")
    assert self_serve(client, decision["escalation_id"]).json()["state"] == "self_served"


def test_anyone_else_gets_the_not_found_an_unknown_id_gets(client: TestClient, other_customer: dict[str, str]) -> None:
    mine = escalate(client)
    staffs = client.post("/v1/ask", json={"question": PASSWORD}, headers=AGENT).json()["escalation_id"]

    asked = [(mine, other_customer), (staffs, CUSTOMER), ("esc_" + "0" * 32, CUSTOMER)]

    for escalation_id, headers in asked:
        error = assert_error(self_serve(client, escalation_id, headers), 404, "not_found")
        # One error, whoever owns the id: the same words and details, naming only the id that was sent.
        assert error["message"] == f"no escalation {escalation_id}"
        assert error["details"] == [{"escalation_id": escalation_id}]
    assert client.get(f"/v1/escalations/{mine}", headers=AGENT).json()["escalation"]["state"] == "escalated"
    assert audit_actions(client, mine) == []


def test_staff_keys_may_not_take_the_customers_action(client: TestClient) -> None:
    escalation_id = escalate(client)

    assert_error(self_serve(client, escalation_id, AGENT), 403, "forbidden")
    assert client.get(f"/v1/escalations/{escalation_id}", headers=AGENT).json()["escalation"]["state"] == "escalated"


@pytest.mark.parametrize(("page", "status"), [("doc:articles/unrelated", 422), ("", 422), (7, 422), ("other", 200)])
def test_the_page_is_a_suggested_one_or_other(client: TestClient, page: Any, status: int) -> None:
    response = self_serve(client, escalate(client), page=page)

    if status == 422:
        assert_error(response, 422, "validation_failed")
    else:
        assert response.json()["page"] == "other"


def test_once_an_agent_started_the_customer_is_told_it_is_with_a_person(client: TestClient) -> None:
    escalation_id = escalate(client)
    for action in ("claim", "start"):
        assert client.post(f"/v1/escalations/{escalation_id}/{action}", headers=AGENT).status_code == 200

    error = assert_error(self_serve(client, escalation_id), 409, "invalid_transition")

    assert error["details"] == [{"escalation_id": escalation_id, "state": "started"}]
    assert client.get(f"/v1/escalations/{escalation_id}", headers=AGENT).json()["escalation"]["state"] == "started"


def test_staff_see_deflections_in_the_lists_stats_and_metrics(client: TestClient) -> None:
    solved, elsewhere, still_open = escalate(client), escalate(client), escalate(client)
    self_serve(client, solved)
    self_serve(client, elsewhere, page="other")
    self_serve(client, solved)  # a repeat counts nowhere

    def listed(query: str) -> set[str]:
        return {e["id"] for e in client.get(f"/v1/escalations?{query}", headers=AGENT).json()}

    assert listed("state=self_served") == {solved, elsewhere}
    assert listed("open=true") == {still_open}
    stats = client.get("/v1/stats", headers=AGENT).json()
    assert (stats["escalations"], stats["self_served"], stats["self_served_suggested"]) == (3, 2, 1)
    assert stats["self_served_rate"] == pytest.approx(2 / 3)
    assert stats["time_to_self_serve"]["count"] == 2
    samples = {
        (s.name, s.labels.get("page")): s.value
        for family in text_string_to_metric_families(client.get("/metrics").text)
        for s in family.samples
        if s.name == "deflect_self_served_total"
    }
    assert samples == {("deflect_self_served_total", "suggested"): 1.0, ("deflect_self_served_total", "other"): 1.0}
