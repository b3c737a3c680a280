"""The sentence-transformers embedder with the packaged MiniLM model (from its PyPI package; no network)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import torch

from deflect.errors import ConfigError
from deflect.index.embedder import SentenceTransformerEmbedder, resolve_model_path
from deflect.offline import offline_environment


@pytest.fixture(scope="module")
def embedder() -> Iterator[SentenceTransformerEmbedder]:
    # As every entry point does before loading a model (the hub library reads these once, when first imported: a
    # model loaded here first would otherwise leave progress bars on for the CLI tests that follow).
    offline_environment()
    before = torch.get_num_threads()
    model = SentenceTransformerEmbedder("minilm", threads=1, batch_size=4, batch_threads=2)
    yield model
    torch.set_num_threads(before)


def spy_threads(embedder: SentenceTransformerEmbedder, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The torch thread count each model call ran with, in the thread that ran it."""
    seen: list[int] = []
    encode = embedder._model.encode

    def spying(*args: Any, **kwargs: Any) -> Any:
        seen.append(torch.get_num_threads())
        return encode(*args, **kwargs)

    monkeypatch.setattr(embedder._model, "encode", spying)
    return seen


def test_a_question_runs_on_one_thread_and_a_batch_on_the_batch_threads(
    embedder: SentenceTransformerEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = spy_threads(embedder, monkeypatch)
    texts = [f"How do I reset password number {i}?" for i in range(6)]

    batch = embedder.embed(texts)
    alone = embedder.embed(texts[:1])
    smaller = embedder.embed(texts[:3])

    assert seen == [2, 1, 1]
    # The same vectors whichever count ran them (float rounding aside).
    assert np.allclose(batch[0], alone[0], atol=1e-5) and np.allclose(batch[:3], smaller, atol=1e-5)
    assert np.linalg.norm(alone[0]) == pytest.approx(1.0, abs=1e-5)


def test_a_question_after_a_batch_in_another_thread_still_runs_on_one(
    embedder: SentenceTransformerEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = spy_threads(embedder, monkeypatch)
    # Six texts: a batch, under the 4 x 2 that the per-core path takes, so it runs on two torch threads.
    ingest = threading.Thread(target=embedder.embed, args=([f"chunk {i}" for i in range(6)],))
    ingest.start()
    ingest.join()
    asked: list[int] = []

    def ask() -> None:
        embedder.embed(["a question"])
        asked.append(torch.get_num_threads())

    embedder.embed(["a question in the first thread"])
    other = threading.Thread(target=ask)  # a thread started after the batch raised torch's default
    other.start()
    other.join()

    assert seen == [2, 1, 1] and asked == [1]


def test_many_texts_are_shared_between_cores_each_on_one_thread_in_order(
    embedder: SentenceTransformerEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    texts = [f"Chunk {i}: " + "how to configure the backup schedule " * (i % 5) for i in range(11)]
    one_call = [embedder.embed([t])[0] for t in texts]
    seen = spy_threads(embedder, monkeypatch)
    batches: list[list[str]] = []
    encode = embedder._encode

    def spying(part: list[str]) -> list[list[float]]:
        batches.append(part)
        return encode(part)

    monkeypatch.setattr(embedder, "_encode", spying)

    shared = embedder.embed(texts)  # 11 >= batch 4 x 2 threads

    assert seen == [1, 1, 1]  # three batches of at most 4, each encoded on one torch thread
    assert sorted(len(b) for b in batches) == [3, 4, 4]
    # Cut from the texts sorted longest first: no batch holds a text shorter than one of a later batch's.
    cut = sorted(batches, key=lambda b: -max(map(len, b)))
    assert all(min(map(len, a)) >= max(map(len, b)) for a, b in zip(cut, cut[1:], strict=False))
    assert len(shared) == len(texts)
    assert np.allclose(shared, one_call, atol=1e-5)  # each text keeps its own vector, in the order given


TEXT = (
    "Backups run every night at two in the morning. "
    "To restore a single file, call restore_file() with its path and the snapshot's date."
)
SECOND = (TEXT.index("To restore"), len(TEXT) - 1)  # up to its last letter, as spans.py finds a sentence


def cosine(a: list[float], b: list[float]) -> float:
    return float(np.dot(a, b))


def test_a_span_is_pooled_from_its_texts_own_pass(embedder: SentenceTransformerEmbedder) -> None:
    vectors, pooled = embedder.embed_spans([TEXT, "Another text."], [[SECOND], []])
    assert np.allclose(vectors, embedder.embed([TEXT, "Another text."]), atol=1e-6)  # the texts as embed gives them
    span = pooled[0][0]
    assert span is not None and pooled[1] == [] and abs(np.linalg.norm(span) - 1) < 1e-5
    alone_second, alone_first = embedder.embed([TEXT[SECOND[0] :], TEXT[: SECOND[0]]])
    # Its own sentence's words, read in context: nearer that sentence alone than the text's other sentence.
    assert cosine(span, alone_second) > cosine(span, alone_first) + 0.1
    assert cosine(span, vectors[0]) < 0.99  # not the whole text's vector
    whole = embedder.embed_spans([TEXT], [[(0, len(TEXT))]])[1][0][0]
    assert whole is not None and cosine(whole, vectors[0]) > 0.98  # all its words: nearly the text's own vector


def test_a_span_past_what_the_model_reads_has_no_vector(embedder: SentenceTransformerEmbedder) -> None:
    long = "word " * 400 + TEXT
    start = long.index("To restore")
    _, pooled = embedder.embed_spans([long, TEXT], [[(start, len(long) - 1), (0, 4)], [SECOND]])
    assert pooled[0][0] is None and pooled[0][1] is not None and pooled[1][0] is not None


def test_spans_of_many_texts_are_the_same_shared_between_cores(embedder: SentenceTransformerEmbedder) -> None:
    texts = [f"Note {i}. " + TEXT for i in range(9)]  # 9 >= batch 4 x 2 threads
    spans = [[(len(f"Note {i}. ") + SECOND[0], len(texts[i]) - 1)] if i % 2 else [] for i in range(9)]
    vectors, pooled = embedder.embed_spans(texts, spans)
    for i in range(9):
        one_vectors, one_pooled = embedder.embed_spans([texts[i]], [spans[i]])
        assert np.allclose(vectors[i], one_vectors[0], atol=1e-5)
        assert len(pooled[i]) == len(spans[i])
        if spans[i]:
            assert np.allclose(pooled[i][0], one_pooled[0][0], atol=1e-5)  # type: ignore[arg-type]


class _Interleaving:
    """The model's tokenizer backend, which once, inside a batch's tokenization (after the batch's padding was set,
    before its texts are encoded), lets another thread pool a span: the moment at which session 23's span pooling
    turned the shared tokenizer's padding off under the other thread's batch (an ingest failed part-way with
    "Unable to create tensor ... padding=True" in 2 of 3 runs on a real manual)."""

    def __init__(self, backend: Any, embedder: SentenceTransformerEmbedder) -> None:
        self._backend = backend
        self._embedder = embedder
        self.interleaved = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._backend, name)

    def encode_batch(self, *args: Any, **kwargs: Any) -> Any:
        if not self.interleaved:
            self.interleaved = True
            other = threading.Thread(target=self._embedder.embed_spans, args=([TEXT], [[SECOND]]))
            other.start()
            other.join()
        return self._backend.encode_batch(*args, **kwargs)


def test_a_span_pooled_in_another_thread_leaves_a_batch_being_encoded_intact(
    embedder: SentenceTransformerEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokenizer = embedder._model.tokenizer
    spy = _Interleaving(tokenizer._tokenizer, embedder)
    monkeypatch.setattr(tokenizer, "_tokenizer", spy)
    texts = ["Short.", "A longer text of several words, so that the batch needs padding to one length.", TEXT]
    vectors = embedder.embed(texts)  # texts of three lengths in one batch: padded, or the batch cannot be a tensor
    assert spy.interleaved
    monkeypatch.setattr(tokenizer, "_tokenizer", spy._backend)
    assert np.allclose(vectors, embedder.embed(texts), atol=1e-6)


def test_an_unknown_model_is_refused_naming_every_alias_deflect_accepts() -> None:
    with pytest.raises(ConfigError) as refused:
        resolve_model_path("nonsense")
    for alias in ("minilm", "mpnet", "e5"):
        assert alias in refused.value.message
