"""A client that gives up before the reply does not leave an escalation nobody knows it was never told about: the
packet stays (the question was asked) and is marked `handoff_undelivered` in the audit log. Needs a real HTTP
server (TestClient cannot disconnect mid-request), so it runs in the integration tier."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
import uvicorn

from conftest import FAKE_CALIBRATION
from deflect.api import create_app
from deflect.config import DEV_CUSTOMER_KEY, Settings
from deflect.service import DeflectService
from deflect.testing import HashEmbedder
from deflect.testing.faults import FaultyIndex
from deflect.wiring import assemble

pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def served(
    settings: Settings, make_service: Callable[..., DeflectService]
) -> Iterator[tuple[str, DeflectService, FaultyIndex]]:
    index = FaultyIndex()
    slow = settings.model_copy(update={"index_timeout_s": 1.5, "index_retry_after_s": 0.0})
    base = make_service(index=index)
    svc = assemble(slow, index, HashEmbedder(), calibration=FAKE_CALIBRATION, store=base.desk.store)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(slow, svc), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", svc, index
    index.release.set()
    server.should_exit = True
    thread.join(10)


def test_an_abandoned_ask_is_marked_undelivered(served: tuple[str, DeflectService, FaultyIndex]) -> None:
    url, svc, index = served
    index.mode = "hang"  # the ask will take the 1.5 s index deadline, then escalate with index_unavailable

    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            f"{url}/v1/ask",
            json={"question": "How do I reset my password?"},
            headers={"Authorization": f"Bearer {DEV_CUSTOMER_KEY}"},
            timeout=0.3,
        )

    deadline = time.monotonic() + 15
    marked: list[str | None] = []
    while time.monotonic() < deadline and not marked:
        marked = [e.escalation_id for e in svc.desk.store.audit(kind="action") if e.action == "handoff_undelivered"]
        time.sleep(0.1)
    created = [e.escalation_id for e in svc.desk.store.audit(kind="escalation_created")]
    assert created and marked == created


def test_a_delivered_hand_off_is_not_marked(served: tuple[str, DeflectService, FaultyIndex]) -> None:
    url, svc, _ = served

    body = httpx.post(
        f"{url}/v1/ask",
        json={"question": "I want to talk to a human"},
        headers={"Authorization": f"Bearer {DEV_CUSTOMER_KEY}"},
        timeout=30,
    ).json()

    assert body["escalation_id"]
    assert [e for e in svc.desk.store.audit(kind="action") if e.action == "handoff_undelivered"] == []
