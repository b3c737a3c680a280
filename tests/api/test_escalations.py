"""The escalation side of the HTTP API over the fake-backed service: hand-off, packet, workflow, audit and stats."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from conftest import CANARY, FAKE_CALIBRATION
from deflect.api import create_app
from deflect.config import DEV_ADMIN_KEY, DEV_AGENT_KEY, DEV_CUSTOMER_KEY, Settings
from deflect.domain.escalation import Priority, State
from deflect.policy.loader import load_policy
from deflect.service import DeflectService
from deflect.testing import HashEmbedder, InMemoryIndex
from deflect.testing.store import InMemoryStore
from deflect.testing.store_contract import T0, make_escalation
from deflect.wiring import assemble

CUSTOMER = {"Authorization": f"Bearer {DEV_CUSTOMER_KEY}"}
AGENT = {"Authorization": f"Bearer {DEV_AGENT_KEY}", "X-Actor": "agent-ana"}
ADMIN = {"Authorization": f"Bearer {DEV_ADMIN_KEY}", "X-Actor": "admin-ada"}

ANSWERABLE = "How do I reset my password?"
UNANSWERABLE = "What is the weather on Mars tomorrow?"
CHECKLIST_KEYS = ["error_message", "steps_to_reproduce", "environment", "already_tried", "impact", "previous_contact"]
KB_REASONS = {"low_confidence", "no_relevant_source", "no_answer_text", "unknown_name"}

# Public articles that answer the two risk questions word for word, so the KB is confident and only the risk
# topic can be what escalates them.
ARTICLE_REFUNDS = """---
title: Charged twice and refunds
url: https://help.example/billing/refunds
audience: public
product: billing
tags: [refund, charge]
updated: 2026-02-01
---
# Charged twice and refunds

## I was charged twice and I want a refund

If you were charged twice, the second charge is refunded automatically within 5 business days.
"""
ARTICLE_HACKED = """---
title: Someone hacked our account
url: https://help.example/accounts/hacked
audience: public
product: accounts
tags: [security]
updated: 2026-02-01
---
# Someone hacked our account

## Someone hacked our account and changed the password

If someone hacked your account and changed the password, reset the password and sign out every session.
"""
RISK_QUESTIONS = [
    ("I was charged twice and I want a refund", "risk_topic:billing_dispute"),
    ("someone hacked our account and changed the password", "risk_topic:security"),
]


@pytest.fixture
def client(settings: Settings, service: DeflectService) -> TestClient:
    return TestClient(create_app(settings, service))


@pytest.fixture
def risk_client(settings: Settings, make_service: Callable[..., DeflectService]) -> TestClient:
    """The tiny KB plus articles that answer the risk questions confidently."""
    (settings.kb_dir / "articles" / "refunds.md").write_text(ARTICLE_REFUNDS, encoding="utf-8")
    (settings.kb_dir / "articles" / "hacked.md").write_text(ARTICLE_HACKED, encoding="utf-8")
    return TestClient(create_app(settings, make_service()))


def ask(client: TestClient, question: str, headers: dict[str, str] = CUSTOMER, **fields: Any) -> dict[str, Any]:
    response = client.post("/v1/ask", json={"question": question, **fields}, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def escalate(client: TestClient, question: str = UNANSWERABLE, **fields: Any) -> dict[str, Any]:
    body = ask(client, question, **fields)
    assert body["decision"] == "escalate"
    assert body["escalation_id"]
    return body


def packet(client: TestClient, escalation_id: str) -> dict[str, Any]:
    response = client.get(f"/v1/escalations/{escalation_id}", headers=AGENT)
    assert response.status_code == 200, response.text
    escalation: dict[str, Any] = response.json()["escalation"]
    return escalation


def act(client: TestClient, escalation_id: str, action: str, headers: Mapping[str, str] = AGENT, **body: str) -> Any:
    return client.post(f"/v1/escalations/{escalation_id}/{action}", json=body or None, headers=headers)


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    """The single error shape with the expected status and code; the error object."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    error: dict[str, Any] = body["error"]
    return error


# --- the hand-off to the asker -----------------------------------------------------------------------------------


def test_an_unanswerable_customer_question_escalates_with_a_handoff_message(client: TestClient) -> None:
    body = escalate(client)

    assert body["escalation_id"].startswith("esc_")
    assert body["priority"] in {"critical", "high", "medium", "low"}
    assert body["citations"] == []
    assert body["draft_answer"] is None
    assert set(body["reasons"]) <= KB_REASONS
    # The hand-off names the reference and promises a reply time taken from the SLA.
    assert body["escalation_id"] in body["answer"]
    assert re.search(r"within \d+ (minute|hour|day)s?\b", body["answer"]), body["answer"]


def test_the_promised_response_time_follows_the_priority(client: TestClient) -> None:
    kb_only = escalate(client)
    risky = escalate(client, "someone hacked our account and changed the password")

    # config/escalation.yaml: low acknowledges within 8 hours, high within 1 hour.
    assert kb_only["priority"] == "low"
    assert "within 8 hours" in kb_only["answer"]
    assert risky["priority"] == "high"
    assert "within 1 hour" in risky["answer"]


def test_an_answered_question_creates_no_escalation(client: TestClient) -> None:
    body = ask(client, ANSWERABLE)

    assert body["decision"] == "answer"
    assert body["escalation_id"] is None
    assert body["priority"] is None
    assert client.get("/v1/escalations", headers=AGENT).json() == []


# --- the packet ------------------------------------------------------------------------------------------------


