"""/v1/ask/stream with the Ollama generator: the model's tokens become `delta`s while it is still writing, each
sentence only after it passed the citation check, and the stream ends in the state /v1/ask ends in.

No Ollama server runs here, so the boundary is faked at the HTTP level, speaking Ollama's documented streaming
protocol for `POST /api/chat` with `"stream": true`: a 200 `application/x-ndjson` body, one JSON object per line,
each `{"model", "created_at", "message": {"role": "assistant", "content": <next tokens>}, "done": false}`, then a
last object with `"done": true`, `"done_reason": "stop"` and the timing counters; an error during generation comes
as a line `{"error": "..."}`. The real `ollama` client reads it through an httpx.MockTransport; everything above
the socket (the client's parsing, OllamaGenerator, the service, the SSE route) is the real code.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from deflect.answer.ollama import Grounding, OllamaGenerator, grounded_answer
from deflect.api import create_app
from deflect.api.stream import ask_stream
from deflect.config import DEV_AGENT_KEY, DEV_CUSTOMER_KEY, Settings
from deflect.domain.models import Audience
from deflect.service import DeflectService
from deflect.testing import ScriptedGenerator

from .test_stream import OUT_OF_SCOPE, parse_sse, run_async, same_but_ids

CUSTOMER = {"Authorization": f"Bearer {DEV_CUSTOMER_KEY}"}
AGENT = {"Authorization": f"Bearer {DEV_AGENT_KEY}"}
QUESTION = "How do I reset my password?"
TITLE = "Resetting your password"
# What the fake model writes: two sentences the password article supports, and one between them that no source
# supports (it must never be shown, not even for a moment).
FIRST = "Open the sign-in page and click Forgot password {n}."
UNSUPPORTED = "Refunds are processed by the finance team within ten days {n}."
LAST = "The reset link we email you is valid for 60 minutes {n}."


def tokens(text: str) -> list[str]:
    """Cut like a model's tokens: words with their leading space, punctuation and markers on their own."""
    return re.findall(r"\s*\[\d+\]|\s*\w+|\s*[^\w\s]", text)


class FakeOllama:
    """Answers POST /api/chat with "stream": true as Ollama does; `hold_after` tokens are sent, then it waits for
    `release` before sending the rest (to see what the client shows meanwhile)."""

    def __init__(self, hold_after: int | None = None, fail_after: int | None = None) -> None:
        self.hold_after = hold_after
        self.fail_after = fail_after
        self.release = threading.Event()
        self.sent: list[str] = []
        self.requests: list[dict[str, Any]] = []

    def reply(self, prompt: str) -> str:
        # The model cites the prompt's number of the password article.
        n = re.search(rf"^\[(\d+)\] {TITLE}$", prompt, re.M)
        marker = f"[{n.group(1) if n else 1}]"
        return " ".join(s.format(n=marker) for s in (FIRST, UNSUPPORTED, LAST))

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.method != "POST" or request.url.path != "/api/chat":
            return httpx.Response(404, json={"error": "not found"})
        body = json.loads(request.content)
        self.requests.append(body)
        lines = self._lines(body["model"], self.reply(body["messages"][-1]["content"]))
        return httpx.Response(200, headers={"Content-Type": "application/x-ndjson"}, content=lines)

    def _lines(self, model: str, text: str) -> Iterator[bytes]:
        stamp = "2026-11-30T04:00:00.000000Z"
        for i, token in enumerate(tokens(text)):
            if i == self.hold_after:
                assert self.release.wait(10), "the test never released the fake model"
            if i == self.fail_after:
                yield json.dumps({"error": "model runner has unexpectedly stopped"}).encode() + b"\n"
                return
            self.sent.append(token)
            part = {"model": model, "created_at": stamp, "message": {"role": "assistant", "content": token}}
            yield json.dumps(part | {"done": False}).encode() + b"\n"
        last = {"model": model, "created_at": stamp, "message": {"role": "assistant", "content": ""}, "done": True}
        counters = {"total_duration": 1, "load_duration": 1, "prompt_eval_count": 1, "eval_count": 1}
        yield json.dumps(last | {"done_reason": "stop"} | counters).encode() + b"\n"


@pytest.fixture
def build(settings: Settings, make_service: Callable[..., DeflectService]) -> Callable[[FakeOllama], DeflectService]:
    def make(fake: FakeOllama) -> DeflectService:
        generator = OllamaGenerator.from_settings(
            settings, fallback=ScriptedGenerator("Fallback answer [1]."), transport=httpx.MockTransport(fake)
        )
        return make_service(generator=generator)

    return make


