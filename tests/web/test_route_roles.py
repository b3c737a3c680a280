"""Every route x every caller: no key, an unknown (or revoked) key, customer, agent and admin keys, and the
widget's origin check. Routes are read from the app itself, so a new route fails here until WHO_MAY declares who
may call it. Access only: a caller who may call a route gets anything but 401/403 (often 404 or 422 for the dummy
ids and bodies used here), never a 500; one who may not gets 401 (no or unknown key) or 403 (role)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from deflect.api import create_app
from deflect.config import DEV_ADMIN_KEY, DEV_AGENT_KEY, DEV_CUSTOMER_KEY, Settings
from deflect.service import DeflectService

PUBLIC, ANY_KEY, STAFF, ADMIN, WIDGET = "public", "any key", "staff", "admin", "widget origin"
# No key or a valid one (the key's role sets the audience); a key that is sent but unknown is refused.
OPEN = "no key or a valid key"

# (method, path) -> who may call it. Add a new route here when you add it to the app.
WHO_MAY: dict[tuple[str, str], str] = {
    ("get", "/healthz"): PUBLIC,
    ("get", "/readyz"): PUBLIC,
    ("post", "/v1/ask"): ANY_KEY,
    ("post", "/v1/ask/stream"): ANY_KEY,
    ("post", "/v1/answers/{answer_id}/feedback"): ANY_KEY,
    ("get", "/v1/escalations"): STAFF,
    ("post", "/v1/escalations/sweep"): ADMIN,
    ("get", "/v1/escalations/{escalation_id}"): STAFF,
    ("post", "/v1/escalations/{escalation_id}/resolve"): STAFF,
    ("post", "/v1/escalations/{escalation_id}/{action}"): STAFF,
    **{("post", f"/v1/escalations/{{escalation_id}}/{action}"): STAFF
       for action in ("claim", "start", "update", "wait", "resume", "bounce")},
    ("get", "/v1/escalations/{escalation_id}/audit"): STAFF,
    ("get", "/v1/audit"): STAFF,
    ("get", "/v1/audit/export"): ADMIN,
    ("get", "/v1/jobs"): ADMIN,
    ("post", "/v1/admin/ingest"): ADMIN,
    ("get", "/v1/stats"): STAFF,
    ("get", "/v1/gaps"): STAFF,
    ("get", "/panel"): PUBLIC,
    ("get", "/demo"): PUBLIC,
    ("get", "/widget.js"): PUBLIC,
    ("get", "/static/deflect/{name}"): PUBLIC,
    ("post", "/widget/v1/{widget_id}/ask/stream"): WIDGET,
    ("post", "/widget/v1/{widget_id}/answers/{answer_id}/feedback"): WIDGET,
    ("get", "/widget/v1/{widget_id}/requests"): WIDGET,
    ("get", "/sources/{source_id}"): OPEN,
}
FILL = {"escalation_id": "esc_missing", "answer_id": "ans_missing", "action": "claim", "name": "panel.js",
        "widget_id": "wid_roles", "source_id": "doc:articles/reset-password"}
SITE = "https://roles.example"
CALLERS = {
    "no key": {},
    "unknown key": {"Authorization": "Bearer revoked-or-never-issued"},
    "customer": {"Authorization": f"Bearer {DEV_CUSTOMER_KEY}"},
    "agent": {"Authorization": f"Bearer {DEV_AGENT_KEY}"},
    "admin": {"Authorization": f"Bearer {DEV_ADMIN_KEY}"},
}


def allowed(rule: str, caller: str) -> bool:
    return {
        PUBLIC: True,
        OPEN: caller != "unknown key",
        ANY_KEY: caller in {"customer", "agent", "admin"},
        STAFF: caller in {"agent", "admin"},
        ADMIN: caller == "admin",
    }[rule]


@pytest.fixture
def client(settings: Settings, service: DeflectService) -> TestClient:
    configured = settings.model_copy(update={"widgets": {"wid_roles": [SITE]}})
    return TestClient(create_app(configured, service), raise_server_exceptions=False)


def routes(client: TestClient) -> list[tuple[str, str]]:
    return [(m, p) for p, ops in client.app.openapi()["paths"].items() for m in ops]  # type: ignore[attr-defined]


def body_for(path: str) -> dict[str, Any]:
    """A valid body where one is needed, so that access, not validation, decides the status."""
    if path.endswith("/feedback"):
        return {"helpful": True}
    if path.endswith("/resolve"):
        return {"resolution": "Fixed."}
    if "/ask" in path:
        return {"question": "How do I reset my password?"}
    return {}


def call(client: TestClient, method: str, path: str, headers: dict[str, str]) -> Any:
    url = path.format(**FILL)
    if method == "get":
        return client.get(url, headers=headers)
    return client.post(url, headers=headers, json=body_for(path))


def test_every_route_is_declared(client: TestClient) -> None:
    undeclared = sorted(set(routes(client)) - set(WHO_MAY))
    assert undeclared == [], f"declare who may call these in tests/web/test_route_roles.py: {undeclared}"


@pytest.mark.parametrize("caller", list(CALLERS))
def test_every_route_for_every_caller(client: TestClient, caller: str) -> None:
    wrong = []
    for method, path in routes(client):
        rule = WHO_MAY.get((method, path))
        if rule is None or rule == WIDGET:
            continue
        status = call(client, method, path, CALLERS[caller]).status_code
        ok = status not in (401, 403) and status < 500 if allowed(rule, caller) else status in (401, 403)
        if caller in {"no key", "unknown key"} and not allowed(rule, caller):
            ok = status == 401
        if not ok:
            wrong.append((method, path, status))
    assert wrong == []


@pytest.mark.parametrize(("origin", "expected"), [(SITE, 200), ("https://elsewhere.example", 403), (None, 403)])
def test_widget_routes_go_by_origin_not_keys(client: TestClient, origin: str | None, expected: int) -> None:
    for method, path in routes(client):
        if WHO_MAY.get((method, path)) != WIDGET:
            continue
        headers = {"X-Deflect-Session": "sess_roles_0001"} | ({"Origin": origin} if origin else {})
        # A staff key does not open the widget API to another origin: it is not a credential there.
        headers |= {"Authorization": f"Bearer {DEV_ADMIN_KEY}"}
        status = call(client, method, path, headers).status_code
        if "feedback" in path and origin == SITE:
            assert status == 404  # allowed through; the dummy answer id does not exist
        elif path.endswith("/requests") and origin == SITE:
            assert status == 401  # allowed through; only an identified visitor has requests to see
        else:
            assert status == expected, (path, origin, status)
