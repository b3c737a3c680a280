"""The widget's server side (src/deflect/web/): public widget ids bound to origins, signed visitor identity, rate
limits shared across processes, and customer-only content. TestClient sends the Origin header a browser would;
tests/web/test_widget_browser.py shows the same from a real page on another origin."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient
from tests.conftest import CANARY
from tests.web.test_stream import parse_sse

from deflect.api import create_app
from deflect.config import DEV_WIDGET_ID, Settings
from deflect.service import DeflectService
from deflect.web import ratelimit
from deflect.web.ratelimit import RateLimiter

SITE = "https://shop.example"
SECRET = "test-identity-secret-of-32-bytes!"
SESSION = {"X-Deflect-Session": "sess_0123456789abcdef"}


@pytest.fixture
def web_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "widgets": {"wid_shop": [SITE], "wid_closed": []},
            "widget_identity_secret": SECRET,
            "widget_rate_per_session": 3,
            "widget_rate_per_ip": 100,
        }
    )


@pytest.fixture
def client(web_settings: Settings, service: DeflectService) -> TestClient:
    return TestClient(create_app(web_settings, service))


def ask(client: TestClient, question: str, origin: str | None = SITE, wid: str = "wid_shop", **headers: str) -> Any:
    sent = {**SESSION, **headers} | ({"Origin": origin} if origin else {})
    return client.post(f"/widget/v1/{wid}/ask/stream", headers=sent, json={"question": question})


def token(**claims: Any) -> str:
    return jwt.encode({"sub": "user-42", "exp": int(time.time()) + 300} | claims, SECRET, algorithm="HS256")


def test_allowed_origin_gets_a_streamed_customer_answer_with_cors(client: TestClient) -> None:
    response = ask(client, "How do I reset my password?")
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == SITE
    done = dict(parse_sse(response.text))["done"]
    assert done["audience"] == "customer" and done["decision"] == "answer", done["reasons"]


@pytest.mark.parametrize(
    ("origin", "wid", "status"),
    [
        ("https://evil.example", "wid_shop", 403),
        (None, "wid_shop", 403),
        (SITE, "wid_closed", 403),
        (SITE, "nope", 404),
    ],
)
def test_other_origins_and_unknown_ids_are_refused_without_cors(
    client: TestClient, origin: str | None, wid: str, status: int
) -> None:
    response = ask(client, "How do I reset my password?", origin=origin, wid=wid)
    assert response.status_code == status
    assert "access-control-allow-origin" not in response.headers
    assert set(response.json()["error"]) == {"code", "message", "details"}


def test_preflight_only_for_allowed_origins(client: TestClient) -> None:
    def preflight(origin: str, wid: str = "wid_shop") -> Any:
        return client.options(
            f"/widget/v1/{wid}/ask/stream",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type,x-deflect-session",
            },
        )

    ok = preflight(SITE)
    assert ok.status_code == 204 and ok.headers["access-control-allow-origin"] == SITE
    assert "x-deflect-session" in ok.headers["access-control-allow-headers"].lower()
    for refused in (preflight("https://evil.example"), preflight(SITE, "wid_closed")):
        assert refused.status_code == 403 and "access-control-allow-origin" not in refused.headers


def test_customer_key_fields_cannot_be_smuggled_in(client: TestClient) -> None:
    response = client.post(
        "/widget/v1/wid_shop/ask/stream",
        headers={**SESSION, "Origin": SITE},
        json={"question": "Who approves a refund above the limit?", "audience": "agent", "customer_tier": "vip"},
    )
    assert response.status_code == 422
    assert response.headers["access-control-allow-origin"] == SITE  # the widget can read and show the error


def test_widget_never_sees_internal_content(client: TestClient) -> None:
    for question in ["Who can apply account credits in the admin tool?", "Who approves a refund above the limit?"]:
        assert CANARY not in ask(client, question).text


def test_identity_token_names_the_customer_and_bad_tokens_are_refused(
    client: TestClient, service: DeflectService
) -> None:
    good = ask(client, "Best pizza in Naples?", **{"X-Deflect-Identity": token(tier="enterprise", name="Ada")})
    done = dict(parse_sse(good.text))["done"]
    assert done["escalation_id"]
    packet = service.desk.get(done["escalation_id"])
    assert packet.customer_id == "wid_shop:user-42" and packet.customer_tier == "enterprise"
    assert packet.customer_name == "Ada"
    expired = token(exp=int(time.time()) - 10)
    forged = jwt.encode({"sub": "user-42", "exp": int(time.time()) + 300}, "another-secret-of-32-bytes-long!!", "HS256")
    no_exp = jwt.encode({"sub": "user-42"}, SECRET, algorithm="HS256")
    for bad in (expired, forged, no_exp, "not-a-jwt"):
        response = ask(client, "How do I reset my password?", **{"X-Deflect-Identity": bad})
        assert response.status_code == 401, bad
        assert response.json()["error"]["code"] == "unauthorized"


def test_rate_limit_per_session_answers_429_with_retry_after(
    web_settings: Settings, service: DeflectService, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The windows are fixed minutes of the wall clock: with the real clock, asks that straddle a minute's end were
    # counted in two windows and the fourth was let through (seen in CI). The clock stands still here.
    frozen = 1_000_000.0  # 20 s before its window ends
    monkeypatch.setattr("deflect.web.routes.RateLimiter", lambda path: RateLimiter(path, clock=lambda: frozen))
    client = TestClient(create_app(web_settings, service))
    statuses = [ask(client, "How do I reset my password?").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    limited = ask(client, "How do I reset my password?")
    assert int(limited.headers["retry-after"]) == 20
    assert limited.headers["access-control-allow-origin"] == SITE
    assert limited.json()["error"]["code"] == "rate_limited"
    # Another visitor is not held back by this one.
    other = ask(client, "How do I reset my password?", **{"X-Deflect-Session": "sess_another_visitor"})
    assert other.status_code == 200


def test_feedback_anonymous_visitors_share_one_voter(client: TestClient, service: DeflectService) -> None:
    done = dict(parse_sse(ask(client, "How do I reset my password?").text))["done"]
    for session in ("sess_aaaaaaaaaaaa", "sess_bbbbbbbbbbbb"):
        response = client.post(
            f"/widget/v1/wid_shop/answers/{done['id']}/feedback",
            headers={"Origin": SITE, "X-Deflect-Session": session},
            json={"helpful": False},
        )
        assert response.status_code == 201 and response.json()["offer_escalation"] is True
    identified = client.post(
        f"/widget/v1/wid_shop/answers/{done['id']}/feedback",
        headers={"Origin": SITE, **SESSION, "X-Deflect-Identity": token()},
        json={"helpful": True},
    )
    assert identified.status_code == 201
    assert service.feedback is not None
    voters = {r.actor for r in service.feedback.list(answer_id=done["id"])}
    assert voters == {"widget:wid_shop:anonymous", "widget:wid_shop:user:user-42"}


def test_rate_limits_hold_across_processes(tmp_path: Path) -> None:
    path = tmp_path / "limits.sqlite3"
    here = RateLimiter(path)
    assert [here.hit("k", 5) for _ in range(3)] == [0, 0, 0]
    # Another worker process on the same host sees the same counter.
    module = Path(ratelimit.__file__)
    code = (  # the module alone, by its path: a worker needs nothing else of deflect to count
        "import importlib.util, json; from pathlib import Path; "
        f"spec = importlib.util.spec_from_file_location('rl', {str(module)!r}); "
        "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m); "
        f"r = m.RateLimiter(Path({str(path)!r})); print(json.dumps([r.hit('k', 5) for _ in range(3)]))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    other = json.loads(out)
    assert other[:2] == [0, 0] and other[2] > 0


def test_rate_limit_window_resets(tmp_path: Path) -> None:
    now = [1000.0]
    limiter = RateLimiter(tmp_path / "l.sqlite3", window_s=60, clock=lambda: now[0])
    assert [limiter.hit("k", 2) for _ in range(3)] == [0, 0, 20]  # the window of t=1000 ends at 1020
    now[0] = 1021.0
    assert limiter.hit("k", 2) == 0


def test_panel_csp_names_only_the_configured_helpdesks(settings: Settings, service: DeflectService) -> None:
    configured = settings.model_copy(update={"panel_origins": ["https://acme.zendesk.com"]})
    response = TestClient(create_app(configured, service)).get("/panel")
    assert response.status_code == 200
    csp = response.headers["content-security-policy"]
    assert "frame-ancestors 'self' https://acme.zendesk.com" in csp
    assert "script-src 'self' https://static.zdassets.com;" in csp
    assert 'content="https://acme.zendesk.com"' in response.text


def test_static_files_are_whitelisted(client: TestClient) -> None:
    assert client.get("/widget.js").headers["content-type"].startswith("text/javascript")
    assert client.get("/static/deflect/markdown.js").headers["access-control-allow-origin"] == "*"
    assert client.get("/static/deflect/..%2F..%2Fconfig.py").status_code == 404
    assert client.get("/static/deflect/routes.py").status_code == 404


def test_production_serves_no_development_widget(settings: Settings, service: DeflectService) -> None:
    prod = settings.model_copy(update={"env": "production", "widgets": {DEV_WIDGET_ID: [SITE], "wid_shop": [SITE]}})
    client = TestClient(create_app(prod, service))
    assert ask(client, "How do I reset my password?", wid=DEV_WIDGET_ID).status_code == 404
    assert ask(client, "How do I reset my password?", wid="wid_shop").status_code == 200


def test_identified_visitors_see_their_own_requests_only(client: TestClient) -> None:
    mine = dict(parse_sse(ask(client, "Best pizza in Naples?", **{"X-Deflect-Identity": token(sub="ada")}).text))
    bob = {"X-Deflect-Identity": token(sub="bob"), "X-Deflect-Session": "sess_bob_000001"}
    ask(client, "Best pizza in Rome?", **bob)

    def requests(**headers: str) -> Any:
        return client.get("/widget/v1/wid_shop/requests", headers={**SESSION, "Origin": SITE, **headers})

    seen = requests(**{"X-Deflect-Identity": token(sub="ada")})  # e.g. from another device: only the token counts
    assert seen.status_code == 200 and seen.headers["access-control-allow-origin"] == SITE
    assert [(r["id"], r["question"], r["state"]) for r in seen.json()] == [
        (mine["done"]["escalation_id"], "Best pizza in Naples?", "escalated")
    ]
    assert set(seen.json()[0]) == {"id", "question", "state", "created_at"}  # nothing internal
    assert requests().status_code == 401  # anonymous visitors have no history to see
    assert (
        client.get(
            "/widget/v1/wid_shop/requests",
            headers={**SESSION, "Origin": "https://evil.example", "X-Deflect-Identity": token(sub="ada")},
        ).status_code
        == 403
    )