def test_the_escalation_packet_is_retrievable_with_an_agent_key(client: TestClient) -> None:
    asked = escalate(client, customer_id="cust-1")

    response = client.get(f"/v1/escalations/{asked['escalation_id']}", headers=AGENT)

    assert response.status_code == 200
    view = response.json()
    assert set(view) == {"escalation", "sla", "briefing", "knowledge"}
    esc = view["escalation"]
    assert esc["id"] == asked["escalation_id"]
    assert esc["answer_id"] == asked["id"]
    assert esc["question"] == UNANSWERABLE
    assert esc["audience"] == "customer"
    # A customer key's body only claims an identity: recorded, not trusted (tests/api/test_trust.py).
    assert esc["customer_id"] is None
    assert esc["claimed_customer"] == {"id": "cust-1"}
    assert esc["reasons"] == asked["reasons"]
    assert esc["priority"] == asked["priority"]
    assert esc["tier"] == "tier1"
    assert esc["state"] == "escalated"
    assert esc["assignee"] is None
    # Every source that was searched, in rank order, with its score; nothing was shown to the asker.
    assert [s["source_id"] for s in esc["sources"]] == asked["retrieved"]
    assert esc["sources"], "the sources searched must be in the packet"
    for source in esc["sources"]:
        assert isinstance(source["score"], float)
        assert source["title"]
        assert source["shown"] is False
    scores = [s["score"] for s in esc["sources"]]
    assert scores == sorted(scores, reverse=True)
    # Low priority: acknowledge within 8 hours, resolve within 72 (config/escalation.yaml).
    assert esc["sla"]["acknowledge_within_s"] == 8 * 3600
    assert esc["sla"]["resolve_within_s"] == 72 * 3600
    assert esc["sla"]["acknowledged_at"] is None
    # The question says nothing the checklist could use: every item is there and marked missing.
    assert [item["key"] for item in esc["checklist"]] == CHECKLIST_KEYS
    assert all(item["value"] is None for item in esc["checklist"])
    assert set(esc["timestamps"]) == {"created", "escalated"}
    assert esc["timestamps"]["created"] == esc["created_at"]
    assert view["sla"]["acknowledged"] is False
    assert view["sla"]["resolve_breached"] is False
    assert asked["escalation_id"] in view["briefing"]
    assert UNANSWERABLE in view["briefing"]
    assert "MISSING" in view["briefing"]


def test_the_checklist_fills_what_the_customer_said(client: TestClient) -> None:
    question = "The export fails with error E1042 on version 3.2"
    asked = escalate(client, question)

    checklist = {item["key"]: item["value"] for item in packet(client, asked["escalation_id"])["checklist"]}

    assert checklist["error_message"] is not None and "E1042" in checklist["error_message"]
    assert checklist["steps_to_reproduce"] is None


def test_listing_filters_by_state(client: TestClient) -> None:
    first = escalate(client)["escalation_id"]
    second = escalate(client, "Where can I buy a pony?")["escalation_id"]
    for action in ("claim", "start"):
        assert act(client, first, action).status_code == 200

    everything = client.get("/v1/escalations", headers=AGENT).json()
    waiting = client.get("/v1/escalations", params={"state": "escalated"}, headers=AGENT).json()
    started = client.get("/v1/escalations", params={"state": "started"}, headers=AGENT).json()

    assert {e["id"] for e in everything} == {first, second}
    assert [e["id"] for e in waiting] == [second]
    assert [e["id"] for e in started] == [first]


def test_the_open_queue_by_priority_shows_older_urgent_escalations_first_and_pages_through_all(
    client: TestClient, service: DeflectService
) -> None:
    # The walkthrough's queue: older high and medium escalations behind many newer low ones, and one resolved.
    older = [
        ("ESC-high-billing", Priority.HIGH, 0),
        ("ESC-high-data", Priority.HIGH, 1),
        ("ESC-medium", Priority.MEDIUM, 2),
    ]
    newer = [(f"ESC-low-{i:02d}", Priority.LOW, 10 + i) for i in range(22)]
    for escalation_id, priority, minutes in [*older, *newer]:
        service.desk.store.create(make_escalation(escalation_id, T0 + timedelta(minutes=minutes), priority=priority))
    service.desk.store.create(make_escalation("ESC-done", T0, priority=Priority.HIGH, state=State.RESOLVED))

    newest = client.get("/v1/escalations", params={"open": "true", "limit": 20}, headers=AGENT)
    first = client.get("/v1/escalations", params={"open": "true", "order": "priority", "limit": 20}, headers=AGENT)
    rest = client.get(
        "/v1/escalations", params={"open": "true", "order": "priority", "limit": 20, "offset": 20}, headers=AGENT
    )

    assert "ESC-high-billing" not in {e["id"] for e in newest.json()}  # the default order is unchanged: newest
    assert newest.headers["X-Total-Count"] == first.headers["X-Total-Count"] == rest.headers["X-Total-Count"] == "25"
    ids = [e["id"] for e in first.json()] + [e["id"] for e in rest.json()]
    assert ids[:3] == ["ESC-high-billing", "ESC-high-data", "ESC-medium"]
    assert len(first.json()) == 20 and sorted(ids) == sorted(i for i, _, _ in [*older, *newer])


@pytest.mark.parametrize("params", [{"order": "oldest"}, {"offset": -1}, {"offset": 100_001}])
def test_a_bad_order_or_offset_is_422(client: TestClient, params: dict[str, Any]) -> None:
    assert_error(client.get("/v1/escalations", params=params, headers=AGENT), 422, "validation_failed")


