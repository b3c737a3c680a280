"""POST /v1/ask/stream (src/deflect/api/stream.py): the events, their order, and a final state equal to /v1/ask.

These run over the fake-backed service with FastAPI's TestClient (no browser); the browser tests read the same
stream through the panel and the widget."""

from __future__ import annotations

import asyncio
import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.conftest import CANARY, FAKE_CALIBRATION

from deflect.api import create_app
from deflect.api.stream import ask_stream, pieces
from deflect.config import DEV_AGENT_KEY, DEV_CUSTOMER_KEY, Settings
from deflect.domain.models import AskResult
from deflect.errors import IndexUnavailable
from deflect.service import DeflectService
from deflect.testing import HashEmbedder, InMemoryIndex
from deflect.testing.store import InMemoryStore
from deflect.wiring import assemble

CUSTOMER = {"Authorization": f"Bearer {DEV_CUSTOMER_KEY}"}
AGENT = {"Authorization": f"Bearer {DEV_AGENT_KEY}"}
ANSWERABLE = "How do I reset my password?"
OUT_OF_SCOPE = "What is the weather on Mars tomorrow?"
# Fields that differ between two asks of the same question by design.
PER_ASK = {"id", "latency_ms", "escalation_id"}


def parse_sse(text: str) -> list[tuple[str, Any]]:
    """Events as (name, data); comments (keepalives) as ("", comment text)."""
    events: list[tuple[str, Any]] = []
    for block in text.split("\n\n"):
        if not block.strip():
            continue
        if block.startswith(":"):
            events.append(("", block[1:].strip()))
            continue
        name, data = "", ""
        for line in block.splitlines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data += line[6:]
        events.append((name, json.loads(data)))
    return events


def same_but_ids(result: dict[str, Any]) -> dict[str, Any]:
    """The result without what differs per ask by design (its ids, its latency; the hand-off names the id)."""
    kept = {k: v for k, v in result.items() if k not in PER_ASK}
    if result["escalation_id"]:
        kept["answer"] = kept["answer"].replace(result["escalation_id"], "<escalation id>")
    return kept


@pytest.fixture
def client(settings: Settings, service: DeflectService) -> TestClient:
    return TestClient(create_app(settings, service))


def stream(client: TestClient, headers: dict[str, str], **body: Any) -> list[tuple[str, Any]]:
    with client.stream("POST", "/v1/ask/stream", headers=headers, json=body) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        return parse_sse(response.read().decode())


def test_events_in_order_and_deltas_rebuild_the_answer(client: TestClient) -> None:
    events = stream(client, CUSTOMER, question=ANSWERABLE)
    names = [n for n, _ in events]
    assert names[:3] == ["meta", "citations", "decision"]
    assert names[-1] == "done"
    assert set(names[3:-1]) == {"delta"} and len(names[3:-1]) >= 1
    done = events[-1][1]
    assert done["decision"] == "answer"
    assert "".join(d["text"] for n, d in events if n == "delta") == done["answer"]
    assert events[0][1]["id"] == done["id"]
    citations = events[1][1]["citations"]
    assert [c["source_id"] for c in citations] == [c["source_id"] for c in done["citations"]]
    assert all(c["audience"] == "public" for c in citations)


@pytest.mark.parametrize("question", [ANSWERABLE, OUT_OF_SCOPE])
@pytest.mark.parametrize("headers", [CUSTOMER, AGENT], ids=["customer", "agent"])
def test_final_state_equals_ask(client: TestClient, question: str, headers: dict[str, str]) -> None:
    plain = client.post("/v1/ask", headers=headers, json={"question": question}).json()
    done = stream(client, headers, question=question)[-1][1]
    assert (done["escalation_id"] is None) == (plain["escalation_id"] is None)
    assert same_but_ids(done) == same_but_ids(plain)


def test_escalation_is_committed_before_the_decision_names_it(client: TestClient, service: DeflectService) -> None:
    events = stream(client, CUSTOMER, question=OUT_OF_SCOPE)
    decision = dict(events)["decision"]
    assert decision["decision"] == "escalate"
    assert decision["handoff"] and decision["escalation_id"] in decision["handoff"]
    stored = service.desk.get(decision["escalation_id"])
    assert stored.question == OUT_OF_SCOPE


def test_agent_sees_internal_sources_marked(client: TestClient) -> None:
    events = dict(stream(client, AGENT, question="Who can apply account credits in the admin tool?"))
    marked = {c["source_id"]: c["audience"] for c in events["citations"]["citations"]}
    assert marked.get("doc:internal/credits") == "internal"


def test_customer_stream_never_carries_internal_content(client: TestClient) -> None:
    for question in ["Who can apply account credits in the admin tool?", "Who approves a refund above the limit?"]:
        with client.stream("POST", "/v1/ask/stream", headers=CUSTOMER, json={"question": question}) as response:
            text = response.read().decode()
        assert CANARY not in text
        assert '"internal"' not in text


