"""LLM answers through a local Ollama server, held to the same rule as extractive ones: every sentence cited
and supported. Sentences without a valid [n] marker, or whose content words are mostly absent from the source
they cite, are dropped; if nothing survives (or Ollama is unreachable) the extractive generator answers.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
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
        if not sources:
            return Answer(text="", citations=[])
        try:
            response = self._client.chat(
                model=self._model,
                messages=[
                    {"role": "system", "content": SYSTEM_PROMPT},
                    {"role": "user", "content": render_prompt(question, sources)},
                ],
                options={"temperature": 0},
            )
            text = str(response["message"]["content"] or "")
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
            log.warning("ollama unavailable, using the extractive answer: %s", exc)
            return self._fallback.generate(question, sources)
        answer = grounded_answer(text, sources)
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
    numbers: dict[int, int] = {}  # model's source number -> our citation number, in order of use
    kept: list[str] = []
    for sentence in (s.strip() for s in _SENTENCE.split(text)):
        cited = [int(n) for n in _MARKER.findall(sentence) if 1 <= int(n) <= len(sources)]
        bare = _MARKER.sub("", sentence).strip()
        if not cited or not bare or not _supported(bare, [sources[n - 1] for n in cited]):
            continue
        for n in cited:
            numbers.setdefault(n, len(numbers) + 1)
        kept.append(bare + " " + "".join(f"[{numbers[n]}]" for n in dict.fromkeys(cited)))
    citations = [
        Citation(
            n=ours,
            source_id=sources[n - 1].source_id,
            title=sources[n - 1].title,
            url=sources[n - 1].url,
            snippet=_source_text(sources[n - 1])[:240],
        )
        for n, ours in numbers.items()
    ]
    return Answer(text=" ".join(kept), citations=citations, sentences=kept)


def _supported(sentence: str, cited: Sequence[SourceHit]) -> bool:
    words = content_words(sentence)
    if not words:
        return False
    source_words = content_words(" ".join(_source_text(s) for s in cited))
    return len(words & source_words) / len(words) >= SUPPORT_MIN_OVERLAP
