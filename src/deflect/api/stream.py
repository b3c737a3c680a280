"""POST /v1/ask/stream: the same ask as /v1/ask, told as Server-Sent Events.

Events: `meta` (answer id, conversation id) first, at once; `citations` (with each source's audience, and related
resolved escalations), `decision` (answer or escalate, reasons, confidence, escalation id, hand-off message and the
pages suggested with it), `delta` (answer text), `done` (the whole AskResult, equal to what /v1/ask returns), or `error`
({"error": {code, message, details}}) if the ask fails after the stream began. A `: keepalive` comment is sent every
KEEPALIVE_S seconds while the answer is being worked out.

Where the `delta`s come: with a generator that writes as it goes (Ollama), each sentence is sent as soon as the
model finished it and it passed the citation check, before `citations` and `decision`; with the extractive one
the answer is there at once, and is sent sentence by sentence after `decision`. Either way the deltas join to the
final answer text (or to the hand-off message when the question was escalated).

The ask runs to completion (decision audited, escalation committed) before the first event that names its result,
exactly as /v1/ask commits before it responds: no client is told about an escalation that was not stored. Its
work runs in a worker thread, so a client that goes away does not cut a commit in half.
"""

# No `from __future__ import annotations`: FastAPI resolves `Depends(caller)` from a name local to the factory.

import asyncio
import json
import logging
import re
from collections.abc import AsyncIterator, Callable, Iterator
from functools import partial
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends
from fastapi.responses import StreamingResponse

from deflect.api.auth import Caller, CallerDependency, Role
from deflect.api.errors import error_body
from deflect.config import Settings
from deflect.domain.models import AskResult, Audience, Citation, Decision
from deflect.errors import DeflectError
from deflect.service import DeflectService, new_answer_id, validate_question

log = logging.getLogger(__name__)

KEEPALIVE_S = 15.0
RELATED_MAX = 3
# A sentence ends at . ! or ? followed by space, or at a line break; each piece keeps its trailing whitespace, so
# the pieces join back to exactly the answer text.
_PIECE = re.compile(r".+?(?:[.!?](?=\s)\s*|\n+|$)", re.S)
_NUMBER = re.compile(r"\s*\d{1,3}[.)]\s*")


def sse(event: str, data: Any) -> str:
    """One Server-Sent Event; the JSON has no raw newlines, so it fits one `data:` line."""
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False, separators=(',', ':'))}\n\n"


def pieces(text: str) -> list[str]:
    """The answer text split into sentences and lines; ''.join(pieces(t)) == t. A list number ("2. ") stays
    with the sentence it numbers."""
    out: list[str] = []
    for match in _PIECE.finditer(text):
        piece = match.group(0)
        if out and _NUMBER.fullmatch(out[-1]):
            out[-1] += piece
        elif piece:
            out.append(piece)
    return out


def source_info(svc: DeflectService, source_ids: list[str], audience: Audience) -> dict[str, dict[str, str]]:
    """Title and audience (public/internal) of each source, read through the service's index with the caller's
    own audience filter, so a customer's stream can never learn about an internal source."""
    if not source_ids:
        return {}
    info: dict[str, dict[str, str]] = {}
    for chunk in svc.index.chunks(audiences=audience.visible(), source_ids=source_ids):
        info.setdefault(chunk.source_id, {"title": chunk.title, "url": chunk.url, "audience": chunk.audience})
    return info


def _with_audience(citations: list[Citation], info: dict[str, dict[str, str]]) -> list[dict[str, Any]]:
    """Citations as sent to a client, each with its source's audience (public unless the index says internal)."""
    return [c.model_dump() | {"audience": info.get(c.source_id, {}).get("audience", "public")} for c in citations]


def result_events(result: AskResult, info: dict[str, dict[str, str]], streamed: str = "") -> Iterator[str]:
    """The events that tell `result`, after `meta` and the deltas already `streamed` while it was written."""
    cited = {c.source_id for c in result.citations}
    citations = _with_audience(result.citations, info)
    related = [
        {"source_id": sid} | info[sid]
        for sid in result.retrieved
        if sid.startswith("esc:") and sid not in cited and sid in info
    ][:RELATED_MAX]
    yield sse("citations", {"citations": citations, "related": related})
    escalated = result.decision is Decision.ESCALATE
    yield sse(
        "decision",
        {
            "decision": result.decision.value,
            "reasons": result.reasons,
            "confidence": result.confidence,
            "escalation_id": result.escalation_id,
            "priority": result.priority,
            "handoff": result.answer if escalated else None,
            "draft_answer": result.draft_answer,
            "draft_below_threshold": result.draft_below_threshold,
            "draft_citations": _with_audience(result.draft_citations, info),
            "suggested": [p.model_dump() for p in result.suggested],
        },
    )
    rest = result.answer
    if streamed:
        if result.answer.startswith(streamed):
            rest = result.answer[len(streamed) :]
        else:  # cannot happen (streamed text is the answer's start); `done` carries the truth for the client
            log.error("streamed text is not the start of answer %s", result.id)
    for piece in pieces(rest):
        yield sse("delta", {"text": piece})
    yield sse("done", result.model_dump(mode="json"))