def test_the_decision_event_carries_the_pages_suggested_with_the_hand_off(settings: Settings) -> None:
    # A threshold no answer reaches: the question escalates for low confidence alone, which is when pages are offered.
    strict = settings.model_copy(update={"confidence_threshold": 0.999})
    svc = assemble(strict, InMemoryIndex(), HashEmbedder(), calibration=FAKE_CALIBRATION, store=InMemoryStore())
    svc.ingest([strict.kb_dir], strict.kb_dir)
    client = TestClient(create_app(strict, svc))

    events = stream(client, CUSTOMER, question="How do I apply account credits in the admin tool?")
    decision, done = dict(events)["decision"], events[-1][1]

    assert decision["reasons"] == ["low_confidence"]
    assert decision["suggested"] and decision["suggested"] == done["suggested"]
    # The first page comes quoted, the others do not; the hand-off says what the quotation is.
    assert decision["suggested"][0]["excerpt"] and all(not p["excerpt"] for p in decision["suggested"][1:])
    assert decision["handoff"].endswith(svc.desk.config.messages.suggestions_excerpt)
    asked = client.post(
        "/v1/ask", headers=CUSTOMER, json={"question": "How do I apply account credits in the admin tool?"}
    )
    assert asked.json()["suggested"] == decision["suggested"]  # /v1/ask returns the same pages and excerpt
    assert not any(p["source_id"].startswith("doc:internal/") for p in decision["suggested"])
    assert CANARY not in json.dumps(events)
    agent = dict(stream(client, AGENT, question=ANSWERABLE))["decision"]
    assert agent["reasons"] == ["low_confidence"] and agent["suggested"] == []


def test_bad_requests_are_refused_before_the_stream(client: TestClient) -> None:
    assert client.post("/v1/ask/stream", json={"question": ANSWERABLE}).status_code == 401
    response = client.post("/v1/ask/stream", headers=CUSTOMER, json={"question": "   "})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_failed"


def test_pieces_join_back_exactly() -> None:
    for text in ["", "One. Two! Three?", "1. Open it.\n2. Click it.\n\nDone [1].", "No end", "a.b. c"]:
        assert "".join(pieces(text)) == text
    assert pieces("First [1]. Second [2].") == ["First [1]. ", "Second [2]."]
    assert pieces("1. Open it.\n2. Click.") == ["1. Open it.\n", "2. Click."]


def run_async(coroutine: Any) -> Any:
    """asyncio.run in a thread of its own: a test session that also drives Playwright's sync API has an event
    loop running in the main thread already."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


META = {"id": "ans_1", "conversation_id": None, "audience": "customer"}


async def _collect(keepalive_s: float, ask: Any) -> list[str]:
    return [event async for event in ask_stream(ask, lambda r: {}, META, keepalive_s)]


def test_keepalive_while_the_ask_works_and_error_event_on_failure() -> None:
    def slow(on_text: Any) -> AskResult:
        time.sleep(0.35)
        raise IndexUnavailable("the index did not answer")

    out = run_async(_collect(0.1, slow))
    assert parse_sse(out[0]) == [("meta", META)]  # at once, before the answer is worked out
    assert out[1] == ": keepalive\n\n" and out.count(": keepalive\n\n") >= 2
    name, body = parse_sse(out[-1])[0]
    assert name == "error"
    assert body == {"error": {"code": "index_unavailable", "message": "the index did not answer", "details": []}}


def test_a_customer_key_only_claims_who_it_is(client: TestClient, service: DeflectService) -> None:
    body = {"question": OUT_OF_SCOPE, "customer_id": "c-1", "customer_tier": "vip", "customer_name": "Ana"}
    done = dict(stream(client, CUSTOMER, **body))["done"]
    packet = service.desk.get(done["escalation_id"])
    assert packet.customer_id is None and packet.customer_tier is None  # a claim sets no priority or SLA
    agent_done = dict(stream(client, AGENT, **body))["done"]
    assert service.desk.get(agent_done["escalation_id"]).customer_tier == "vip"


def test_an_asker_who_leaves_before_the_decision_is_reported() -> None:
    from deflect.domain.models import Decision

    result = AskResult(
        id="ans_1",
        question="q",
        audience="customer",
        decision=Decision.ESCALATE,
        answer="handed off esc_1",
        citations=[],
        confidence=0.1,
        reasons=["low_confidence"],
        latency_ms=1.0,
        escalation_id="esc_1",
    )
    reported: list[str] = []

    async def leave_after(n: int) -> None:
        events = ask_stream(
            lambda on_text: result, lambda r: {}, META, 5.0, lambda r: reported.append(str(r.escalation_id))
        )
        for _ in range(n):
            await events.__anext__()
        await events.aclose()  # what Starlette does when the client disconnects

    run_async(leave_after(2))  # heard `meta` and `citations`, not the decision
    assert reported == ["esc_1"]
    run_async(leave_after(4))  # meta, citations, decision, and the stream went on: the asker was told
    assert reported == ["esc_1"]
