"""Every route x every caller: no key, an unknown key, a revoked key, customer, agent and admin keys (from the
settings file and from the database), and the widget's origin check (settings and database widget ids). Routes
are read from the app itself, so a new route fails here until WHO_MAY declares who may call it. Access only: a
caller who may call a route gets anything but 401/403 (often 404 or 422 for the dummy ids and bodies used here),
never a 500; one who may not gets 401 (no, unknown or revoked key) or 403 (role)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from deflect.api import create_app
from deflect.config import DEV_ADMIN_KEY, DEV_AGENT_KEY, DEV_CUSTOMER_KEY, Settings
from deflect.domain.keys import Role
from deflect.service import DeflectService

PUBLIC, ANY_KEY, STAFF, ADMIN, WIDGET = "public", "any key", "staff", "admin", "widget origin"
# A customer key only: withdrawing one's own escalation is the customer's, never staff's (they resolve or bounce).
CUSTOMER = "customer key"
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
    **{
        ("post", f"/v1/escalations/{{escalation_id}}/{action}"): STAFF
        for action in ("claim", "start", "update", "wait", "resume", "bounce", "takeover")
    },
    ("post", "/v1/escalations/{escalation_id}/self_serve"): CUSTOMER,
    ("get", "/v1/escalations/{escalation_id}/audit"): STAFF,
    ("get", "/v1/audit"): STAFF,
    ("get", "/v1/audit/export"): ADMIN,
    ("get", "/v1/jobs"): ADMIN,
    ("post", "/v1/admin/ingest"): ADMIN,
    ("get", "/v1/admin/calibration"): ADMIN,
    ("get", "/v1/admin/keys"): ADMIN,
    ("post", "/v1/admin/keys"): ADMIN,
    ("post", "/v1/admin/widgets"): ADMIN,
    ("post", "/v1/admin/keys/{key_id}/rotate"): ADMIN,
    ("post", "/v1/admin/keys/{key_id}/revoke"): ADMIN,
    ("post", "/v1/admin/keys/{key_id}/origins"): ADMIN,
    ("get", "/v1/stats"): STAFF,
    ("get", "/v1/gaps"): STAFF,
    ("get", "/panel"): PUBLIC,
    ("get", "/demo"): PUBLIC,
    ("get", "/widget.js"): PUBLIC,
    ("get", "/static/deflect/{name}"): PUBLIC,
    ("post", "/widget/v1/{widget_id}/ask/stream"): WIDGET,
    ("post", "/widget/v1/{widget_id}/answers/{answer_id}/feedback"): WIDGET,
    ("get", "/widget/v1/{widget_id}/requests"): WIDGET,
    ("post", "/widget/v1/{widget_id}/escalations/{escalation_id}/self_serve"): WIDGET,
    ("post", "/widget/v1/{widget_id}/escalations/{escalation_id}/contact"): WIDGET,
    ("get", "/sources/{source_id}"): OPEN,
    # Not in the OpenAPI document, but routes all the same.
    ("options", "/widget/v1/{widget_id}/{rest}"): WIDGET,  # the CORS preflight
    ("get", "/metrics"): PUBLIC,
    ("get", "/openapi.json"): PUBLIC,
    ("get", "/docs"): PUBLIC,
    ("get", "/docs/oauth2-redirect"): PUBLIC,
    ("get", "/redoc"): PUBLIC,
}
FILL = {
    "escalation_id": "esc_missing",
    "answer_id": "ans_missing",
    "action": "claim",
    "name": "panel.js",
    "widget_id": "wid_roles",
    "source_id": "doc:articles/reset-password",
    "key_id": "key_missing",
    "rest": "ask/stream",
}
SITE = "https://roles.example"
SETTINGS_KEYS = {"customer": DEV_CUSTOMER_KEY, "agent": DEV_AGENT_KEY, "admin": DEV_ADMIN_KEY}
# Callers by name; "db ..." keys are made with the KeyRing in the app's own store, as `deflect keys create` does.
CALLERS = ["no key", "unknown key", "revoked key", *SETTINGS_KEYS, *(f"db {role}" for role in SETTINGS_KEYS)]
REFUSED = {"unknown key", "revoked key"}


def allowed(rule: str, caller: str) -> bool:
    role = caller.removeprefix("db ")
    return {
        PUBLIC: True,
        OPEN: caller not in REFUSED,
        ANY_KEY: role in {"customer", "agent", "admin"},
        STAFF: role in {"agent", "admin"},
        CUSTOMER: role == "customer",
        ADMIN: role == "admin",
    }[rule]


@pytest.fixture
def client(settings: Settings, service: DeflectService) -> TestClient:
    configured = settings.model_copy(update={"widgets": {"wid_roles": [SITE]}})
    return TestClient(create_app(configured, service), raise_server_exceptions=False)


@pytest.fixture
def headers(service: DeflectService) -> dict[str, dict[str, str]]:
    """Each caller's headers; the database keys are real ones, the revoked one revoked before any call."""
    assert service.keys is not None
    secrets = {f"db {role}": service.keys.create(Role(role), f"roles {role}", "test").secret for role in SETTINGS_KEYS}
    revoked = service.keys.create(Role.ADMIN, "revoked admin", "test")
    service.keys.revoke(revoked.record.id, "test")
    secrets |= SETTINGS_KEYS | {"unknown key": "dfk_never_issued", "revoked key": revoked.secret}
    return {"no key": {}} | {name: {"Authorization": f"Bearer {secret}"} for name, secret in secrets.items()}