def test_listing_open_escalations_leaves_out_resolved_ones(client: TestClient) -> None:
    done = escalate(client)["escalation_id"]
    still_open = escalate(client, "Where can I buy a pony?")["escalation_id"]
    for action in ("claim", "start"):
        assert act(client, done, action).status_code == 200
    assert (
        client.post(
            f"/v1/escalations/{done}/resolve", json={"resolution": "Pointed them to the pony shop."}, headers=AGENT
        ).status_code
        == 200
    )
    assert act(client, still_open, "claim").status_code == 200

    open_ids = [e["id"] for e in client.get("/v1/escalations", params={"open": "true"}, headers=AGENT).json()]

    assert open_ids == [still_open]
    both = client.get("/v1/escalations", params={"open": "true", "state": "claimed"}, headers=AGENT)
    assert_error(both, 422, "validation_failed")


# --- who may call what -----------------------------------------------------------------------------------------

STAFF_ROUTES = [
    ("get", "/v1/escalations"),
    ("get", "/v1/escalations/{id}"),
    ("post", "/v1/escalations/{id}/claim"),
    ("post", "/v1/escalations/{id}/start"),
    ("post", "/v1/escalations/{id}/update"),
    ("post", "/v1/escalations/{id}/wait"),
    ("post", "/v1/escalations/{id}/resume"),
    ("post", "/v1/escalations/{id}/bounce"),
    ("post", "/v1/escalations/{id}/resolve"),
    ("post", "/v1/escalations/sweep"),
    ("get", "/v1/escalations/{id}/audit"),
    ("get", "/v1/audit?escalation_id={id}"),
    ("get", "/v1/audit/export"),
    ("get", "/v1/stats"),
]
ROUTE_IDS = [f"{method} {path}" for method, path in STAFF_ROUTES]


# A body each action would accept, so a refusal can only come from the key.
VALID_BODY = {"bounce": {"reason": "not ours"}, "resolve": {"resolution": "fixed"}, "update": {"note": "a note"}}


def call(client: TestClient, method: str, path: str, headers: dict[str, str]) -> Any:
    if method == "post":
        return client.post(path, json=VALID_BODY.get(path.rsplit("/", 1)[-1]), headers=headers)
    return client.get(path, headers=headers)


@pytest.mark.parametrize(("method", "path"), STAFF_ROUTES, ids=ROUTE_IDS)
def test_a_customer_key_is_forbidden_on_every_workflow_audit_and_stats_route(
    client: TestClient, method: str, path: str
) -> None:
    escalation_id = escalate(client)["escalation_id"]

    response = call(client, method, path.format(id=escalation_id), CUSTOMER)

    assert_error(response, 403, "forbidden")
    stored = packet(client, escalation_id)
    assert stored["state"] == "escalated"
    assert stored["assignee"] is None


