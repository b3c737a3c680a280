"""Input limits and hygiene: a body-size limit before parsing and authentication, questions normalised (NFC, no
control or zero-width characters), lone surrogates refused, query parameters bounded; 422/413, never a 500."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from deflect.api import create_app
from deflect.config import DEV_AGENT_KEY, DEV_CUSTOMER_KEY, Settings
from deflect.service import DeflectService

CUSTOMER = {"Authorization": f"Bearer {DEV_CUSTOMER_KEY}"}
AGENT = {"Authorization": f"Bearer {DEV_AGENT_KEY}"}
LIMIT = 4096


@pytest.fixture
def client(settings: Settings, service: DeflectService) -> TestClient:
    limited = settings.model_copy(update={"max_body_bytes": LIMIT})
    return TestClient(create_app(limited, service), raise_server_exceptions=False)


def assert_error(response: object, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    return body["error"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer not-a-key"}, CUSTOMER], ids=["none", "bad", "ok"])
def test_an_oversized_body_is_refused_before_parsing_and_authentication(
    client: TestClient, headers: dict[str, str]
) -> None:
    body = b"{" + b"x" * (LIMIT + 10)  # not even JSON: a 413 proves it was never parsed (that would be a 422)

    response = client.post("/v1/ask", content=body, headers={**headers, "Content-Type": "application/json"})

    error = assert_error(response, 413, "payload_too_large")
    assert error["details"] == [{"limit_bytes": LIMIT}]


def test_a_streamed_body_without_a_length_is_cut_off_at_the_limit(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(20):
            yield b"x" * 1024

    response = client.post("/v1/ask", content=chunks(), headers={**CUSTOMER, "Content-Type": "application/json"})

    assert_error(response, 413, "payload_too_large")


def test_a_body_under_the_limit_is_served(client: TestClient) -> None:
    assert client.post("/v1/ask", json={"question": "How do I reset my password?"}, headers=CUSTOMER).status_code == 200


@pytest.mark.parametrize(
    "question",
    ["\u200b\u200b\u200b", "\x00\x00\x00", "\ufeff \u200d\u2060 \x07", "\u202e\u202c"],
    ids=["zero-width", "nul", "bom-joiners-bell", "bidi"],
)
def test_a_question_of_only_invisible_characters_is_empty(client: TestClient, question: str) -> None:
    response = client.post("/v1/ask", json={"question": question}, headers=CUSTOMER)
    error = assert_error(response, 422, "validation_failed")
    assert error["details"][0]["problem"] == "empty"  # type: ignore[index]


def test_questions_are_nfc_normalised_and_stripped_of_control_and_zero_width_characters(client: TestClient) -> None:
    body = client.post(
        "/v1/ask", json={"question": "how do I reset my pass\u200bword?\x07 cafe\u0301"}, headers=CUSTOMER
    ).json()

    assert body["question"] == "how do I reset my password? caf\u00e9"


@pytest.mark.parametrize(
    ("path", "payload", "field"),
    [
        ("/v1/ask", '{"question": "reset \\ud800 password"}', "question"),
        ("/v1/ask", '{"question": "ok", "conversation": ["hi \\udfff"]}', "conversation.0"),
        ("/v1/ask", '{"question": "ok", "customer_name": "\\udc80"}', "customer_name"),
    ],
)
def test_a_lone_surrogate_anywhere_in_a_body_is_a_422(client: TestClient, path: str, payload: str, field: str) -> None:
    response = client.post(path, content=payload, headers={**CUSTOMER, "Content-Type": "application/json"})

    error = assert_error(response, 422, "validation_failed")
    assert error["details"][0]["field"] == field  # type: ignore[index]


def test_a_lone_surrogate_in_a_resolution_is_a_422_not_a_500(client: TestClient) -> None:
    esc = client.post("/v1/ask", json={"question": "I want to talk to a human"}, headers=CUSTOMER).json()
    esc_id = esc["escalation_id"]
    for action in ("claim", "start"):
        assert client.post(f"/v1/escalations/{esc_id}/{action}", headers=AGENT).status_code == 200

    response = client.post(
        f"/v1/escalations/{esc_id}/resolve",
        content=json.dumps({"resolution": "fixed"}).replace("fixed", "fixed \\ud83d"),
        headers={**AGENT, "Content-Type": "application/json"},
    )

    assert_error(response, 422, "validation_failed")


@pytest.mark.parametrize(
    "since",
    ["0001-01-01T00:00:00+23:59", "9999-12-31T23:59:59-23:59", "1969-12-31T23:59:59Z", "2026-01-01T00:00:00"],
    ids=["year-1-east", "year-9999-west", "before-1970", "naive"],
)
def test_stats_since_is_bounded(client: TestClient, since: str) -> None:
    assert_error(client.get("/v1/stats", params={"since": since}, headers=AGENT), 422, "validation_failed")


def test_stats_since_in_range_is_served(client: TestClient) -> None:
    assert client.get("/v1/stats", params={"since": "2026-01-01T00:00:00Z"}, headers=AGENT).status_code == 200