async def events_of(svc: DeflectService, fake: FakeOllama) -> tuple[list[tuple[str, Any]], list[str]]:
    """The stream's events; and, at the first delta, what the fake model had written by then."""
    ask = partial(svc.ask, QUESTION, Audience.CUSTOMER, answer_id="ans_stream")
    meta = {"id": "ans_stream", "conversation_id": None, "audience": "customer"}
    events: list[tuple[str, Any]] = []
    written_at_first_delta: list[str] = []
    async for raw in ask_stream(ask, lambda r: {}, meta, keepalive_s=5.0):
        events.extend(parse_sse(raw))
        if events[-1][0] == "delta" and not written_at_first_delta:
            written_at_first_delta = list(fake.sent)
            fake.release.set()
        await asyncio.sleep(0)
    return events, written_at_first_delta


def test_a_checked_sentence_is_shown_while_the_model_still_writes(
    build: Callable[[FakeOllama], DeflectService],
) -> None:
    first_sentence_tokens = len(tokens(FIRST.format(n="[1]")))
    fake = FakeOllama(hold_after=first_sentence_tokens + 1)  # the first sentence and the next word, then it waits
    svc = build(fake)

    events, written = run_async(events_of(svc, fake))

    names = [n for n, _ in events]
    assert names[0] == "meta" and names[1] == "delta", names
    # The first delta came while the model had written only the first sentence and one more word.
    assert "".join(written).strip().startswith("Open the sign-in page") and "60 minutes" not in "".join(written)
    assert events[1][1]["text"].startswith("Open the sign-in page and click Forgot password.")
    done = events[-1][1]
    assert names[-1] == "done" and done["decision"] == "answer"
    deltas = [d["text"] for n, d in events if n == "delta"]
    assert "".join(deltas) == done["answer"]
    assert "60 minutes" in done["answer"]
    # Streamed deltas come before citations and the decision (only what was left comes after; here nothing).
    assert names.index("citations") > max(i for i, n in enumerate(names) if n == "delta")
    # The unsupported sentence was never shown, in any event.
    assert all("Refunds" not in json.dumps(data) for _, data in events)


@pytest.mark.parametrize("question", [QUESTION, OUT_OF_SCOPE])
@pytest.mark.parametrize("headers", [CUSTOMER, AGENT], ids=["customer", "agent"])
def test_final_state_equals_ask(
    build: Callable[[FakeOllama], DeflectService], settings: Settings, question: str, headers: dict[str, str]
) -> None:
    client = TestClient(create_app(settings, build(FakeOllama())))
    plain = client.post("/v1/ask", headers=headers, json={"question": question}).json()
    with client.stream("POST", "/v1/ask/stream", headers=headers, json={"question": question}) as response:
        events = parse_sse(response.read().decode())
    done = events[-1][1]

    assert events[0] == ("meta", {"id": done["id"], "conversation_id": None, "audience": plain["audience"]})
    assert same_but_ids(done) == same_but_ids(plain)
    assert "".join(d["text"] for n, d in events if n == "delta") == done["answer"]
    if question == QUESTION:
        assert done["decision"] == "answer" and "Refunds" not in done["answer"]


def test_a_model_that_fails_mid_answer_keeps_the_sentences_already_shown(
    build: Callable[[FakeOllama], DeflectService], settings: Settings
) -> None:
    fails_after_first = len(tokens(f"{FIRST.format(n='[1]')} {UNSUPPORTED.format(n='[1]')} The"))
    client = TestClient(create_app(settings, build(FakeOllama(fail_after=fails_after_first))))

    plain = client.post("/v1/ask", headers=CUSTOMER, json={"question": QUESTION}).json()
    with client.stream("POST", "/v1/ask/stream", headers=CUSTOMER, json={"question": QUESTION}) as response:
        events = parse_sse(response.read().decode())

    assert plain["decision"] == "answer"
    assert plain["answer"].startswith("Open the sign-in page") and "60 minutes" not in plain["answer"]
    done = events[-1][1]
    assert same_but_ids(done) == same_but_ids(plain)
    assert "".join(d["text"] for n, d in events if n == "delta") == done["answer"]


REPLY = (
    "Open the sign-in page and click Forgot password [1]. Refunds take ten days [1].\n\n"
    "1. Enter your work email address [1].\n2. The reset link is valid for 60 minutes [2]! Done? NO [3]"
)
PASSWORD = (
    "Open the sign-in page and click Forgot password. Enter your work email address. "
    "Open the reset link we email you; the reset link is valid for 60 minutes."
)


@pytest.mark.parametrize("cut", [1, 2, 3, 5, 8, 1000])
def test_checking_as_the_text_arrives_keeps_what_checking_it_whole_keeps(cut: int) -> None:
    from tests.answer.builders import source

    sources = [source("pw", PASSWORD), source("pw2", PASSWORD)]
    grounding = Grounding(sources)
    pieces: list[str] = []
    for start in range(0, len(REPLY), cut):
        pieces += grounding.feed(REPLY[start : start + cut])
    pieces += grounding.finish()

    whole = grounded_answer(REPLY, sources)
    assert "".join(pieces) == whole.text == grounding.answer().text
    assert grounding.answer().citations == whole.citations
    assert len(whole.sentences) == 3  # two of five dropped: unsupported, and citing a source that is not there