@pytest.mark.parametrize(("method", "path"), STAFF_ROUTES, ids=ROUTE_IDS)
@pytest.mark.parametrize("headers", [{"Authorization": "Bearer not-a-key"}, {}], ids=["unknown", "missing"])
def test_an_unknown_or_missing_key_is_401(client: TestClient, method: str, path: str, headers: dict[str, str]) -> None:
    escalation_id = escalate(client)["escalation_id"]

    response = call(client, method, path.format(id=escalation_id), headers)

    assert_error(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert packet(client, escalation_id)["state"] == "escalated"


def test_an_unknown_x_api_key_is_401(client: TestClient) -> None:
    assert_error(client.get("/v1/escalations", headers={"X-API-Key": "not-a-key"}), 401, "unauthorized")


def test_an_admin_key_may_work_escalations(client: TestClient) -> None:
    escalation_id = escalate(client)["escalation_id"]

    response = act(client, escalation_id, "claim", headers=ADMIN)

    assert response.status_code == 200
    assert response.json()["assignee"] == "admin-ada"


# --- the lifecycle ---------------------------------------------------------------------------------------------


def test_the_full_lifecycle_through_the_api(client: TestClient) -> None:
    escalation_id = escalate(client)["escalation_id"]

    claimed = act(client, escalation_id, "claim", note="mine")
    assert claimed.status_code == 200, claimed.text
    claimed_body = claimed.json()
    assert claimed_body["state"] == "claimed"
    assert claimed_body["assignee"] == "agent-ana"
    assert claimed_body["sla"]["acknowledged_at"] == claimed_body["timestamps"]["claimed"]

    started = act(client, escalation_id, "start").json()
    assert started["state"] == "started"

    waiting = act(client, escalation_id, "wait", note="asked for a screenshot").json()
    assert waiting["state"] == "waiting_on_customer"
    assert waiting["sla"]["paused_at"] == waiting["timestamps"]["waiting_on_customer"]

    resumed = act(client, escalation_id, "resume").json()
    assert resumed["state"] == "started"
    assert resumed["sla"]["paused_at"] is None
    assert resumed["sla"]["paused_total_s"] >= 0

    resolved = act(client, escalation_id, "resolve", resolution="Mars has no forecast; told the customer.")
    assert resolved.status_code == 200, resolved.text
    final = resolved.json()["escalation"]
    assert final["state"] == "resolved"
    assert final["resolution"] == "Mars has no forecast; told the customer."
    assert final["sla"]["resolved_at"] == final["timestamps"]["resolved"]
    assert set(final["timestamps"]) == {
        "created",
        "escalated",
        "claimed",
        "started",
        "waiting_on_customer",
        "resolved",
    }
    ordered = [final["timestamps"][s] for s in ("created", "escalated", "claimed", "waiting_on_customer", "resolved")]
    assert ordered == sorted(ordered)
    # The stored packet is what the last response said.
    assert packet(client, escalation_id) == final


def test_an_update_adds_a_note_and_changes_no_state(client: TestClient) -> None:
    escalation_id = escalate(client)["escalation_id"]

    response = act(client, escalation_id, "update", note="looked at the logs")

    assert response.status_code == 200
    assert response.json()["state"] == "escalated"
    trail = client.get(f"/v1/escalations/{escalation_id}/audit", headers=AGENT).json()
    assert trail[-1]["action"] == "update"
    assert trail[-1]["data"]["note"] == "looked at the logs"


def test_bounce_with_a_reason_sends_it_back_to_the_queue(client: TestClient) -> None:
    escalation_id = escalate(client)["escalation_id"]
    act(client, escalation_id, "claim")

    response = act(client, escalation_id, "bounce", reason="billing owns this")

    assert response.status_code == 200
    body = response.json()
    assert body["state"] == "bounced_back"
    assert body["bounce_reason"] == "billing owns this"
    assert body["assignee"] is None
    assert "bounced_back" in body["timestamps"]


@pytest.mark.parametrize(
    ("setup", "action", "body"),
    [
        ([], "resolve", {"resolution": "done"}),
        ([], "start", {}),
        ([], "wait", {}),
        ([], "resume", {}),
        (["claim", "start"], "claim", {}),
        (["claim", "start", ("resolve", "fixed")], "claim", {}),
        (["claim", "start", ("resolve", "fixed")], "update", {"note": "one more thing"}),
    ],
    ids=[
        "resolve-before-claim",
        "start-before-claim",
        "wait-before-start",
        "resume-while-not-waiting",
        "claim-twice",
        "claim-after-resolve",
        "update-after-resolve",
    ],
)
def test_an_illegal_transition_is_409_and_changes_nothing(
    client: TestClient, setup: list[Any], action: str, body: dict[str, str]
) -> None:
    escalation_id = escalate(client)["escalation_id"]
    for step in setup:
        name, extra = (step[0], {"resolution": step[1]}) if isinstance(step, tuple) else (step, {})
        assert act(client, escalation_id, name, **extra).status_code == 200
    before = packet(client, escalation_id)
    trail_before = client.get(f"/v1/escalations/{escalation_id}/audit", headers=AGENT).json()

    response = client.post(f"/v1/escalations/{escalation_id}/{action}", json=body or None, headers=AGENT)

    error = assert_error(response, 409, "invalid_transition")
    assert f"cannot {action}" in error["message"]
    assert error["details"][0]["state"] == before["state"]
    assert error["details"][0]["action"] == action
    assert packet(client, escalation_id) == before
    assert client.get(f"/v1/escalations/{escalation_id}/audit", headers=AGENT).json() == trail_before


def test_an_escalation_claimed_by_someone_else_is_theirs_until_taken_over(client: TestClient) -> None:
    escalation_id = escalate(client)["escalation_id"]
    bob, alice = {**AGENT, "X-Actor": "agent-bob"}, {**AGENT, "X-Actor": "agent-alice"}
    assert act(client, escalation_id, "claim", headers=bob).status_code == 200

    claim = act(client, escalation_id, "claim", headers=alice)
    start = act(client, escalation_id, "start", headers=alice)
    resolve = client.post(f"/v1/escalations/{escalation_id}/resolve", json={"resolution": "done"}, headers=alice)

    assert "held by agent-bob" in assert_error(claim, 409, "invalid_transition")["message"]
    assert "start" not in assert_error(claim, 409, "invalid_transition")["details"][0]["allowed"]
    for refused in (start, resolve):
        error = assert_error(refused, 409, "invalid_transition")
        assert "held by agent-bob" in error["message"] and "takeover" in error["message"]
        assert error["details"][0]["assignee"] == "agent-bob"
    assert (
        packet(client, escalation_id)["state"] == "claimed" and packet(client, escalation_id)["assignee"] == "agent-bob"
    )
    # The explicit way: a takeover with a reason, audited with whose it was; then it is Alice's to work.
    assert_error(act(client, escalation_id, "takeover", headers=alice), 422, "validation_failed")
    taken = act(client, escalation_id, "takeover", headers=alice, reason="Bob is on leave")
    assert taken.status_code == 200 and taken.json()["assignee"] == "agent-alice"
    assert act(client, escalation_id, "start", headers=alice).status_code == 200
    assert_error(act(client, escalation_id, "wait", headers=bob), 409, "invalid_transition")
    done = client.post(f"/v1/escalations/{escalation_id}/resolve", json={"resolution": "done"}, headers=alice)
    assert done.status_code == 200 and done.json()["escalation"]["assignee"] == "agent-alice"
    takeover = [
        e
        for e in client.get(f"/v1/escalations/{escalation_id}/audit", headers=AGENT).json()
        if e["action"] == "takeover"
    ]
    assert [(e["actor"], e["data"]["previous_assignee"], e["data"]["reason"]) for e in takeover] == [
        ("agent-alice", "agent-bob", "Bob is on leave")
    ]


@pytest.mark.parametrize(
    ("action", "body", "field"),
    [
        ("bounce", {}, "reason"),
        ("bounce", {"reason": "   "}, "reason"),
        ("resolve", {"resolution": ""}, "resolution"),
        ("update", {}, "note"),
    ],
    ids=["bounce-no-reason", "bounce-blank-reason", "resolve-empty-resolution", "update-no-note"],
)
def test_an_action_without_its_required_text_is_422(
    client: TestClient, action: str, body: dict[str, str], field: str
) -> None:
    escalation_id = escalate(client)["escalation_id"]
    act(client, escalation_id, "claim")
    act(client, escalation_id, "start")

    response = client.post(f"/v1/escalations/{escalation_id}/{action}", json=body or None, headers=AGENT)

    error = assert_error(response, 422, "validation_failed")

    assert any(d.get("field") == field for d in error["details"])
    assert packet(client, escalation_id)["state"] == "started"


def test_an_unknown_action_is_404_and_the_audit_route_is_not_shadowed(client: TestClient) -> None:
    escalation_id = escalate(client)["escalation_id"]

    assert_error(act(client, escalation_id, "delete"), 404, "not_found")  # each action is its own route
    assert_error(act(client, escalation_id, "audit"), 405, "method_not_allowed")  # GET .../audit exists
    assert packet(client, escalation_id)["state"] == "escalated"


def test_an_extra_body_field_is_422(client: TestClient) -> None:
    escalation_id = escalate(client)["escalation_id"]

    response = client.post(
        f"/v1/escalations/{escalation_id}/claim", json={"note": "x", "assignee": "someone-else"}, headers=AGENT
    )

    error = assert_error(response, 422, "validation_failed")
    assert any(d["field"] == "assignee" for d in error["details"])
    assert packet(client, escalation_id)["state"] == "escalated"


def test_a_text_the_action_does_not_take_is_422(client: TestClient) -> None:
    escalation_id = escalate(client)["escalation_id"]

    error = assert_error(act(client, escalation_id, "claim", resolution="nope"), 422, "validation_failed")

    assert any(d.get("field") == "resolution" for d in error["details"])


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/v1/escalations/esc_nope"),
        ("post", "/v1/escalations/esc_nope/claim"),
        ("get", "/v1/escalations/esc_nope/audit"),
    ],
    ids=["get", "act", "audit"],
)
def test_an_unknown_escalation_id_is_404(client: TestClient, method: str, path: str) -> None:
    error = assert_error(call(client, method, path, AGENT), 404, "not_found")

    assert "esc_nope" in error["message"]


