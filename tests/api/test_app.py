"""The HTTP API over the fake-backed service: the AskResult contract, roles from keys, health and docs."""

from __future__ import annotations

import gc
import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from deflect.api import create_app
from deflect.config import DEV_AGENT_KEY, DEV_CUSTOMER_KEY, Settings
from deflect.domain.models import AskResult
from deflect.service import DeflectService

CUSTOMER = {"Authorization": f"Bearer {DEV_CUSTOMER_KEY}"}
AGENT = {"Authorization": f"Bearer {DEV_AGENT_KEY}"}
AGENT_X_API_KEY = {"X-API-Key": DEV_AGENT_KEY}

ANSWERABLE = "How do I reset my password?"
OUT_OF_SCOPE = "What is the weather on Mars tomorrow?"
RESULT_FIELDS = {
    "id",
    "question",
    "audience",
    "decision",
    "answer",
    "citations",
    "confidence",
    "reasons",
    "latency_ms",
    "retrieved",
    "conversation_id",
    "escalation_id",
    "priority",
    "draft_answer",
    "draft_below_threshold",
    "draft_citations",
    "suggested",
    "dry_run",
}
CITATION_FIELDS = {"n", "source_id", "title", "url", "snippet"}


@pytest.fixture
def client(settings: Settings, service: DeflectService) -> TestClient:
    return TestClient(create_app(settings, service))


def assert_ask_result(body: dict[str, object]) -> None:
    assert set(body) == RESULT_FIELDS
    assert isinstance(body["id"], str) and body["id"]
    assert body["decision"] in {"answer", "escalate"}
    assert isinstance(body["answer"], str) and body["answer"]
    assert isinstance(body["confidence"], float) and 0.0 <= body["confidence"] <= 1.0
    assert isinstance(body["reasons"], list)
    assert isinstance(body["latency_ms"], int | float) and body["latency_ms"] >= 0
    assert isinstance(body["citations"], list)
    for citation in body["citations"]:
        assert set(citation) == CITATION_FIELDS
        assert isinstance(citation["n"], int)
        assert all(isinstance(citation[f], str) for f in CITATION_FIELDS - {"n"})
    # The route returns the model's own JSON: it reads back as the same AskResult.
    assert AskResult.model_validate(body).model_dump(mode="json") == body


@pytest.mark.parametrize(
    ("headers", "audience"),
    [
        (CUSTOMER, "customer"),
        (AGENT, "agent"),
        (AGENT_X_API_KEY, "agent"),
        ({"X-API-Key": DEV_CUSTOMER_KEY}, "customer"),
    ],
    ids=["customer-bearer", "agent-bearer", "agent-x-api-key", "customer-x-api-key"],
)
def test_ask_returns_the_ask_result_with_the_audience_of_the_key(
    client: TestClient, headers: dict[str, str], audience: str
) -> None:
    response = client.post("/v1/ask", json={"question": ANSWERABLE}, headers=headers)

    assert response.status_code == 200
    body = response.json()
    assert_ask_result(body)
    assert body["audience"] == audience
    assert body["question"] == ANSWERABLE


def test_bearer_scheme_is_case_insensitive(client: TestClient) -> None:
    response = client.post(
        "/v1/ask", json={"question": ANSWERABLE}, headers={"Authorization": f"bearer {DEV_AGENT_KEY}"}
    )

    assert response.status_code == 200
    assert response.json()["audience"] == "agent"


def test_keys_configured_in_settings_define_the_roles(make_service: Callable[..., DeflectService]) -> None:
    custom = Settings(customer_api_keys=["c-123"], agent_api_keys=["a-456"], _env_file=None)  # type: ignore[call-arg]
    client = TestClient(create_app(custom, make_service()))

    assert (
        client.post("/v1/ask", json={"question": ANSWERABLE}, headers={"X-API-Key": "c-123"}).json()["audience"]
        == "customer"
    )
    assert (
        client.post("/v1/ask", json={"question": ANSWERABLE}, headers={"X-API-Key": "a-456"}).json()["audience"]
        == "agent"
    )
    # The development keys are not built in: only the configured ones exist.
    assert client.post("/v1/ask", json={"question": ANSWERABLE}, headers=AGENT).status_code == 401


def test_a_body_audience_is_rejected_and_never_upgrades_a_customer(client: TestClient) -> None:
    response = client.post("/v1/ask", json={"question": ANSWERABLE, "audience": "agent"}, headers=CUSTOMER)

    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_failed"
    assert any(d["field"] == "audience" for d in error["details"])