async def ask_stream(
    ask: Callable[..., AskResult],
    describe: Callable[[AskResult], dict[str, dict[str, str]]],
    meta: dict[str, Any],
    keepalive_s: float = KEEPALIVE_S,
    undelivered: Callable[[AskResult], None] | None = None,
) -> AsyncIterator[str]:
    """Send `meta`, run `ask(on_text=...)` in a worker thread, sending the text it hands out as `delta`s and
    keepalives while it works, then the events of its result.

    If the client goes away before the `decision` event that names an escalation was sent, `undelivered(result)`
    is called (once the ask has finished), so the team knows the asker was never told."""
    loop = asyncio.get_running_loop()
    texts: asyncio.Queue[str] = asyncio.Queue()

    def on_text(text: str) -> None:  # called in the worker thread
        loop.call_soon_threadsafe(texts.put_nowait, text)

    def run() -> tuple[AskResult, dict[str, dict[str, str]]]:
        result = ask(on_text=on_text)
        return result, describe(result)

    def report(result: AskResult) -> None:
        if undelivered is not None and result.escalation_id:
            undelivered(result)

    work = asyncio.ensure_future(anyio.to_thread.run_sync(run))
    delivered = False
    streamed: list[str] = []
    try:
        yield sse("meta", meta)
        while not work.done():
            text = asyncio.ensure_future(texts.get())
            done, _ = await asyncio.wait({work, text}, timeout=keepalive_s, return_when=asyncio.FIRST_COMPLETED)
            if text in done:
                streamed.append(text.result())
                yield sse("delta", {"text": streamed[-1]})
                continue
            text.cancel()  # not done: cancelling it takes nothing off the queue
            if not done:
                yield ": keepalive\n\n"
        # The worker's last texts were queued before its result was set (both go through the loop in order).
        while not texts.empty():
            streamed.append(texts.get_nowait())
            yield sse("delta", {"text": streamed[-1]})
        result, info = work.result()
        for event in result_events(result, info, "".join(streamed)):
            yield event
            # A generator resumes only after its last piece was sent: past the decision, the asker was told.
            delivered = delivered or event.startswith("event: decision")
    except DeflectError as exc:
        yield sse("error", error_body(exc.code, exc.message, exc.details))
    except Exception:
        log.exception("streamed ask failed")
        yield sse("error", error_body("internal_error", "an internal error occurred"))
    finally:
        if not delivered:
            if work.done():
                if not work.cancelled() and work.exception() is None:
                    with anyio.CancelScope(shield=True):
                        await anyio.to_thread.run_sync(report, work.result()[0])
            else:  # the client left while the ask was still working: report when it is done
                work.add_done_callback(lambda f: None if f.cancelled() or f.exception() else report(f.result()[0]))


def event_stream(events: AsyncIterator[str]) -> StreamingResponse:
    """An SSE response that proxies (nginx) do not buffer."""
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(events, media_type="text/event-stream", headers=headers)


def ask_arguments(body: Any, who: Caller) -> dict[str, Any]:
    """svc.ask's keyword arguments from an AskRequest, as for /v1/ask: who the customer is comes from the
    credential; with a customer key the body can only *claim* an identity (it sets no priority, SLA or repeat)."""
    trusted = who.role is not Role.CUSTOMER
    claimed = {"id": body.customer_id, "name": body.customer_name, "tier": body.customer_tier}
    return {
        "conversation_id": body.conversation_id,
        "conversation": body.conversation,
        "customer_id": body.customer_id if trusted else None,
        "customer_name": body.customer_name if trusted else None,
        "customer_tier": body.customer_tier if trusted else None,
        "claimed_customer": None if trusted else {k: v for k, v in claimed.items() if v},
        # The customer key that asked is the one that may withdraw the escalation (self_serve).
        "requester": None if trusted else who.actor,
    }


def stream_router(
    settings: Settings, svc: DeflectService, caller: CallerDependency, keepalive_s: float = KEEPALIVE_S
) -> APIRouter:
    """POST /v1/ask/stream with the same keys and body as POST /v1/ask."""
    from deflect.api.app import AskRequest

    router = APIRouter(prefix="/v1", tags=["ask"])

    @router.post(
        "/ask/stream",
        summary="Answer a question or escalate it, streamed as Server-Sent Events",
        response_class=StreamingResponse,
        responses={200: {"content": {"text/event-stream": {}}, "description": "meta citations decision delta* done"}},
    )
    def ask_streamed(body: AskRequest, who: Annotated[Caller, Depends(caller)]) -> StreamingResponse:
        # Refuse a bad question with the usual 422 before the stream starts, not as an event after a 200.
        validate_question(body.question, settings.max_question_chars)

        answer_id = new_answer_id()
        ask = partial(svc.ask, body.question, who.audience, answer_id=answer_id, **ask_arguments(body, who))
        meta = {"id": answer_id, "conversation_id": body.conversation_id, "audience": who.audience.value}

        def describe(result: AskResult) -> dict[str, dict[str, str]]:
            cited = [c.source_id for c in [*result.citations, *result.draft_citations]]
            return source_info(svc, cited + result.retrieved, who.audience)

        return event_stream(ask_stream(ask, describe, meta, keepalive_s, svc.report_undelivered))

    return router
