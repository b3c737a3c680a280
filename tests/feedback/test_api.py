"""POST /v1/answers/{id}/feedback on a minimal app: only the feedback router, a header-driven fake caller."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import pytest
from fastapi import FastAPI, Header
from fastapi.testclient import TestClient

from deflect.api.auth import Caller, Role
from deflect.api.errors import install_error_handlers
from deflect.api.feedback import feedback_router
from deflect.errors import Unauthorized
from deflect.feedback import FeedbackDesk
from deflect.testing import HashEmbedder
from deflect.testing.store import InMemoryStore
from deflect.testing.store_contract import make_event

CUSTOMER = {"X-Role": "customer", "X-Actor": "cust-7"}
AGENT = {"X-Role": "agent", "X-Actor": "agent-ana"}


def fake_caller(
    x_role: Annotated[str | None, Header()] = None, x_actor: Annotated[str | None, Header()] = None
) -> Caller:
    if x_role is None:
        raise Unauthorized("missing role")
    return Caller(Role(x_role), x_actor or "anonymous")


@pytest.fixture
def store() -> InMemoryStore:
    store = InMemoryStore()
    for answer_id, audience, decision in [
        ("ans_c", "customer", "answer"),
        ("ans_a", "agent", "answer"),
        ("ans_e", "customer", "escalate"),
    ]:
        data = {"decision": decision, "audience": audience, "question": f"q {answer_id}", "cited": ["doc:a"]}
        store.append_audit([make_event("decision", answer_id=answer_id, data=data)])
    return store


@pytest.fixture
def client(store: InMemoryStore) -> TestClient:
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(feedback_router(FeedbackDesk(store, HashEmbedder()), fake_caller))
    return TestClient(app)


@pytest.fixture
def post(client: TestClient) -> Callable[..., Any]:
    def send(answer_id: str, body: object, headers: dict[str, str] = CUSTOMER) -> Any:
        return client.post(f"/v1/answers/{answer_id}/feedback", json=body, headers=headers)

    return send


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    return dict(body["error"])


def test_an_unhelpful_customer_answer_offers_escalation(post: Callable[..., Any], store: InMemoryStore) -> None:
    response = post("ans_c", {"helpful": False, "comment": "did not work", "correct_source": "doc:b"})

    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"id", "answer_id", "helpful", "offer_escalation"}
    assert body["id"].startswith("fb_")
    assert (body["answer_id"], body["helpful"], body["offer_escalation"]) == ("ans_c", False, True)
    [record] = store.feedback()
    assert (record.id, record.actor, record.role, record.comment) == (body["id"], "cust-7", "customer", "did not work")
    assert (record.correct_source, record.source_ids, record.question) == ("doc:b", ["doc:a"], "q ans_c")


@pytest.mark.parametrize(
    ("answer_id", "body", "headers", "offered"),
    [
        ("ans_c", {"helpful": True}, CUSTOMER, False),
        ("ans_c", {"helpful": False}, AGENT, False),
        ("ans_a", {"helpful": False}, AGENT, False),
        ("ans_e", {"helpful": False}, CUSTOMER, False),  # already handed off
    ],
)
def test_no_offer_otherwise(
    post: Callable[..., Any], answer_id: str, body: dict[str, Any], headers: dict[str, str], offered: bool
) -> None:
    response = post(answer_id, body, headers)

    assert response.status_code == 201, response.text
    assert response.json()["offer_escalation"] is offered


def test_unknown_answer_is_404(post: Callable[..., Any], store: InMemoryStore) -> None:
    error = assert_error(post("ans_missing", {"helpful": False}), 404, "not_found")

    assert error["details"] == [{"answer_id": "ans_missing"}]
    assert store.feedback() == []


def test_a_customer_key_cannot_reach_an_agent_answer(post: Callable[..., Any]) -> None:
    assert_error(post("ans_a", {"helpful": False}, CUSTOMER), 404, "not_found")


@pytest.mark.parametrize(
    "body",
    [
        {"helpful": False, "audience": "agent"},  # extra field
        {"helpful": False, "actor": "someone-else"},  # the actor comes from the key, never the body
        {},  # helpful is required
        {"helpful": "yes"},
        {"helpful": 0},
        {"helpful": False, "comment": "x" * 2001},
        {"helpful": False, "comment": 5},
        {"helpful": False, "correct_source": ""},
        [],
    ],
)
def test_bad_bodies_are_422_in_the_one_error_shape(
    post: Callable[..., Any], store: InMemoryStore, body: object
) -> None:
    assert_error(post("ans_c", body), 422, "validation_failed")
    assert store.feedback() == []


def test_a_comment_of_exactly_2000_characters_is_accepted(post: Callable[..., Any]) -> None:
    assert post("ans_c", {"helpful": True, "comment": "x" * 2000}).status_code == 201


def test_the_caller_dependency_guards_the_route(client: TestClient) -> None:
    response = client.post("/v1/answers/ans_c/feedback", json={"helpful": True})

    assert_error(response, 401, "unauthorized")