def routes(client: TestClient) -> list[tuple[str, str]]:
    """(method, path) of every route the app serves, from its route table, the ones left out of the OpenAPI
    document included; path parameters without their converter (`{source_id:path}` is `{source_id}`)."""
    found: set[tuple[str, str]] = set()

    def walk(table: list[Any]) -> None:
        for route in table:
            if isinstance(getattr(route, "path", None), str) and getattr(route, "methods", None):
                path = re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)
                found.update((m.lower(), path) for m in route.methods if m != "HEAD")
            # An included router: FastAPI 0.165 wraps it (original_router); Starlette's Mount has its routes.
            inner = getattr(route, "original_router", None) or route
            if inner is not route or hasattr(route, "routes"):
                walk(list(getattr(inner, "routes", [])))

    walk(list(client.app.routes))  # type: ignore[attr-defined]
    documented = {(m, p) for p, ops in client.app.openapi()["paths"].items() for m in ops}  # type: ignore[attr-defined]
    # If FastAPI changed how it keeps included routers, the walk would find too little: fail, never pass quietly.
    assert documented <= found, sorted(documented - found)
    return sorted(found)


def body_for(path: str) -> dict[str, Any]:
    """A valid body where one is needed, so that access, not validation, decides the status."""
    if path.endswith("/feedback"):
        return {"helpful": True}
    if path.endswith("/resolve"):
        return {"resolution": "Fixed."}
    if "/ask" in path:
        return {"question": "How do I reset my password?"}
    if path.endswith(("/keys", "/widgets")):
        return {"role": "customer", "label": "roles"} if path.endswith("/keys") else {"label": "roles"}
    if path.endswith("/origins"):
        return {"origins": []}
    if path.endswith("/self_serve"):
        return {"page": "other"}
    if path.endswith("/contact"):
        return {"email": "kim@example.com"}
    return {}


def call(client: TestClient, method: str, path: str, headers: dict[str, str], **fill: str) -> Any:
    url = path.format(**(FILL | fill))
    if method == "get":
        return client.get(url, headers=headers)
    if method == "options":
        return client.options(url, headers=headers | {"Access-Control-Request-Method": "POST"})
    return client.post(url, headers=headers, json=body_for(path))


def test_every_route_is_declared(client: TestClient) -> None:
    undeclared = sorted(set(routes(client)) - set(WHO_MAY))
    assert undeclared == [], f"declare who may call these in tests/web/test_route_roles.py: {undeclared}"


@pytest.mark.parametrize("caller", CALLERS)
def test_every_route_for_every_caller(client: TestClient, headers: dict[str, dict[str, str]], caller: str) -> None:
    wrong = []
    for method, path in routes(client):
        rule = WHO_MAY.get((method, path))
        if rule is None or rule == WIDGET:
            continue
        status = call(client, method, path, headers[caller]).status_code
        ok = status not in (401, 403) and status < 500 if allowed(rule, caller) else status in (401, 403)
        if caller in {"no key", *REFUSED} and not allowed(rule, caller):
            ok = status == 401
        if not ok:
            wrong.append((method, path, status))
    assert wrong == []


@pytest.fixture
def widget_ids(service: DeflectService) -> dict[str, str]:
    """The same site's widget id from the settings file, from the database, and a revoked one from the database."""
    assert service.keys is not None
    made = service.keys.create_widget("roles site", [SITE], "test").secret
    revoked = service.keys.create_widget("revoked site", [SITE], "test")
    service.keys.revoke(revoked.record.id, "test")
    return {"settings": "wid_roles", "database": made, "revoked": revoked.secret}


@pytest.mark.parametrize("widget", ["settings", "database", "revoked"])
@pytest.mark.parametrize(("origin", "expected"), [(SITE, 200), ("https://elsewhere.example", 403), (None, 403)])
def test_widget_routes_go_by_origin_not_keys(
    client: TestClient, widget_ids: dict[str, str], widget: str, origin: str | None, expected: int
) -> None:
    for method, path in routes(client):
        if WHO_MAY.get((method, path)) != WIDGET:
            continue
        headers = {"X-Deflect-Session": "sess_roles_0001"} | ({"Origin": origin} if origin else {})
        # A staff key does not open the widget API to another origin: it is not a credential there.
        headers |= {"Authorization": f"Bearer {DEV_ADMIN_KEY}"}
        status = call(client, method, path, headers, widget_id=widget_ids[widget]).status_code
        if method == "options":  # the preflight: allowed, or a bare 403 (it names no reason to another site)
            assert status == (204 if widget != "revoked" and origin == SITE else 403), (path, widget, origin, status)
        elif widget == "revoked":
            assert status == 404, (path, origin, status)  # a revoked widget id is an unknown one
        elif path.endswith(("/feedback", "/self_serve", "/contact")) and origin == SITE:
            assert status == 404  # allowed through; the dummy answer or escalation id does not exist
        elif path.endswith("/requests") and origin == SITE:
            assert status == 401  # allowed through; only an identified visitor has requests to see
        else:
            assert status == expected, (path, origin, status)


def test_a_revoked_key_is_told_so(client: TestClient, headers: dict[str, dict[str, str]]) -> None:
    response = client.post("/v1/ask", json={"question": "How do I reset my password?"}, headers=headers["revoked key"])

    assert response.status_code == 401
    assert response.json()["error"]["message"] == "this API key was revoked"
