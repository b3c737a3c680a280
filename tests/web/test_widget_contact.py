"""After a hand-off the widget's anonymous visitor may leave an email address for the reply (POST
/widget/v1/{id}/escalations/{esc}/contact), since nobody can reply in a chat they close: the hand-off text says so,
only the session that asked may leave one, the packet holds it for the agent, the audit only that one came."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from tests.web.test_stream import parse_sse
from tests.web.test_widget_self_serve import PASSWORD, client, visitor  # noqa: F401 - `client` is a fixture

from deflect.config import DEV_AGENT_KEY

AGENT = {"Authorization": f"Bearer {DEV_AGENT_KEY}"}
EMAIL = "kim.rivera@example.com"


def hand_off(client: TestClient, headers: dict[str, str]) -> dict[str, Any]:  # noqa: F811 - the fixture
    response = client.post("/widget/v1/wid_shop/ask/stream", json={"question": PASSWORD}, headers=headers)
    return dict(parse_sse(response.text))["done"]


def leave(client: TestClient, escalation_id: str, headers: dict[str, str], email: Any = EMAIL) -> Any:  # noqa: F811
    url = f"/widget/v1/wid_shop/escalations/{escalation_id}/contact"
    return client.post(url, json={"email": email}, headers=headers)


def test_an_anonymous_visitor_is_told_the_truth_and_may_leave_an_address(client: TestClient) -> None:  # noqa: F811
    mine = visitor("sess_mine_000001")
    done = hand_off(client, mine)
    escalation_id = done["escalation_id"]
    assert "they will ask you here" not in done["answer"]
    assert "cannot reply in this chat" in done["answer"] and escalation_id in done["answer"]

    assert leave(client, escalation_id, visitor("sess_theirs_00001")).status_code == 404  # not theirs
    response = leave(client, escalation_id, mine)

    assert response.status_code == 200 and response.headers["access-control-allow-origin"] == "https://shop.example"
    assert response.json() == {"id": escalation_id, "contact_email": EMAIL}
    view = client.get(f"/v1/escalations/{escalation_id}", headers=AGENT).json()
    assert view["escalation"]["contact_email"] == EMAIL and EMAIL in view["briefing"]
    trail = client.get(f"/v1/escalations/{escalation_id}/audit", headers=AGENT).json()
    contact = [e for e in trail if e["action"] == "contact"]
    assert len(contact) == 1 and contact[0]["actor"].startswith("widget:wid_shop:session:")
    assert EMAIL not in str(trail)  # the append-only audit never holds the address


def test_a_signed_visitor_keeps_the_usual_hand_off(client: TestClient) -> None:  # noqa: F811
    done = hand_off(client, visitor("sess_laptop_0001", sub="user-42"))
    assert "cannot reply in this chat" not in done["answer"]


def test_a_bad_address_is_the_one_error_shape(client: TestClient) -> None:  # noqa: F811
    mine = visitor("sess_mine_000001")
    escalation_id = hand_off(client, mine)["escalation_id"]
    for bad in ("kim at example", "kim@example", "a@b.c d", "x" * 250 + "@e.com", 42, None):
        response = leave(client, escalation_id, mine, bad)
        body = response.json()
        assert response.status_code == 422, bad
        assert set(body) == {"error"} and body["error"]["code"] == "validation_failed"
        assert body["error"]["details"][0]["field"] == "email"
    view = client.get(f"/v1/escalations/{escalation_id}", headers=AGENT).json()
    assert view["escalation"]["contact_email"] is None


def test_a_closed_request_takes_no_address(client: TestClient) -> None:  # noqa: F811
    mine = visitor("sess_mine_000001")
    escalation_id = hand_off(client, mine)["escalation_id"]
    url = f"/widget/v1/wid_shop/escalations/{escalation_id}/self_serve"
    assert client.post(url, json={"page": "other"}, headers=mine).status_code == 200

    response = leave(client, escalation_id, mine)

    assert response.status_code == 409 and "already closed" in response.json()["error"]["message"]