# --- the audit log ---------------------------------------------------------------------------------------------


def test_the_audit_trail_lists_the_decision_the_creation_and_every_action_in_order(client: TestClient) -> None:
    asked = escalate(client)
    escalation_id = asked["escalation_id"]
    steps = [
        ("claim", {"X-Actor": "agent-ana"}, {}),
        ("start", {"X-Actor": "agent-ana"}, {}),
        ("takeover", {"X-Actor": "agent-bo"}, {"reason": "ana is off today"}),
        ("wait", {"X-Actor": "agent-bo"}, {"note": "asked for logs"}),
        ("resume", {"X-Actor": "agent-bo"}, {}),
        ("takeover", {"X-Actor": "agent-cy"}, {"reason": "night shift"}),
        ("resolve", {"X-Actor": "agent-cy"}, {"resolution": "explained"}),
    ]
    for action, actor, body in steps:
        response = act(client, escalation_id, action, headers={**AGENT, **actor}, **body)
        assert response.status_code == 200, response.text

    full = client.get(f"/v1/escalations/{escalation_id}/audit", headers=AGENT).json()
    # Resolving may append its own follow-up records (the knowledge loop); the workflow comes first.
    trail, follow_ups = full[: 2 + len(steps)], full[2 + len(steps) :]

    assert [e["kind"] for e in trail] == ["decision", "escalation_created"] + ["action"] * len(steps)
    assert [e["action"] for e in trail[2:]] == [action for action, _, _ in steps]
    assert [e["actor"] for e in trail] == ["deflect", "deflect"] + [actor["X-Actor"] for _, actor, _ in steps]
    assert all(e["escalation_id"] == escalation_id for e in full)
    assert all(e["answer_id"] == asked["id"] for e in full)
    assert all(e["actor"] == "agent-cy" and "to" not in e["data"] for e in follow_ups)
    assert [(e["data"]["from"], e["data"]["to"]) for e in trail[2:]] == [
        ("escalated", "claimed"),
        ("claimed", "started"),
        ("started", "started"),
        ("started", "waiting_on_customer"),
        ("waiting_on_customer", "started"),
        ("started", "started"),
        ("started", "resolved"),
    ]
    takeovers = [e["data"] for e in trail if e["action"] == "takeover"]
    assert [(d["previous_assignee"], d["reason"]) for d in takeovers] == [
        ("agent-ana", "ana is off today"),
        ("agent-bo", "night shift"),
    ]
    assert trail[-1]["data"]["resolution"] == "explained"
    ids = [e["id"] for e in full]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    times = [e["at"] for e in full]
    assert times == sorted(times)
    # The same trail through the query endpoint.
    assert client.get("/v1/audit", params={"escalation_id": escalation_id}, headers=AGENT).json() == full


def test_the_actor_defaults_to_the_role_and_key_prefix(client: TestClient) -> None:
    escalation_id = escalate(client)["escalation_id"]

    act(client, escalation_id, "claim", headers={"Authorization": f"Bearer {DEV_AGENT_KEY}"})

    trail = client.get(f"/v1/escalations/{escalation_id}/audit", headers=AGENT).json()
    assert trail[-1]["actor"] == f"agent:{DEV_AGENT_KEY[:4]}"


