"""Request ids and JSON logs: every log line written while serving a request carries that request's id, in
whatever thread the request ran code, and the id comes back in the response."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from deflect.api import create_app
from deflect.config import DEV_CUSTOMER_KEY, Settings
from deflect.logs import JsonFormatter, RequestIdFilter
from deflect.pii import PiiLogFilter
from deflect.service import DeflectService

CUSTOMER = {"Authorization": f"Bearer {DEV_CUSTOMER_KEY}"}
log = logging.getLogger("deflect.test.requestids")


@pytest.fixture
def lines() -> Iterator[io.StringIO]:
    """A JSON handler on the root logger, filtered as deflect's own: scrubbed, then stamped with the request id."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(PiiLogFilter())
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield out
    root.removeHandler(handler)
    root.setLevel(level)


def client_logging(settings: Settings, service: DeflectService) -> TestClient:
    app = create_app(settings, service)

    def shout(n: int) -> dict[str, int]:  # a sync route: FastAPI runs it in a worker thread
        log.warning("handled %d for ops@example.com", n)
        return {"n": n}

    app.add_api_route("/test/log/{n}", shout)
    return TestClient(app)


def test_every_line_of_a_request_carries_its_id_and_the_response_echoes_it(
    settings: Settings, service: DeflectService, lines: io.StringIO
) -> None:
    client = client_logging(settings, service)

    given = client.get("/test/log/1", headers={"X-Request-ID": "req-42.a_b"})
    made = client.get("/test/log/2")
    log.warning("outside any request")

    assert given.headers["x-request-id"] == "req-42.a_b"
    assert len(made.headers["x-request-id"]) == 32 and made.headers["x-request-id"] != "req-42.a_b"
    entries = [json.loads(line) for line in lines.getvalue().splitlines()]
    mine = {e["message"].split(" for ")[0]: e for e in entries if e["logger"] == log.name}
    assert mine["handled 1"]["request_id"] == "req-42.a_b"
    assert mine["handled 2"]["request_id"] == made.headers["x-request-id"]
    assert mine["outside any request"]["request_id"] is None
    assert all("ops@example.com" not in line for line in lines.getvalue().splitlines())  # scrubbed before formatting
    assert {"at", "level", "logger", "message", "request_id"} <= set(mine["handled 1"])


@pytest.mark.parametrize("bad", ["has space", "x" * 65, "new\\nline", "a;b=c", ""])
def test_an_unsafe_caller_id_is_replaced(settings: Settings, service: DeflectService, bad: str) -> None:
    response = TestClient(create_app(settings, service)).get("/healthz", headers={"X-Request-ID": bad})

    assert response.headers["x-request-id"] != bad
    assert len(response.headers["x-request-id"]) == 32


def test_an_ask_is_logged_with_its_request_id(settings: Settings, service: DeflectService, lines: io.StringIO) -> None:
    client = TestClient(create_app(settings, service))
    service.observers.append(lambda result: logging.getLogger("deflect.test.ask").info("asked %s", result.id))

    response = client.post("/v1/ask", json={"question": "How do I reset my password?"}, headers=CUSTOMER)

    entries = [json.loads(line) for line in lines.getvalue().splitlines()]
    asked = [e for e in entries if e["logger"] == "deflect.test.ask"]
    assert asked and asked[0]["request_id"] == response.headers["x-request-id"]
