"""Who a caller is: customers are identified by their key alone, so one key cannot pose as many voters."""

from __future__ import annotations

from fastapi.testclient import TestClient

from deflect.api import create_app
from deflect.config import Settings
from deflect.service import DeflectService

CUSTOMER = {"Authorization": "Bearer dev-customer-key"}
AGENT = {"Authorization": "Bearer dev-agent-key"}


def answered_id(client: TestClient, headers: dict[str, str]) -> str:
    body = client.post("/v1/ask", json={"question": "How do I reset my password?"}, headers=headers).json()
    assert body["decision"] == "answer"
    return str(body["id"])


def test_a_customer_cannot_pose_as_several_voters_with_x_actor(settings: Settings, service: DeflectService) -> None:
    client = TestClient(create_app(settings, service))
    answer = answered_id(client, CUSTOMER)
    for i in range(6):
        headers = {**CUSTOMER, "X-Actor": f"sock-puppet-{i}"}
        assert client.post(f"/v1/answers/{answer}/feedback", json={"helpful": False}, headers=headers).status_code < 300
    assert service.feedback is not None
    actors = {r.actor for r in service.desk.store.feedback(answer_id=answer)}  # type: ignore[attr-defined]
    assert len(actors) == 1 and next(iter(actors)).startswith("customer:")
    assert "sock-puppet" not in next(iter(actors))


def test_staff_are_named_by_x_actor(settings: Settings, service: DeflectService) -> None:
    client = TestClient(create_app(settings, service))
    answer = answered_id(client, AGENT)
    for name in ("alice-agent", "bo-agent"):
        headers = {**AGENT, "X-Actor": name}
        assert client.post(f"/v1/answers/{answer}/feedback", json={"helpful": True}, headers=headers).status_code < 300
    actors = {r.actor for r in service.desk.store.feedback(answer_id=answer)}  # type: ignore[attr-defined]
    assert actors == {"alice-agent", "bo-agent"}