@pytest.mark.parametrize(
    ("params", "extra_headers"),
    [({"audience": "agent"}, {}), ({}, {"X-Audience": "agent"}), ({}, {"X-Role": "agent"})],
    ids=["query-param", "x-audience-header", "x-role-header"],
)
def test_no_side_channel_upgrades_a_customer(
    client: TestClient, params: dict[str, str], extra_headers: dict[str, str]
) -> None:
    response = client.post(
        "/v1/ask", json={"question": ANSWERABLE}, params=params, headers={**CUSTOMER, **extra_headers}
    )

    assert response.status_code == 200
    assert response.json()["audience"] == "customer"


def test_an_answerable_question_answers_with_citations_its_markers_point_to(client: TestClient) -> None:
    body = client.post("/v1/ask", json={"question": ANSWERABLE}, headers=CUSTOMER).json()

    assert body["decision"] == "answer"
    assert body["reasons"] == []
    assert body["citations"], "an answer must cite its sources"
    assert body["citations"][0]["source_id"] == "doc:articles/reset-password"
    assert body["citations"][0]["url"] == "https://help.example/accounts/reset-password"
    markers = {int(m) for m in re.findall(r"\[(\d+)\]", body["answer"])}
    numbers = {c["n"] for c in body["citations"]}
    assert markers == numbers
    assert body["retrieved"][0] == "doc:articles/reset-password"


def test_an_out_of_scope_question_escalates_with_machine_readable_reasons(client: TestClient) -> None:
    body = client.post("/v1/ask", json={"question": OUT_OF_SCOPE}, headers=CUSTOMER).json()

    assert body["decision"] == "escalate"
    assert body["citations"] == []
    assert body["reasons"]
    assert set(body["reasons"]) <= {"low_confidence", "no_relevant_source", "no_answer_text", "unknown_name"}
    assert "low_confidence" in body["reasons"]


def test_each_response_has_its_own_id(client: TestClient) -> None:
    first = client.post("/v1/ask", json={"question": ANSWERABLE}, headers=CUSTOMER).json()
    second = client.post("/v1/ask", json={"question": ANSWERABLE}, headers=CUSTOMER).json()

    assert first["id"] != second["id"]


def test_conversation_id_echoes_back(client: TestClient) -> None:
    response = client.post("/v1/ask", json={"question": ANSWERABLE, "conversation_id": "thread-42"}, headers=CUSTOMER)

    assert response.status_code == 200
    assert response.json()["conversation_id"] == "thread-42"


def test_conversation_id_defaults_to_null(client: TestClient) -> None:
    assert client.post("/v1/ask", json={"question": ANSWERABLE}, headers=CUSTOMER).json()["conversation_id"] is None


def test_question_is_stripped_before_answering(client: TestClient) -> None:
    body = client.post("/v1/ask", json={"question": f"  {ANSWERABLE}\n"}, headers=CUSTOMER).json()

    assert body["question"] == ANSWERABLE


def test_healthz(client: TestClient) -> None:
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_with_a_populated_index(client: TestClient) -> None:
    response = client.get("/readyz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert body["checks"] == {"index": True, "model": True, "indexed": True, "database": True}


def test_readyz_with_an_empty_index_is_503_in_the_error_shape(
    settings: Settings, make_service: Callable[..., DeflectService]
) -> None:
    client = TestClient(create_app(settings, make_service(ingest=False)))

    response = client.get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == "not_ready"
    assert body["error"]["details"] == [{"index": True, "model": True, "indexed": False, "database": True}]


def test_openapi_schema_describes_ask(client: TestClient) -> None:
    response = client.get("/openapi.json")

    assert response.status_code == 200
    schema = response.json()
    assert "/v1/ask" in schema["paths"]
    assert {"/healthz", "/readyz"} <= set(schema["paths"])
    components = schema["components"]["schemas"]
    assert set(components["AskResult"]["properties"]) == RESULT_FIELDS
    assert set(components["Suggestion"]["properties"]) == {"source_id", "title", "url", "heading", "excerpt"}
    ok = schema["paths"]["/v1/ask"]["post"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/AskResult"}
    # The request schema offers no audience: it comes from the key alone.
    assert "audience" not in components["AskRequest"]["properties"]


def test_docs_are_served(client: TestClient) -> None:
    response = client.get("/docs")

    assert response.status_code == 200
    assert "text/html" in response.headers["content-type"]
    assert "/openapi.json" in response.text


def test_starting_the_app_freezes_what_start_up_built_out_of_full_collections(
    settings: Settings, service: DeflectService
) -> None:
    gc.unfreeze()
    try:
        with TestClient(create_app(settings, service)) as client:  # its lifespan runs, as under `deflect serve`
            assert gc.get_freeze_count() > 0
            assert client.get("/healthz").status_code == 200
    finally:
        gc.unfreeze()  # other tests' objects stay collectable
