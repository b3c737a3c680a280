"""CachedEmbedder: each text is embedded once while it stays among the recent ones; the vectors are unchanged."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np
import pytest

from deflect.index.embedder import CachedEmbedder
from deflect.testing import HashEmbedder


def test_vectors_equal_the_inner_embedders_and_the_name_is_kept() -> None:
    inner = HashEmbedder()
    cached = CachedEmbedder(HashEmbedder())
    texts = ["reset my password", "download an invoice", "reset my password"]
    for got, want in zip(cached.embed(texts), inner.embed(texts), strict=True):
        assert got == pytest.approx(want, abs=1e-6)  # stored as float32
    assert cached.name == inner.name


def test_a_text_is_embedded_once_even_when_repeated_in_one_call() -> None:
    inner = HashEmbedder()
    cached = CachedEmbedder(inner)
    cached.embed(["a question", "a question", "another"])
    cached.embed(["a question"])
    assert inner.texts == 2


def test_the_least_recently_used_text_leaves_first() -> None:
    inner = HashEmbedder()
    cached = CachedEmbedder(inner, size=2)
    cached.embed(["one", "two"])
    cached.embed(["one"])  # "one" is now the most recent
    cached.embed(["three"])  # evicts "two"
    before = inner.texts
    cached.embed(["one", "three"])
    assert inner.texts == before
    cached.embed(["two"])
    assert inner.texts == before + 1


def test_threads_sharing_the_cache_get_the_right_vectors() -> None:
    cached = CachedEmbedder(HashEmbedder(), size=16)
    reference = HashEmbedder()
    errors: list[str] = []

    def worker(n: int) -> None:
        for i in range(50):
            text = f"text {(n * 7 + i) % 40}"
            if cached.embed([text])[0] != pytest.approx(reference.embed([text])[0], abs=1e-6):
                errors.append(text)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


class _Prefixing(HashEmbedder):
    """An asymmetric embedder, as e5 is: a question is embedded with a prefix a passage does not get."""

    def embed_questions(self, texts: Sequence[str]) -> list[list[float]]:
        return self.embed([f"query {t}" for t in texts])


def test_a_question_and_a_passage_with_the_same_words_are_cached_apart() -> None:
    inner = _Prefixing()
    cached = CachedEmbedder(inner)
    passage = cached.embed(["reset my password"])[0]
    question = cached.embed_questions(["reset my password"])[0]
    assert question == pytest.approx(inner.embed_questions(["reset my password"])[0], abs=1e-6)
    assert passage == pytest.approx(inner.embed(["reset my password"])[0], abs=1e-6)
    assert question != pytest.approx(passage, abs=1e-3)
    before = inner.texts
    cached.embed_questions(["reset my password"])
    cached.embed(["reset my password"])
    assert inner.texts == before  # each kind was kept


def test_spans_go_to_an_inner_embedder_that_pools_them_and_are_none_otherwise() -> None:
    from deflect.index.embedder import CachedEmbedder

    pooled = CachedEmbedder(HashEmbedder()).embed_spans(["Frob waits for a lock."], [[(0, 10)]])
    assert pooled == HashEmbedder().embed_spans(["Frob waits for a lock."], [[(0, 10)]])

    class Plain:
        name = "plain"

        def embed(self, texts: Sequence[str]) -> list[list[float]]:
            return HashEmbedder().embed(texts)

        def embed_questions(self, texts: Sequence[str]) -> list[list[float]]:
            return self.embed(texts)

    vectors, spans = CachedEmbedder(Plain()).embed_spans(["Frob waits.", "Install."], [[(0, 4), (5, 10)], []])
    assert np.allclose(vectors, HashEmbedder().embed(["Frob waits.", "Install."]))  # kept as float32
    assert spans == [[None, None], []]
