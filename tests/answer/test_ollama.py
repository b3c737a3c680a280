"""OllamaGenerator: only cited, supported sentences survive; anything else falls back to the grounded one.

No Ollama server can run in the test environment, so the boundary is faked at the HTTP level: the real
`ollama` client talks to an `httpx.MockTransport` that answers `POST /api/chat` the way an Ollama server
does. Everything above the socket (request building, response parsing, the ollama library's error mapping)
is the real code.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from deflect.answer.ollama import OllamaGenerator
from deflect.config import Settings
from deflect.domain.models import SourceHit
from deflect.testing import ScriptedGenerator

from .builders import source

Handler = Callable[[httpx.Request], httpx.Response]

PASSWORD = "Open the sign-in page and click Forgot password. The reset link we email you is valid for 60 minutes."
INVOICES = "Download invoices as PDF files from the billing page. Invoices are issued on the first day of each month."
QUESTION = "How long is the reset link valid, and where are invoices?"
GOOD = "The reset link is valid for 60 minutes [1]."
FALLBACK = "Fallback answer [1]."


@pytest.fixture
def sources() -> list[SourceHit]:
    return [source("pw", PASSWORD), source("inv", INVOICES, score=0.9)]


@pytest.fixture
def ollama_settings() -> Settings:
    return Settings(ollama_model="tiny-test:1b", ollama_host="http://127.0.0.1:11434", _env_file=None)  # type: ignore[call-arg]


def chat_reply(content: str, seen: list[httpx.Request] | None = None) -> Handler:
    """A handler answering /api/chat like an Ollama server, recording each request."""

    def handle(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        if request.method != "POST" or request.url.path != "/api/chat":
            return httpx.Response(404, json={"error": "not found"})
        body = json.loads(request.content)
        return httpx.Response(
            200,
            json={
                "model": body["model"],
                "created_at": "2026-01-01T00:00:00.000000Z",
                "message": {"role": "assistant", "content": content},
                "done": True,
                "done_reason": "stop",
            },
        )

    return handle


def build(settings: Settings, handler: Handler) -> tuple[OllamaGenerator, ScriptedGenerator]:
    fallback = ScriptedGenerator(FALLBACK)
    transport = httpx.MockTransport(handler)
    generator = OllamaGenerator.from_settings(settings, fallback=fallback, transport=transport)
    return generator, fallback


def test_the_request_carries_model_temperature_sources_and_question(
    ollama_settings: Settings, sources: list[SourceHit]
) -> None:
    seen: list[httpx.Request] = []
    generator, _ = build(ollama_settings, chat_reply(GOOD, seen))

    generator.generate(QUESTION, sources)

    (request,) = seen
    assert request.method == "POST"
    assert request.url.path == "/api/chat"
    body = json.loads(request.content)
    assert body["model"] == "tiny-test:1b"
    assert body["options"]["temperature"] == 0
    prompt = body["messages"][-1]["content"]
    assert body["messages"][-1]["role"] == "user"
    assert f"[1] {sources[0].title}\n{PASSWORD}" in prompt
    assert f"[2] {sources[1].title}\n{INVOICES}" in prompt
    assert prompt.index("[1]") < prompt.index("[2]") < prompt.index(QUESTION)


def test_a_cited_supported_reply_becomes_the_answer_renumbered_in_order_of_use(
    ollama_settings: Settings, sources: list[SourceHit]
) -> None:
    reply = (
        "Invoices can be downloaded as PDF files from the billing page [2]. The reset link is valid for 60 minutes [1]."
    )
    generator, fallback = build(ollama_settings, chat_reply(reply))

    answer = generator.generate(QUESTION, sources)

    assert fallback.calls == []
    assert answer.text == (
        "Invoices can be downloaded as PDF files from the billing page. [1] The reset link is valid for 60 minutes. [2]"
    )
    assert [(c.n, c.source_id) for c in answer.citations] == [(1, "inv"), (2, "pw")]
    assert answer.citations[0].url == sources[1].url
    assert len(answer.sentences) == 2


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param("Invoices are issued on the first day of each month [9].", id="cites-missing-source"),
        pytest.param("Invoices are issued on the first day of each month.", id="no-marker"),
        pytest.param("Refunds are processed by the finance team within ten days [1].", id="hallucination"),
        pytest.param("Invoices are issued on the first day of each month [1].", id="wrong-source"),
    ],
)
def test_unsupported_or_uncited_sentences_are_dropped(
    ollama_settings: Settings, sources: list[SourceHit], bad: str
) -> None:
    generator, fallback = build(ollama_settings, chat_reply(f"{GOOD} {bad}"))

    answer = generator.generate(QUESTION, sources)

    assert fallback.calls == []
    assert answer.text == "The reset link is valid for 60 minutes. [1]"
    assert [c.source_id for c in answer.citations] == ["pw"]


def test_no_answer_reply_uses_the_fallback(ollama_settings: Settings, sources: list[SourceHit]) -> None:
    generator, fallback = build(ollama_settings, chat_reply("NO_ANSWER"))

    answer = generator.generate(QUESTION, sources)

    assert fallback.calls == [(QUESTION, ["pw", "inv"])]
    assert answer.text == FALLBACK


def test_a_reply_with_no_surviving_sentence_uses_the_fallback(
    ollama_settings: Settings, sources: list[SourceHit]
) -> None:
    generator, fallback = build(ollama_settings, chat_reply("Refunds take ten days [1]. Call us anytime."))

    answer = generator.generate(QUESTION, sources)

    assert len(fallback.calls) == 1
    assert answer.text == FALLBACK


def _server_error(request: httpx.Request) -> httpx.Response:
    return httpx.Response(500, json={"error": "model runner crashed"})


def _model_missing(request: httpx.Request) -> httpx.Response:
    return httpx.Response(404, json={"error": "model 'tiny-test:1b' not found"})


def _refused(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


def _timeout(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadTimeout("timed out", request=request)


@pytest.mark.parametrize(
    "handler",
    [_server_error, _model_missing, _refused, _timeout],
    ids=["http-500", "http-404", "connect-error", "read-timeout"],
)
def test_an_unreachable_or_failing_server_uses_the_fallback(
    ollama_settings: Settings, sources: list[SourceHit], handler: Handler
) -> None:
    generator, fallback = build(ollama_settings, handler)

    answer = generator.generate(QUESTION, sources)

    assert fallback.calls == [(QUESTION, ["pw", "inv"])]
    assert answer.text == FALLBACK


def test_no_sources_means_no_request_and_an_empty_answer(ollama_settings: Settings) -> None:
    seen: list[httpx.Request] = []
    generator, fallback = build(ollama_settings, chat_reply(GOOD, seen))

    answer = generator.generate(QUESTION, [])

    assert seen == []
    assert fallback.calls == []
    assert answer.text == "" and answer.citations == []