def test_the_audit_of_an_answered_question_is_its_decision(settings: Settings, client: TestClient) -> None:
    answered = ask(client, ANSWERABLE)
    assert answered["decision"] == "answer"

    response = client.get("/v1/audit", params={"answer_id": answered["id"]}, headers=AGENT)

    assert response.status_code == 200
    events = response.json()
    assert len(events) == 1
    event = events[0]
    assert event["kind"] == "decision"
    assert event["actor"] == "deflect"
    assert event["answer_id"] == answered["id"]
    assert event["escalation_id"] is None
    data = event["data"]
    assert data["decision"] == "answer"
    assert data["question"] == ANSWERABLE
    assert data["audience"] == "customer"
    assert data["confidence"] == answered["confidence"]
    assert data["reasons"] == []
    assert [s["source_id"] for s in data["sources"]] == answered["retrieved"]
    assert all(isinstance(s["score"], float) for s in data["sources"])
    assert data["cited"] == [c["source_id"] for c in answered["citations"]]
    assert data["policy_version"] == load_policy(settings.policy_file).version


def test_the_decision_audit_keeps_every_input_the_triggers_read(client: TestClient) -> None:
    history = ["Hi there", "I have a question"]
    # An agent asking on the customer's behalf: the identity is trusted.
    answered = ask(client, ANSWERABLE, AGENT, conversation=history, customer_id="cust-5", customer_tier="business")
    escalate(client, customer_id="cust-5", headers=AGENT)
    again = escalate(client, customer_id="cust-5", headers=AGENT)

    answer_data = client.get("/v1/audit", params={"answer_id": answered["id"]}, headers=AGENT).json()[0]["data"]
    repeat_data = client.get("/v1/audit", params={"answer_id": again["id"]}, headers=AGENT).json()[0]["data"]

    assert answer_data["conversation"] == history
    assert answer_data["customer_id"] == "cust-5"
    assert answer_data["customer_tier"] == "business"
    assert answer_data["recent_similar_contacts"] == 0
    assert repeat_data["recent_similar_contacts"] >= 1
    assert "repeat_contact" in repeat_data["reasons"]


def test_an_audit_query_for_an_unknown_answer_is_empty(client: TestClient) -> None:
    ask(client, ANSWERABLE)

    response = client.get("/v1/audit", params={"answer_id": "ans_nope"}, headers=AGENT)

    assert response.status_code == 200
    assert response.json() == []


def test_the_audit_export_is_jsonl_for_admins_only(client: TestClient) -> None:
    answered = ask(client, ANSWERABLE)
    escalation_id = escalate(client)["escalation_id"]
    act(client, escalation_id, "claim")

    forbidden = client.get("/v1/audit/export", headers=AGENT)
    response = client.get("/v1/audit/export", headers=ADMIN)

    assert_error(forbidden, 403, "forbidden")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-ndjson")
    lines = response.text.splitlines()
    events = [json.loads(line) for line in lines]
    assert [(e["kind"], e["action"]) for e in events] == [
        ("decision", None),
        ("decision", None),
        ("escalation_created", None),
        ("action", "claim"),
    ]
    assert events[0]["answer_id"] == answered["id"]
    assert {e["escalation_id"] for e in events[1:]} == {escalation_id}
    assert response.text.endswith("\n")


# --- stats -----------------------------------------------------------------------------------------------------


def test_stats_count_the_asks_made(client: TestClient) -> None:
    ask(client, ANSWERABLE)
    escalated = [escalate(client)["escalation_id"], escalate(client, "Where can I buy a pony?")["escalation_id"]]
    act(client, escalated[0], "claim")
    act(client, escalated[0], "bounce", reason="not ours")

    response = client.get("/v1/stats", headers=AGENT)

    assert response.status_code == 200
    stats = response.json()
    assert stats["decisions"] == 3
    assert stats["escalations"] == 2
    assert stats["escalation_rate"] == pytest.approx(2 / 3)
    assert stats["handoff_delay"]["count"] == 1
    assert stats["time_to_escalate"]["count"] == 2
    assert stats["bounce_back_rate"] == pytest.approx(1 / 2)
    assert stats["sla_breaches"] == 0
    assert stats["repeat_issue_rate"] is None  # no asker gave a customer id


def test_stats_with_nothing_asked_have_no_rates(client: TestClient) -> None:
    stats = client.get("/v1/stats", headers=ADMIN).json()

    assert stats["decisions"] == stats["escalations"] == 0
    assert stats["escalation_rate"] is None
    assert stats["sla_breach_rate"] is None


# --- triggers through the API ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("question", "reason"), RISK_QUESTIONS, ids=["billing-dispute", "security"])
def test_a_risk_topic_escalates_a_confident_answer_and_drafts_it_for_agents_only(
    risk_client: TestClient, question: str, reason: str
) -> None:
    customer = escalate(risk_client, question)
    agent = ask(risk_client, question, headers=AGENT)

    # The KB is confident: the risk topic alone escalates.
    assert customer["reasons"] == [reason]
    assert customer["confidence"] >= 0.5  # the fake calibration's threshold
    assert customer["priority"] == "high"
    assert customer["citations"] == []
    # The asker never sees the draft; the agent who picks the packet up does.
    assert customer["draft_answer"] is None
    customer_packet = packet(risk_client, customer["escalation_id"])
    assert customer_packet["draft_answer"]
    assert customer_packet["draft_answer"] not in customer["answer"]

    assert agent["decision"] == "escalate"
    assert agent["reasons"] == [reason]
    assert agent["escalation_id"]
    assert agent["draft_answer"], "an agent gets the confident KB answer as a draft"
    assert agent["citations"] == []
    view = risk_client.get(f"/v1/escalations/{agent['escalation_id']}", headers=AGENT).json()
    assert view["escalation"]["draft_answer"] == agent["draft_answer"]
    assert "Draft answer" in view["briefing"]
    # The briefing indents the draft; every line of it is there (answers are Markdown passages of several lines).
    for line in agent["draft_answer"].split("[")[0].strip().splitlines():
        assert line.strip() in view["briefing"]


