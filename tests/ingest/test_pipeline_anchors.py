"""Anchors at ingest: written per linking source, replaced when it is ingested again, deleted with it, kept while it
is unchanged, and put back when the anchor index lacks them. Run on the fake and on embedded Chroma (both stores),
with and without the parse memo. The kb is a made-up `frob` manual of three HTML pages and one internal page."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from deflect.domain.ports import AnchorIndex, Index
from deflect.index.anchors import ChromaAnchorIndex
from deflect.ingest.chunking import Chunker
from deflect.ingest.pipeline import Ingestor
from deflect.testing import HashEmbedder, InMemoryIndex
from deflect.testing.anchors import InMemoryAnchorIndex


def page(title: str, body: str, audience: str = "public") -> str:
    return (
        f"<html><head><title>{title}</title><meta name='audience' content='{audience}'></head>"
        f"<body><main><h1>{title}</h1>{body}</main></body></html>"
    )


LOCKING = page(
    "Locking",
    "<p>Frob waits for a lock. You can change how long with <a href='timeouts.html#set'>frob_set_timeout()</a>.</p>"
    "<p>Retries are described in <a href='timeouts.html'>Timeouts</a>.</p>",
)
TIMEOUTS = page("Timeouts", "<h2 id='set'>Setting it</h2><p>Call frob_set_timeout with milliseconds.</p>")
INSTALL = page("Install", "<p>Install frob from the archive.</p>")
RUNBOOK = page(
    "Runbook", "<p>When a customer's lock hangs, raise <a href='timeouts.html'>the timeout</a> first.</p>", "internal"
)


@pytest.fixture
def kb(tmp_path: Path) -> Path:
    root = tmp_path / "kb"
    root.mkdir()
    for name, html in {"locking": LOCKING, "timeouts": TIMEOUTS, "install": INSTALL, "runbook": RUNBOOK}.items():
        (root / f"{name}.html").write_text(html, encoding="utf-8")
    return root


@pytest.fixture(params=["memory", "chroma"])
def anchors(request: pytest.FixtureRequest, tmp_path: Path) -> AnchorIndex:
    if request.param == "memory":
        return InMemoryAnchorIndex()
    return ChromaAnchorIndex.embedded(tmp_path / "chroma", f"ingest-{uuid.uuid4().hex}", 64)


@pytest.fixture(params=["no memo", "memo"])
def memo_file(request: pytest.FixtureRequest, tmp_path: Path) -> Path | None:
    return tmp_path / "data" / "parse-memo.json" if request.param == "memo" else None


@pytest.fixture
def embedder() -> HashEmbedder:
    return HashEmbedder()


@pytest.fixture
def ingestor(index: Index, anchors: AnchorIndex, embedder: HashEmbedder, memo_file: Path | None) -> Ingestor:
    return Ingestor(index, embedder, Chunker(200, 30), memo_file=memo_file, anchors=anchors)


def sentences(anchors: AnchorIndex, *source_ids: str) -> set[str]:
    return {a.sentence for sid in source_ids or ("doc:locking", "doc:runbook") for a in anchors.of_source(sid)}


def test_each_linking_page_gets_one_record_per_distinct_sentence(
    ingestor: Ingestor, anchors: AnchorIndex, kb: Path
) -> None:
    ingestor.ingest_paths([kb], kb)
    assert anchors.count() == 3
    assert set(anchors.manifest()) == {"doc:locking", "doc:runbook"}
    found = {a.sentence: a for sid in ("doc:locking", "doc:runbook") for a in anchors.of_source(sid)}
    linked = found["You can change how long with frob_set_timeout() ."]
    assert (linked.target, linked.fragment, linked.audience) == ("doc:timeouts", "set", "public")
    assert found["When a customer's lock hangs, raise the timeout first."].audience == "internal"


def test_a_rerun_of_an_unchanged_kb_embeds_and_writes_no_anchor(
    ingestor: Ingestor, anchors: AnchorIndex, embedder: HashEmbedder, kb: Path
) -> None:
    ingestor.ingest_paths([kb], kb)
    before, texts = anchors.manifest(), embedder.texts
    report = ingestor.ingest_paths([kb], kb)
    assert report.unchanged == 4 and embedder.texts == texts
    assert anchors.manifest() == before


def test_an_edited_linking_page_has_its_anchors_replaced(ingestor: Ingestor, anchors: AnchorIndex, kb: Path) -> None:
    ingestor.ingest_paths([kb], kb)
    edited = LOCKING.replace("Retries are described in", "Waiting is tuned in")
    (kb / "locking.html").write_text(edited, encoding="utf-8")
    ingestor.ingest_paths([kb], kb)
    assert "Waiting is tuned in Timeouts ." in sentences(anchors, "doc:locking")
    assert "Retries are described in Timeouts ." not in sentences(anchors)
    assert len(sentences(anchors, "doc:runbook")) == 1  # another page's anchors are untouched


def test_a_page_whose_links_go_loses_its_anchors(ingestor: Ingestor, anchors: AnchorIndex, kb: Path) -> None:
    ingestor.ingest_paths([kb], kb)
    (kb / "locking.html").write_text(page("Locking", "<p>Frob waits for a lock.</p>"), encoding="utf-8")
    ingestor.ingest_paths([kb], kb)
    assert "doc:locking" not in anchors.manifest()


def test_a_deleted_linking_page_takes_its_anchors_with_it(ingestor: Ingestor, anchors: AnchorIndex, kb: Path) -> None:
    ingestor.ingest_paths([kb], kb)
    (kb / "runbook.html").unlink()
    ingestor.ingest_paths([kb], kb)
    assert set(anchors.manifest()) == {"doc:locking"}


def test_missing_anchors_are_written_embedding_only_the_chunks_that_hold_them(
    index: Index, embedder: HashEmbedder, kb: Path, memo_file: Path | None, tmp_path: Path
) -> None:
    # An index built with anchor text off (or an anchor index lost): the next ingest with it on fills it in.
    Ingestor(index, embedder, Chunker(200, 30), memo_file=memo_file).ingest_paths([kb], kb)
    chunks, texts = index.count(), embedder.texts
    anchors = InMemoryAnchorIndex()
    report = Ingestor(index, embedder, Chunker(200, 30), memo_file=memo_file, anchors=anchors).ingest_paths([kb], kb)
    assert report.unchanged == 4 and index.count() == chunks
    linking = len(index.chunks(source_ids={"doc:locking", "doc:runbook"}))
    assert anchors.count() == 3 and embedder.texts == texts + linking and linking < chunks  # no other page's chunk


class Pooling(HashEmbedder):
    """A span's vector unlike its words' alone, as a model's (its tokens have read their neighbours)."""

    def embed_spans(self, texts, spans):  # type: ignore[no-untyped-def]
        vectors, _ = super().embed_spans(texts, spans)
        pooled = [
            [self._vector("pooled " + text[a:b]) for a, b in wanted] for text, wanted in zip(texts, spans, strict=True)
        ]
        return vectors, pooled


