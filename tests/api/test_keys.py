"""The admin key API: a secret is shown once and works at once; rotation and revocation hold at once, also for
another worker (a second app over its own connection pool on the same database file); widget ids made here serve
the widget on their origins only. Settings keys keep working beside them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from deflect.api import create_app
from deflect.config import DEV_ADMIN_KEY, DEV_AGENT_KEY, Settings
from deflect.service import DeflectService
from deflect.store.sql import SqlStore

ADMIN = {"Authorization": f"Bearer {DEV_ADMIN_KEY}", "X-Actor": "ops-alice"}
QUESTION = {"question": "How do I reset my password?"}


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def workers(settings: Settings, make_service: Callable[..., DeflectService]) -> Iterator[list[TestClient]]:
    """Two apps, each with its own SqlStore (engine, pool) on the same SQLite file: two worker processes' view."""
    stores = [SqlStore(settings.database_url) for _ in range(2)]
    yield [TestClient(create_app(settings, make_service(store=s))) for s in stores]
    for store in stores:
        store.close()


def create(client: TestClient, role: str, label: str = "help center backend") -> dict[str, Any]:
    response = client.post("/v1/admin/keys", json={"role": role, "label": label}, headers=ADMIN)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def test_a_new_key_works_at_once_and_its_secret_is_never_shown_again(workers: list[TestClient]) -> None:
    a, b = workers
    made = create(a, "agent")

    assert made["secret"].startswith("dfk_") and made["role"] == "agent" and made["created_by"] == "ops-alice"
    assert b.get("/v1/escalations", headers=bearer(made["secret"])).status_code == 200
    listed = a.get("/v1/admin/keys", headers=ADMIN)
    assert listed.status_code == 200
    assert [k["id"] for k in listed.json()] == [made["id"]]
    assert made["secret"] not in listed.text and "secret" not in listed.json()[0] and "hash" not in listed.text
    assert listed.json()[0]["hint"] == made["secret"][:8]


def test_a_customer_key_from_the_database_sees_public_content_only(workers: list[TestClient]) -> None:
    a, _ = workers
    customer = bearer(create(a, "customer")["secret"])

    answer = a.post("/v1/ask", json=QUESTION, headers=customer)

    assert answer.status_code == 200 and answer.json()["audience"] == "customer"
    assert a.get("/v1/escalations", headers=customer).status_code == 403


def test_revocation_in_one_worker_is_refused_by_the_other_at_once(workers: list[TestClient]) -> None:
    a, b = workers
    made = create(a, "admin")
    key = bearer(made["secret"])
    assert b.get("/v1/admin/keys", headers=key).status_code == 200

    revoked = a.post(f"/v1/admin/keys/{made['id']}/revoke", headers=ADMIN)

    assert revoked.status_code == 200 and revoked.json()["active"] is False
    refused = b.get("/v1/admin/keys", headers=key)
    assert refused.status_code == 401 and refused.json()["error"]["message"] == "this API key was revoked"
    assert b.post("/v1/ask", json=QUESTION, headers=key).status_code == 401
    listed = a.get("/v1/admin/keys", params={"include_revoked": True}, headers=ADMIN).json()
    assert [(k["id"], k["active"], k["revoked_by"]) for k in listed] == [(made["id"], False, "ops-alice")]
    assert a.get("/v1/admin/keys", headers=ADMIN).json() == []


def test_rotation_refuses_the_old_secret_and_keeps_the_key(workers: list[TestClient]) -> None:
    a, b = workers
    made = create(a, "agent")

    rotated = a.post(f"/v1/admin/keys/{made['id']}/rotate", headers=ADMIN)

    assert rotated.status_code == 200
    new = rotated.json()
    assert new["id"] == made["id"] and new["secret"] != made["secret"] and new["rotated_at"]
    assert b.get("/v1/escalations", headers=bearer(made["secret"])).status_code == 401
    assert b.get("/v1/escalations", headers=bearer(new["secret"])).status_code == 200


def test_a_revoked_key_cannot_be_rotated_back(workers: list[TestClient]) -> None:
    a, _ = workers
    made = create(a, "agent")
    a.post(f"/v1/admin/keys/{made['id']}/revoke", headers=ADMIN)

    response = a.post(f"/v1/admin/keys/{made['id']}/rotate", headers=ADMIN)

    assert response.status_code == 409 and response.json()["error"]["code"] == "conflict"
    assert a.post("/v1/admin/keys/key_missing/revoke", headers=ADMIN).status_code == 404


def test_only_admins_manage_keys_even_with_a_database_agent_key(workers: list[TestClient]) -> None:
    a, _ = workers
    agent = bearer(create(a, "agent")["secret"])

    assert a.post("/v1/admin/keys", json={"role": "admin", "label": "escalate me"}, headers=agent).status_code == 403
    assert a.get("/v1/admin/keys", headers={"Authorization": f"Bearer {DEV_AGENT_KEY}"}).status_code == 403


@pytest.mark.parametrize(
    "body",
    [
        {"role": "owner", "label": "x"},
        {"role": "agent", "label": ""},
        {"role": "agent"},
        {"role": "agent", "label": "x", "x": 1},
    ],
)
def test_bad_bodies_are_422_in_the_error_shape(workers: list[TestClient], body: dict[str, Any]) -> None:
    response = workers[0].post("/v1/admin/keys", json=body, headers=ADMIN)

    assert response.status_code == 422 and set(response.json()["error"]) == {"code", "message", "details"}


def test_a_widget_id_from_the_database_serves_its_origins_only(workers: list[TestClient]) -> None:
    a, b = workers
    made = a.post("/v1/admin/widgets", json={"label": "docs", "origins": ["https://docs.example"]}, headers=ADMIN)
    assert made.status_code == 201, made.text
    widget = made.json()
    assert widget["secret"].startswith("wid_") and widget["role"] is None and widget["kind"] == "widget"

    def ask(origin: str) -> int:
        headers = {"Origin": origin, "X-Deflect-Session": "sess_keys_0001"}
        return b.post(f"/widget/v1/{widget['secret']}/ask/stream", json=QUESTION, headers=headers).status_code

    assert ask("https://docs.example") == 200
    assert ask("https://elsewhere.example") == 403
    moved = a.post(f"/v1/admin/keys/{widget['id']}/origins", json={"origins": ["https://new.example"]}, headers=ADMIN)
    assert moved.status_code == 200 and moved.json()["origins"] == ["https://new.example"]
    assert ask("https://docs.example") == 403 and ask("https://new.example") == 200
    a.post(f"/v1/admin/keys/{widget['id']}/revoke", headers=ADMIN)
    assert ask("https://new.example") == 404
    # A widget id is no API key, whatever it is sent as.
    assert b.post("/v1/ask", json=QUESTION, headers=bearer(widget["secret"])).status_code == 401
