"""Trust boundaries: a customer key's request body cannot set its own priority, SLA or repeat-contact identity; what
it says about itself is recorded as *claimed*. An agent or admin acting on the customer's behalf is trusted."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from deflect.api import create_app
from deflect.config import DEV_ADMIN_KEY, DEV_AGENT_KEY, DEV_CUSTOMER_KEY, Settings
from deflect.service import DeflectService

CUSTOMER = {"Authorization": f"Bearer {DEV_CUSTOMER_KEY}"}
AGENT = {"Authorization": f"Bearer {DEV_AGENT_KEY}"}
ADMIN = {"Authorization": f"Bearer {DEV_ADMIN_KEY}"}
UNANSWERABLE = "What is the weather on Mars tomorrow?"


@pytest.fixture
def client(settings: Settings, service: DeflectService) -> TestClient:
    return TestClient(create_app(settings, service))


def escalate(client: TestClient, headers: dict[str, str], **fields: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    body = client.post("/v1/ask", json={"question": UNANSWERABLE, **fields}, headers=headers).json()
    assert body["decision"] == "escalate"
    view = client.get(f"/v1/escalations/{body['escalation_id']}", headers=AGENT).json()
    return body, view["escalation"]


def test_a_customer_claiming_vip_does_not_change_priority_or_sla(client: TestClient) -> None:
    plain, _ = escalate(client, CUSTOMER)
    claimed, esc = escalate(client, CUSTOMER, customer_id="cust-v", customer_name="Vera Vip", customer_tier="vip")

    assert claimed["priority"] == plain["priority"] == "low"
    assert "within 5 minutes" not in claimed["answer"]
    assert esc["customer_tier"] is None and esc["customer_id"] is None and esc["customer_name"] is None
    assert esc["claimed_customer"] == {"id": "cust-v", "name": "Vera Vip", "tier": "vip"}
    assert esc["sla"]["acknowledge_within_s"] == 8 * 3600


@pytest.mark.parametrize("headers", [AGENT, ADMIN], ids=["agent", "admin"])
def test_an_agent_or_admin_acting_on_behalf_sets_the_tier(client: TestClient, headers: dict[str, str]) -> None:
    body, esc = escalate(client, headers, customer_id="cust-v", customer_tier="vip")

    assert body["priority"] == "critical"
    assert esc["customer_tier"] == "vip" and esc["customer_id"] == "cust-v"
    assert esc["claimed_customer"] == {}


def test_a_customer_cannot_borrow_another_customers_history_for_repeat_contact(
    client: TestClient, settings: Settings
) -> None:
    # An agent escalated the same problem for cust-42 several times; a customer key claiming to be cust-42 (or
    # anyone else) is not linked to that history.
    for _ in range(3):
        escalate(client, AGENT, customer_id="cust-42")

    body, _ = escalate(client, CUSTOMER, customer_id="cust-42")

    assert "repeat_contact" not in body["reasons"]


def test_the_claimed_identity_is_in_the_decision_audit_with_the_name_scrubbed(client: TestClient) -> None:
    body, _ = escalate(client, CUSTOMER, customer_id="cust-9", customer_name="Zelda Quinterra", customer_tier="vip")

    data = client.get("/v1/audit", params={"answer_id": body["id"]}, headers=AGENT).json()[0]["data"]

    assert data["customer_id"] is None and data["customer_tier"] is None
    assert data["claimed_customer"]["tier"] == "vip"
    assert "Zelda" not in str(data)