@pytest.mark.parametrize(("question", "reason"), RISK_QUESTIONS, ids=["billing-dispute", "security"])
def test_a_risk_topic_escalates_without_a_kb_answer_too(client: TestClient, question: str, reason: str) -> None:
    customer = escalate(client, question)
    agent = ask(client, question, headers=AGENT)

    assert reason in customer["reasons"]
    assert reason in agent["reasons"]
    # No confident KB answer: never a draft for the asking customer, and never a confident one for an agent (when
    # low confidence was all that was wrong, the agent gets what the KB says, marked as under the threshold).
    assert customer["draft_answer"] is None
    assert agent["draft_answer"] is None or agent["draft_below_threshold"]
    assert not customer["draft_below_threshold"]


@pytest.fixture
def unsure_client(settings: Settings) -> TestClient:
    """The tiny KB with an answer threshold no answer reaches: every relevant answer is escalated for low
    confidence alone (as on a manual whose own calibration vouches for nothing)."""
    strict = settings.model_copy(update={"confidence_threshold": 0.999})
    svc = assemble(strict, InMemoryIndex(), HashEmbedder(), calibration=FAKE_CALIBRATION, store=InMemoryStore())
    svc.ingest([strict.kb_dir], strict.kb_dir)
    return TestClient(create_app(strict, svc))


def test_low_confidence_alone_gives_the_agent_what_the_kb_says_as_a_draft_marked_below_the_threshold(
    unsure_client: TestClient,
) -> None:
    agent = ask(unsure_client, ANSWERABLE, headers=AGENT)

    assert agent["decision"] == "escalate"
    assert agent["reasons"] == ["low_confidence"]
    assert agent["citations"] == []  # nothing is answered
    assert agent["draft_answer"] and agent["draft_below_threshold"] is True
    markers = {int(n) for n in re.findall(r"\[(\d+)\]", agent["draft_answer"])}
    assert markers and markers <= {c["n"] for c in agent["draft_citations"]}
    assert all(c["source_id"] and c["title"] for c in agent["draft_citations"])
    assert packet(unsure_client, agent["escalation_id"])["draft_answer"] == agent["draft_answer"]


def test_low_confidence_alone_never_shows_the_customer_a_draft_but_keeps_it_for_the_agent(
    unsure_client: TestClient,
) -> None:
    customer = escalate(unsure_client, ANSWERABLE)

    assert customer["reasons"] == ["low_confidence"]
    assert customer["draft_answer"] is None
    assert customer["draft_citations"] == []
    assert not customer["draft_below_threshold"]
    kept = packet(unsure_client, customer["escalation_id"])["draft_answer"]
    assert kept and kept not in customer["answer"]


# The internal runbook is an agent's best source for this; a customer's sources are public pages only.
CREDITS = "How do I apply account credits in the admin tool?"


def test_a_customer_escalated_for_low_confidence_alone_is_pointed_at_public_pages_never_internal_ones(
    unsure_client: TestClient,
) -> None:
    agent = ask(unsure_client, CREDITS, headers=AGENT)
    customer = escalate(unsure_client, CREDITS)

    assert agent["retrieved"][0] == "doc:internal/credits"  # the internal source is in the index and relevant
    assert customer["reasons"] == ["low_confidence"]
    assert customer["suggested"], "a public page about the question clears the floor"
    for page in customer["suggested"]:
        assert set(page) == {"source_id", "title", "url", "heading", "excerpt"}  # no snippet, no answer
        assert page["source_id"] in customer["retrieved"] and page["url"]
        assert not page["source_id"].startswith("doc:internal/") and page["source_id"] != "esc:ESC-2"
    # Only the first page is quoted (from itself alone: tests/test_service_excerpt.py), and the hand-off says so.
    first = customer["suggested"][0]
    assert first["excerpt"] and all(p["excerpt"] == "" for p in customer["suggested"][1:])
    assert CANARY not in json.dumps(customer)
    assert customer["answer"].endswith("a member of the team will still reply as promised.")
    stored = packet(unsure_client, customer["escalation_id"])
    assert [s["source_id"] for s in stored["sources"] if s["shown"]] == [p["source_id"] for p in customer["suggested"]]
    assert {s["source_id"]: s["excerpt"] for s in stored["sources"] if s["excerpt"]} == {
        first["source_id"]: first["excerpt"]
    }
    # Agents get none: they have the draft and the sources it cites.
    assert agent["suggested"] == []


def test_the_panels_escalation_view_carries_the_excerpt_the_customer_was_shown_and_only_then(
    unsure_client: TestClient,
) -> None:
    """The agent panel reads GET /v1/escalations/{id} (staff keys only) and shows `sources[].excerpt` (web/panel.js)."""
    quoted = escalate(unsure_client, CREDITS)
    unquoted = escalate(unsure_client, ANSWERABLE + " Please let me talk to a human.")  # no pages, no excerpt

    for headers in (AGENT, ADMIN):
        response = unsure_client.get(f"/v1/escalations/{quoted['escalation_id']}", headers=headers)
        assert response.status_code == 200, response.text
        sources = response.json()["escalation"]["sources"]
        first = quoted["suggested"][0]
        shown = [(s["source_id"], s["excerpt"]) for s in sources if s["excerpt"]]
        assert shown == [(first["source_id"], first["excerpt"])]
    assert all(s["excerpt"] == "" for s in packet(unsure_client, unquoted["escalation_id"])["sources"])
    refused = unsure_client.get(f"/v1/escalations/{quoted['escalation_id']}", headers=CUSTOMER)
    assert refused.status_code == 403 and set(refused.json()) == {"error"}


