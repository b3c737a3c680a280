"""LLM answers through a local Ollama server, held to the same rule as extractive ones: every sentence cited
and supported. Sentences without a valid [n] marker, or whose content words are mostly absent from the source
they cite, are dropped; if nothing survives (or Ollama is unreachable) the extractive generator answers.

The model's reply is always read as Ollama's token stream (`stream=True`: NDJSON lines of /api/chat). Each
sentence is checked as soon as it is complete, and `stream()` hands a checked sentence to its `emit` callback at
once, so /v1/ask/stream shows the answer while the model is still writing, and never shows a sentence that the
check drops. /v1/ask reads the same stream the same way, so both end with the same answer. If the stream breaks
after some sentences passed, those are the answer (they were shown already); before any, the fallback answers.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from typing import Any

import httpx
import ollama

from deflect.answer.confidence import content_words
from deflect.config import Settings
from deflect.domain.models import Answer, Citation, SourceHit
from deflect.domain.ports import Generator

log = logging.getLogger(__name__)

SUPPORT_MIN_OVERLAP = 0.6  # share of a sentence's content words that must occur in its cited sources
_MARKER = re.compile(r"\s*\[(\d+)\]")  # with the space before it, so "text [1]." leaves "text."
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
SYSTEM_PROMPT = (
    "You are a support assistant. Answer the customer's question using ONLY the numbered sources. "
    "End every sentence with the marker of the source it comes from, like [1]. If the sources do not answer "
    "the question, reply exactly: NO_ANSWER. Be brief: at most four sentences or a short list of steps."
)


class OllamaGenerator:
    """Generator backed by an Ollama chat model, with a grounded fallback."""

    name = "ollama"

    def __init__(self, client: ollama.Client, model: str, fallback: Generator) -> None:
        self._client = client
        self._model = model
        self._fallback = fallback

    @classmethod
    def from_settings(cls, settings: Settings, fallback: Generator, **client_kwargs: Any) -> OllamaGenerator:
        """A client for `settings.ollama_host`; extra kwargs (e.g. an httpx transport) go to httpx."""
        client = ollama.Client(host=settings.ollama_host, timeout=settings.ollama_timeout_s, **client_kwargs)
        return cls(client, settings.ollama_model, fallback)

    def generate(self, question: str, sources: Sequence[SourceHit]) -> Answer:
        """Ask the model; keep only cited, supported sentences; otherwise fall back."""
        return self.stream(question, sources, None)

    def stream(self, question: str, sources: Sequence[SourceHit], emit: Callable[[str], None] | None) -> Answer:
        """As generate(), handing each checked sentence to `emit` as soon as the model has written it; the
        pieces emitted join to the answer's text. A fallback answer is not emitted (the caller sends it)."""
        if not sources:
            return Answer(text="", citations=[])
        grounding = Grounding(sources)
        try:
            parts = self._client.chat(
                model=self._model,
                messages=[
                    {"role": "system", "content": SYSTEM_PROMPT},
                    {"role": "user", "content": render_prompt(question, sources)},
                ],
                options={"temperature": 0},
                stream=True,
            )
            for part in parts:
                for piece in grounding.feed(str(part["message"]["content"] or "")):
                    if emit is not None:
                        emit(piece)
            for piece in grounding.finish():
                if emit is not None:
                    emit(piece)
        # ollama turns httpx.ConnectError into the builtin ConnectionError, so both must be caught.
        # ValueError covers a 200 reply whose body is not JSON: still a broken server, not our bug.
        except (
            ollama.ResponseError,
            httpx.HTTPError,
            ConnectionError,
            KeyError,
            TypeError,
            ValueError,
        ) as exc:
            if not grounding.kept:
                log.warning("ollama unavailable, using the extractive answer: %s", exc)
                return self._fallback.generate(question, sources)
            # Sentences already checked (and maybe shown) stay the answer; the unfinished one is dropped.
            log.warning("ollama stopped after %d checked sentences; answering with them: %s", len(grounding.kept), exc)
        answer = grounding.answer()
        return answer if answer.citations else self._fallback.generate(question, sources)


def _source_text(source: SourceHit) -> str:
    return "\n".join(c.chunk.quotable for c in source.chunks)


def render_prompt(question: str, sources: Sequence[SourceHit]) -> str:
    """Numbered sources followed by the question."""
    blocks = [f"[{i}] {s.title}\n{_source_text(s)}" for i, s in enumerate(sources, start=1)]
    return "Sources:\n\n" + "\n\n".join(blocks) + f"\n\nQuestion: {question}"


def grounded_answer(text: str, sources: Sequence[SourceHit]) -> Answer:
    """Keep sentences whose markers point at real sources that contain most of their content words."""
    if text.strip() == "NO_ANSWER":
        return Answer(text="", citations=[])
    grounding = Grounding(sources)
    grounding.feed(text)
    grounding.finish()
    return grounding.answer()


class Grounding:
    """The sentence check, fed text as it arrives: a sentence is checked once the text after it shows it ended
    (the same split as on the whole text, so the kept sentences are the same however the text was cut)."""

    def __init__(self, sources: Sequence[SourceHit]) -> None:
        self._sources = sources
        self._numbers: dict[int, int] = {}  # model's source number -> our citation number, in order of use
        self.kept: list[str] = []
        self._pending = ""

    def feed(self, text: str) -> list[str]:
        """Check the sentences `text` completes; the pieces of answer text they add (in order)."""
        parts = _SENTENCE.split(self._pending + text)
        self._pending = parts.pop()  # still open: more of it may come
        return [piece for part in parts if (piece := self._check(part))]

    def finish(self) -> list[str]:
        """The reply ended: check the last sentence."""
        piece, self._pending = self._check(self._pending), ""
        return [piece] if piece else []

    def _check(self, sentence: str) -> str:
        sentence = sentence.strip()
        sources = self._sources
        cited = [int(n) for n in _MARKER.findall(sentence) if 1 <= int(n) <= len(sources)]
        bare = _MARKER.sub("", sentence).strip()
        if not cited or not bare or not _supported(bare, [sources[n - 1] for n in cited]):
            return ""
        for n in cited:
            self._numbers.setdefault(n, len(self._numbers) + 1)
        self.kept.append(bare + " " + "".join(f"[{self._numbers[n]}]" for n in dict.fromkeys(cited)))
        # Joined with single spaces, as the answer text is.
        return self.kept[-1] if len(self.kept) == 1 else " " + self.kept[-1]

    def answer(self) -> Answer:
        """The kept sentences as an answer, citing the sources in order of first use."""
        sources = self._sources
        citations = [
            Citation(
                n=ours,
                source_id=sources[n - 1].source_id,
                title=sources[n - 1].title,
                url=sources[n - 1].url,
                snippet=_source_text(sources[n - 1])[:240],
            )
            for n, ours in self._numbers.items()
        ]
        return Answer(text=" ".join(self.kept), citations=citations, sentences=list(self.kept))


def _supported(sentence: str, cited: Sequence[SourceHit]) -> bool:
    words = content_words(sentence)
    if not words:
        return False
    source_words = content_words(" ".join(_source_text(s) for s in cited))
    return len(words & source_words) / len(words) >= SUPPORT_MIN_OVERLAP