def test_missing_anchors_get_the_vectors_a_first_ingest_gives(index: Index, kb: Path) -> None:
    Ingestor(index, Pooling(), Chunker(200, 30)).ingest_paths([kb], kb)
    relinked = InMemoryAnchorIndex()
    Ingestor(index, Pooling(), Chunker(200, 30), anchors=relinked).ingest_paths([kb], kb)
    first = InMemoryAnchorIndex()
    Ingestor(InMemoryIndex(), Pooling(), Chunker(200, 30), anchors=first).ingest_paths([kb], kb)
    assert relinked.count() == 3 and relinked._rows == first._rows
    assert all(vector != Pooling().embed([anchor.sentence])[0] for anchor, vector in first._rows.values())


def test_a_moved_audience_moves_the_anchors(ingestor: Ingestor, anchors: AnchorIndex, kb: Path) -> None:
    ingestor.ingest_paths([kb], kb)
    (kb / "runbook.html").write_text(RUNBOOK.replace("'internal'", "'public'"), encoding="utf-8")
    ingestor.ingest_paths([kb], kb)
    assert [a.audience for a in anchors.of_source("doc:runbook")] == ["public"]
    moved = {a.landing for a in anchors.of_source("doc:runbook")}
    assert moved and set(anchors.landing([1.0] + [0.0] * 255, moved, frozenset({"public"}))) == moved


def test_link_sentences_are_embedded_with_the_chunks_once_each_and_keep_their_own_vector(
    index: Index, kb: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A second page saying the same linking sentence, and enough small pages between them that they fall in
    # different embedding groups (one group holds EMBED_GROUP chunks): the sentence is embedded once in all.
    from deflect.ingest import pipeline

    again = "<p>You can change how long with <a href='timeouts.html#set'>frob_set_timeout()</a>.</p>"
    for i in range(6):
        (kb / f"filler{i}.html").write_text(page(f"Filler {i}", f"<p>Filler page {i} text.</p>"), encoding="utf-8")
    (kb / "zlocking.html").write_text(page("Locking again", again), encoding="utf-8")
    calls: list[list[str]] = []
    pooled: list[str] = []  # the text of each span asked for

    class Recording(HashEmbedder):
        def embed(self, texts: list[str]) -> list[list[float]]:  # type: ignore[override]
            calls.append(list(texts))
            return super().embed(texts)

        def embed_spans(self, texts, spans):  # type: ignore[no-untyped-def]
            pooled.extend(text[a:b] for text, wanted in zip(texts, spans, strict=True) for a, b in wanted)
            return super().embed_spans(texts, spans)

    anchors = InMemoryAnchorIndex()
    ingestor = Ingestor(index, Recording(), Chunker(200, 30), anchors=anchors)
    monkeypatch.setattr(pipeline, "EMBED_GROUP", 2)
    ingestor.ingest_paths([kb], kb)

    sentence = "You can change how long with frob_set_timeout() ."
    assert not any(sentence in call for call in calls)  # never embedded alone: pooled from its chunk's pass
    assert len(pooled) == 3  # the three distinct sentences, each once, though two pages say one of them
    assert any(text.startswith("You can change how long with") for text in pooled)
    assert len(calls) > 2  # several groups, and no call of sentences alone after them
    assert all(any(not text.startswith(("You can", "Retries", "When a")) for text in call) for call in calls)
    reference = HashEmbedder()
    for anchor, vector in anchors._rows.values():
        assert vector == reference.embed([anchor.sentence])[0]  # each record with its own sentence's words
    assert {a.source_id for a, _ in anchors._rows.values()} == {"doc:locking", "doc:zlocking", "doc:runbook"}


def test_a_sentence_no_chunk_holds_is_embedded_alone(index: Index, kb: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A chunk's text and the link's sentence disagree (a parser's quirk): the sentence is embedded by itself.
    from deflect.ingest import spans

    calls: list[list[str]] = []

    class Recording(HashEmbedder):
        def embed(self, texts: list[str]) -> list[list[float]]:  # type: ignore[override]
            calls.append(list(texts))
            return super().embed(texts)

    monkeypatch.setattr(spans.Letters, "find", lambda self, sentence: None)
    anchors = InMemoryAnchorIndex()
    Ingestor(index, Recording(), Chunker(200, 30), anchors=anchors).ingest_paths([kb], kb)
    assert sum(call.count("You can change how long with frob_set_timeout() .") for call in calls) == 1
    assert anchors.count() == 3
