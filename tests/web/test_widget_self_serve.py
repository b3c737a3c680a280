"""The widget's 'This solved it' (POST /widget/v1/{id}/escalations/{esc}/self_serve) without a browser: the
escalation is bound to who asked (an anonymous visitor's session, an identified visitor's signed `sub` on any
device); anyone else gets the not-found an unknown id gets, with CORS so the widget can show it."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient
from tests.web.test_stream import parse_sse

from conftest import FAKE_CALIBRATION
from deflect.api import create_app
from deflect.config import Settings
from deflect.testing import HashEmbedder, InMemoryIndex
from deflect.testing.store import InMemoryStore
from deflect.wiring import assemble

SITE = "https://shop.example"
SECRET = "test-identity-secret-of-32-bytes!"
PASSWORD = "How do I reset my password?"
PAGE = "doc:articles/reset-password"


@pytest.fixture
def client(settings: Settings) -> TestClient:
    strict = settings.model_copy(
        update={
            "confidence_threshold": 0.999,
            "widgets": {"wid_shop": [SITE]},
            "widget_identity_secret": SECRET,
            "widget_rate_per_ip": 100,
        }
    )
    svc = assemble(strict, InMemoryIndex(), HashEmbedder(), calibration=FAKE_CALIBRATION, store=InMemoryStore())
    svc.ingest([strict.kb_dir], strict.kb_dir)
    return TestClient(create_app(strict, svc))


def visitor(session: str, sub: str | None = None, origin: str = SITE) -> dict[str, str]:
    headers = {"Origin": origin, "X-Deflect-Session": session}
    if sub is not None:
        claims = {"sub": sub, "exp": int(time.time()) + 300}
        headers["X-Deflect-Identity"] = jwt.encode(claims, SECRET, algorithm="HS256")
    return headers


def escalate(client: TestClient, headers: dict[str, str]) -> str:
    response = client.post("/widget/v1/wid_shop/ask/stream", json={"question": PASSWORD}, headers=headers)
    decision = dict(parse_sse(response.text))["decision"]
    assert [p["source_id"] for p in decision["suggested"]] == [PAGE]
    escalation_id: str = decision["escalation_id"]
    return escalation_id


def solved(client: TestClient, escalation_id: str, headers: dict[str, str], page: str = PAGE) -> Any:
    url = f"/widget/v1/wid_shop/escalations/{escalation_id}/self_serve"
    return client.post(url, json={"page": page}, headers=headers)


def test_the_anonymous_session_that_asked_withdraws_it_and_no_other_session_can(client: TestClient) -> None:
    mine, theirs = visitor("sess_mine_000001"), visitor("sess_theirs_00001")
    escalation_id = escalate(client, mine)

    refused = solved(client, escalation_id, theirs)
    done = solved(client, escalation_id, mine)
    again = solved(client, escalation_id, mine)

    assert refused.status_code == 404
    assert refused.json() == {
        "error": {
            "code": "not_found",
            "message": f"no escalation {escalation_id}",
            "details": [{"escalation_id": escalation_id}],
        }
    }
    assert refused.headers["access-control-allow-origin"] == SITE  # the widget may read and show the refusal
    assert done.status_code == 200 and done.headers["access-control-allow-origin"] == SITE
    assert done.json()["state"] == "self_served" and done.json()["page"] == PAGE
    assert "nobody will contact you" in done.json()["message"]
    assert again.json() == done.json()


def test_an_identified_visitor_may_withdraw_from_another_device_and_nobody_else_may(client: TestClient) -> None:
    escalation_id = escalate(client, visitor("sess_laptop_0001", sub="user-42"))

    for stranger in (visitor("sess_phone_00001"), visitor("sess_phone_00001", sub="user-7")):
        assert solved(client, escalation_id, stranger).status_code == 404
    phone = visitor("sess_phone_00001", sub="user-42")
    done = solved(client, escalation_id, phone)

    assert done.status_code == 200 and done.json()["state"] == "self_served"
    # Their requests list says so on every device (the widget shows it as "solved by you").
    listed = client.get("/widget/v1/wid_shop/requests", headers=phone).json()
    assert [(r["id"], r["state"]) for r in listed] == [(escalation_id, "self_served")]


def test_an_unknown_id_and_a_bad_page_and_another_origin(client: TestClient) -> None:
    headers = visitor("sess_mine_000001")
    escalation_id = escalate(client, headers)

    assert solved(client, "esc_" + "0" * 32, headers).status_code == 404
    assert solved(client, escalation_id, headers, page="doc:articles/other").status_code == 422
    elsewhere = solved(client, escalation_id, visitor("sess_mine_000001", origin="https://evil.example"))
    assert elsewhere.status_code == 403 and "access-control-allow-origin" not in elsewhere.headers
    assert solved(client, escalation_id, headers).json()["state"] == "self_served"