def test_no_pages_when_the_customer_asked_for_a_person(unsure_client: TestClient) -> None:
    body = escalate(unsure_client, ANSWERABLE + " Please let me talk to a human.")

    assert "human_requested" in body["reasons"]
    assert body["suggested"] == []
    assert "may help" not in body["answer"]


def test_no_draft_when_more_than_confidence_is_wrong_with_the_evidence(unsure_client: TestClient) -> None:
    agent = ask(unsure_client, UNANSWERABLE, headers=AGENT)

    # The weather on Mars: a name no source mentions (and nothing relevant), not just an unsure answer.
    assert {"no_relevant_source", "unknown_name"} & set(agent["reasons"])
    assert agent["draft_answer"] is None
    assert agent["draft_citations"] == []


def test_a_hard_negative_about_invoices_is_answered(client: TestClient) -> None:
    body = ask(client, "How do I download my invoice as a PDF?")

    assert body["decision"] == "answer"
    assert not any(r.startswith("risk_topic:") for r in body["reasons"])


def test_a_frustrated_conversation_adds_frustration(client: TestClient) -> None:
    history = ["my export is not working", "I tried again and it still fails"]

    body = escalate(
        client,
        "this is the third time I ask: my export is still not working",
        conversation=history,
        conversation_id="thread-7",
    )

    assert "frustration" in body["reasons"]
    esc = packet(client, body["escalation_id"])
    assert esc["conversation"] == history
    assert esc["conversation_id"] == "thread-7"
    assert "frustration" in esc["reasons"]


def test_frustration_reads_the_earlier_messages(client: TestClient) -> None:
    question = "my export is still not working"

    alone = escalate(client, question)
    calm_history = escalate(client, question, conversation=["Hello, I have a question about exports"])
    negative_history = escalate(client, question, conversation=["my export is not working", "it fails again"])

    assert "frustration" not in alone["reasons"]
    assert "frustration" not in calm_history["reasons"]
    assert "frustration" in negative_history["reasons"]


def test_the_same_customer_asking_the_same_thing_again_is_a_repeat_contact(
    settings: Settings, client: TestClient
) -> None:
    needed = load_policy(settings.policy_file).triggers.repeat_contact.min_recent_contacts

    earlier = [escalate(client, customer_id="cust-42", headers=AGENT) for _ in range(needed)]
    again = escalate(client, customer_id="cust-42", headers=AGENT)
    someone_else = escalate(client, customer_id="cust-7", headers=AGENT)
    unrelated = escalate(client, "Where can I buy a pony?", customer_id="cust-42", headers=AGENT)

    assert all("repeat_contact" not in e["reasons"] for e in earlier)
    assert "repeat_contact" in again["reasons"]
    assert "repeat_contact" in packet(client, again["escalation_id"])["reasons"]
    assert "repeat_contact" not in someone_else["reasons"]
    assert "repeat_contact" not in unrelated["reasons"]


def test_a_customer_tier_is_kept_and_sets_the_clocks(client: TestClient) -> None:
    body = escalate(client, customer_id="cust-v", customer_tier="VIP", headers=AGENT)  # on the customer's behalf

    esc = packet(client, body["escalation_id"])

    assert body["priority"] == "critical"  # a VIP account (config/escalation.yaml)
    assert esc["customer_tier"] == "vip"
    assert esc["sla"]["acknowledge_within_s"] == 5 * 60
    assert "within 5 minutes" in body["answer"]


# --- no escalation is lost -------------------------------------------------------------------------------------


class FailingCreateStore(InMemoryStore):
    """An InMemoryStore whose create fails, as a database that is down would."""

    def create(self, escalation: Any, events: Any = ()) -> None:
        raise OSError("disk full")


def test_a_store_failure_is_a_500_and_never_an_escalation_id(
    settings: Settings, make_service: Callable[..., DeflectService], tmp_path: Path
) -> None:
    store = FailingCreateStore()
    client = TestClient(create_app(settings, make_service(store=store)), raise_server_exceptions=False)

    response = client.post("/v1/ask", json={"question": UNANSWERABLE}, headers=CUSTOMER)

    assert_error(response, 500, "internal_error")
    assert "esc_" not in response.text
    assert store.list(limit=None) == []
    assert store.audit() == []


def test_what_agents_write_is_returned_and_exported_scrubbed(client: TestClient) -> None:
    escalation_id = escalate(client)["escalation_id"]
    act(client, escalation_id, "claim", note="mailed jane.doe@example.org")
    act(client, escalation_id, "bounce", reason="wrong team; she is on +1 415 555 0132")
    act(client, escalation_id, "claim")
    act(client, escalation_id, "start")
    resolution = "Spoke with Jane Doe (jane.doe@example.org, +1 415 555 0132); re-issued the licence."
    resolved = act(client, escalation_id, "resolve", resolution=resolution, note="called +1 415 555 0132")
    assert resolved.status_code == 200, resolved.text

    seen = [
        resolved.text,
        client.get(f"/v1/escalations/{escalation_id}", headers=AGENT).text,
        client.get(f"/v1/escalations/{escalation_id}/audit", headers=AGENT).text,
        client.get("/v1/audit/export", headers=ADMIN).text,
    ]
    assert not [text for text in seen if "jane.doe@example.org" in text or "555 0132" in text]
    final = packet(client, escalation_id)
    assert "[EMAIL]" in final["resolution"] and "[PHONE]" in final["bounce_reason"]
