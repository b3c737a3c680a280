"""Incremental, idempotent ingestion: unchanged sources cost nothing, edits converge, nothing is lost.

Every test runs on the in-memory fake and on embedded Chroma, the store production uses, and with and without the
parse memo (which must not change any outcome: tests/ingest/test_memo.py has its own edges).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from deflect.answer.confidence import Calibration
from deflect.config import Settings
from deflect.domain.models import Audience, Chunk, IngestReport
from deflect.domain.ports import Index
from deflect.ingest.chunking import Chunker
from deflect.ingest.pipeline import EMBED_GROUP, Ingestor
from deflect.ingest.sources import parse_paths
from deflect.testing import HashEmbedder, InMemoryIndex
from deflect.testing.keyword import InMemoryKeywordIndex
from deflect.wiring import assemble

KB_SOURCES = {
    "doc:articles/reset-password",
    "doc:articles/invoices",
    "doc:internal/credits",
    "esc:ESC-1",
    "esc:ESC-2",
}
RESET = "doc:articles/reset-password"

Run = Callable[..., IngestReport]

SHORT_RESET = """---
title: Resetting your password
url: https://help.example/accounts/reset-password
audience: public
---
# Resetting your password

Use the Forgot password link on the sign-in page.
"""


@pytest.fixture
def embedder() -> HashEmbedder:
    return HashEmbedder()


@pytest.fixture
def chunker() -> Chunker:
    return Chunker(200, 30)


@pytest.fixture(params=["no memo", "memo"])
def memo_file(request: pytest.FixtureRequest, tmp_path: Path) -> Path | None:
    return tmp_path / "data" / "parse-memo.json" if request.param == "memo" else None


@pytest.fixture
def ingestor(index: Index, embedder: HashEmbedder, chunker: Chunker, memo_file: Path | None) -> Ingestor:
    return Ingestor(index, embedder, chunker, memo_file=memo_file)


@pytest.fixture
def run(ingestor: Ingestor, kb: Path) -> Run:
    """Ingest the whole kb (or the given paths under it)."""

    def go(*paths: Path) -> IngestReport:
        return ingestor.ingest_paths(list(paths) or [kb], kb)

    return go


def by_source(index: Index) -> dict[str, list[Chunk]]:
    out: dict[str, list[Chunk]] = {}
    for chunk in index.chunks():
        out.setdefault(chunk.source_id, []).append(chunk)
    return {sid: sorted(chunks, key=lambda c: c.chunk_id) for sid, chunks in out.items()}


def chunk_ids(index: Index, source_id: str | None = None) -> set[str]:
    return {c.chunk_id for c in index.chunks() if source_id is None or c.source_id == source_id}


def expected_chunks(kb: Path, ingestor: Ingestor, chunker: Chunker, source_id: str) -> list[Chunk]:
    """What a clean ingest of the kb as it is now would store for one source."""
    doc = next(d for d in parse_paths([kb], kb, ingestor.signature).docs if d.source_id == source_id)
    return chunker.chunk(doc)


def write_escalations(path: Path, lines: list[str]) -> None:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def kb_escalation_lines(kb: Path) -> list[str]:
    return (kb / "escalations" / "2026.jsonl").read_text(encoding="utf-8").splitlines()


def test_first_run_adds_every_source(run: Run, index: Index, kb: Path, ingestor: Ingestor, chunker: Chunker) -> None:
    report = run()

    assert (report.added, report.updated, report.deleted, report.unchanged) == (5, 0, 0, 0)
    assert report.errors == []
    stored = by_source(index)
    assert set(stored) == KB_SOURCES
    for source_id, chunks in stored.items():
        assert [c.model_dump(exclude={"embed_text"}) for c in chunks] == [
            c.model_dump(exclude={"embed_text"}) for c in expected_chunks(kb, ingestor, chunker, source_id)
        ]
    assert report.chunks == index.count() == sum(len(c) for c in stored.values())


def test_progress_counts_up_to_every_written_chunk(ingestor: Ingestor, kb: Path, index: Index) -> None:
    seen: list[tuple[int, int]] = []

    ingestor.ingest_paths([kb], kb, progress=lambda done, total: seen.append((done, total)))

    assert len(seen) == 5
    assert seen[-1] == (index.count(), index.count())
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)


def test_many_small_sources_are_embedded_together_and_each_chunk_keeps_its_own_vector(
    index: Index, embedder: HashEmbedder, chunker: Chunker, tmp_path: Path
) -> None:
    kb = tmp_path / "many"
    kb.mkdir()
    # Pages that share one word: their hash vectors are far apart, so Chroma's approximate search finds each one's
    # own (pages sharing six of eight words made a graph in which it missed stored exact matches in ~1 run in 4).
    for i in range(EMBED_GROUP + 40):  # more one-chunk pages than one group holds
        (kb / f"page-{i}.md").write_text(f"# Sheet {i}\n\nalpha{i} beta{i} gamma{i} delta{i}.\n", encoding="utf-8")

    report = Ingestor(index, embedder, chunker).ingest_paths([kb], kb)

    assert report.added == EMBED_GROUP + 40
    assert embedder.calls == 2  # two groups across sources, not one call per source
    for i in (0, EMBED_GROUP - 1, EMBED_GROUP, EMBED_GROUP + 39):
        # Each chunk is nearest to its own text's vector: no vector was paired with another source's chunk.
        vector = embedder.embed([f"Sheet {i}. alpha{i} beta{i} gamma{i} delta{i}."])[0]
        assert index.query(vector, 1, frozenset({"public"}))[0].chunk.source_id == f"doc:page-{i}"


def test_a_group_of_sources_is_written_in_one_call_to_each_index(
    embedder: HashEmbedder, chunker: Chunker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Chroma's write cost is mostly per call, and each keyword write is a commit: one per group, not per source.
    kb = tmp_path / "many"
    kb.mkdir()
    for i in range(EMBED_GROUP + 40):
        (kb / f"page-{i}.md").write_text(f"# Page {i}\n\nThe word w{i}x appears on page {i} only.\n", encoding="utf-8")
    index, keyword = InMemoryIndex(), InMemoryKeywordIndex()
    calls: list[tuple[str, int]] = []

    def counted(name: str, real: Callable[..., None]) -> Callable[..., None]:
        def upsert(chunks: Sequence[Chunk], *rest: object) -> None:
            calls.append((name, len(chunks)))
            real(chunks, *rest)

        return upsert

    monkeypatch.setattr(index, "upsert", counted("vector", index.upsert))
    monkeypatch.setattr(keyword, "upsert", counted("keyword", keyword.upsert))

    Ingestor(index, embedder, chunker, keyword=keyword).ingest_paths([kb], kb)

    sizes = [EMBED_GROUP, 40]
    assert [n for name, n in calls if name == "vector"] == sizes == [n for name, n in calls if name == "keyword"]
    assert index.count() == EMBED_GROUP + 40 == len(keyword.manifest())


class _Overlap:
    """An embedder and an index that meet: the index's first write waits until the embedder starts its second
    group. In line (embed, write, embed, ...) that never happens and the write gives up waiting."""

    def __init__(self, embedder: HashEmbedder) -> None:
        self.embedder, self.index = embedder, InMemoryIndex()
        self.name, self.dimension = embedder.name, embedder.dimension
        self.second_started = threading.Event()
        self.overlapped: bool | None = None

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if self.embedder.calls == 1:
            self.second_started.set()
        return self.embedder.embed(texts)

    def upsert(self, chunks: Sequence[Chunk], embeddings: Sequence[Sequence[float]]) -> None:
        if self.overlapped is None:
            self.overlapped = self.second_started.wait(timeout=5)
        self.index.upsert(chunks, embeddings)

    def __getattr__(self, name: str) -> object:  # the rest of the Index port, as the in-memory index has it
        return getattr(self.index, name)


def test_the_next_group_is_embedded_while_the_current_one_is_written(
    embedder: HashEmbedder, chunker: Chunker, tmp_path: Path
) -> None:
    kb = tmp_path / "many"
    kb.mkdir()
    for i in range(2 * EMBED_GROUP + 10):  # three groups
        (kb / f"page-{i}.md").write_text(f"# Page {i}\n\nThe word w{i}x appears on page {i} only.\n", encoding="utf-8")
    both = _Overlap(embedder)

    report = Ingestor(both, both, chunker).ingest_paths([kb], kb)  # type: ignore[arg-type]

    assert both.overlapped is True
    assert report.added == 2 * EMBED_GROUP + 10 and embedder.calls == 3
    for i in (0, EMBED_GROUP, 2 * EMBED_GROUP + 9):
        vector = embedder.embed([f"Page {i}. The word w{i}x appears on page {i} only."])[0]
        assert both.index.query(vector, 1, frozenset({"public"}))[0].chunk.source_id == f"doc:page-{i}"


def test_a_failed_write_stops_the_ingest_with_its_error(
    embedder: HashEmbedder, chunker: Chunker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kb = tmp_path / "many"
    kb.mkdir()
    for i in range(3 * EMBED_GROUP + 10):  # four groups: the bound on embedding below can fail
        (kb / f"page-{i}.md").write_text(f"# Page {i}\n\nText {i}.\n", encoding="utf-8")
    index = InMemoryIndex()
    writes: list[int] = []

    def failing(chunks: Sequence[Chunk], embeddings: Sequence[Sequence[float]]) -> None:
        writes.append(len(chunks))
        if len(writes) == 2:
            raise RuntimeError("disk full")
        InMemoryIndex.upsert(index, chunks, embeddings)

    monkeypatch.setattr(index, "upsert", failing)

    with pytest.raises(RuntimeError, match="disk full"):
        Ingestor(index, embedder, chunker).ingest_paths([kb], kb)
    # The first group is in (one write per group); nothing embedded past the group after the one being written,
    # so the fourth group never is.
    assert writes == [EMBED_GROUP, EMBED_GROUP] and index.count() == EMBED_GROUP and embedder.calls <= 3


def test_a_second_run_on_an_unchanged_kb_embeds_and_writes_nothing(
    run: Run, index: Index, embedder: HashEmbedder
) -> None:
    run()
    before = index.chunks()
    calls = embedder.calls

    report = run()

    assert embedder.calls == calls
    assert (report.added, report.updated, report.deleted, report.unchanged) == (0, 0, 0, 5)
    assert report.errors == []
    assert sorted(index.chunks(), key=lambda c: c.chunk_id) == sorted(before, key=lambda c: c.chunk_id)


def test_editing_one_file_rewrites_that_source_only_and_drops_its_stale_chunks(
    run: Run, index: Index, kb: Path, embedder: HashEmbedder
) -> None:
    run()
    old_ids = chunk_ids(index, RESET)
    others = {sid: chunks for sid, chunks in by_source(index).items() if sid != RESET}
    assert len(old_ids) == 3
    calls = embedder.calls

    (kb / "articles" / "reset-password.md").write_text(SHORT_RESET, encoding="utf-8")
    report = run()

    assert (report.added, report.updated, report.deleted, report.unchanged) == (0, 1, 0, 4)
    assert embedder.calls == calls + 1  # one source, one batch
    now = by_source(index)
    assert [c.chunk_id for c in now[RESET]] == [f"{RESET}#0"]
    assert now[RESET][0].quotable == "Use the Forgot password link on the sign-in page."
    assert now[RESET][0].source_chunks == 1
    assert not (old_ids - {f"{RESET}#0"}) & chunk_ids(index)
    assert {sid: chunks for sid, chunks in now.items() if sid != RESET} == others
    assert report.chunks == index.count()


def test_deleting_a_file_prunes_its_chunks(run: Run, index: Index, kb: Path) -> None:
    run()

    (kb / "articles" / "invoices.html").unlink()
    report = run()

    assert (report.deleted, report.unchanged) == (1, 4)
    assert report.deleted_sources == ["doc:articles/invoices"]
    assert set(by_source(index)) == KB_SOURCES - {"doc:articles/invoices"}


def test_ingesting_the_kb_keeps_what_came_from_a_folder_outside_it(run: Run, index: Index, tmp_path: Path) -> None:
    # Outside files are named as if their folder sat in the kb (doc:manual/...), but they did not come from under it.
    manual = tmp_path / "elsewhere" / "manual"
    manual.mkdir(parents=True)
    for name in ("install", "upgrade"):
        (manual / f"{name}.md").write_text(f"# {name}\n\nHow to {name} the frobnicator.\n", encoding="utf-8")
    run()
    assert run(manual).added == 2

    again = run()

    assert (again.deleted, again.deleted_sources) == (0, [])
    assert set(by_source(index)) == KB_SOURCES | {"doc:manual/install", "doc:manual/upgrade"}

    (manual / "upgrade.md").unlink()
    pruned = run(manual)

    assert (pruned.deleted, pruned.deleted_sources, pruned.unchanged) == (1, ["doc:manual/upgrade"], 1)
    assert set(by_source(index)) == KB_SOURCES | {"doc:manual/install"}


def test_deleting_an_escalation_line_prunes_that_escalation(run: Run, index: Index, kb: Path) -> None:
    run()

    write_escalations(kb / "escalations" / "2026.jsonl", kb_escalation_lines(kb)[:1])
    report = run()

    assert (report.deleted, report.unchanged) == (1, 4)
    assert set(by_source(index)) == KB_SOURCES - {"esc:ESC-2"}


def test_ingesting_a_subfolder_neither_prunes_nor_touches_sources_outside_it(
    run: Run, index: Index, kb: Path, embedder: HashEmbedder
) -> None:
    run()
    before = by_source(index)
    calls = embedder.calls

    report = run(kb / "articles")

    assert (report.added, report.updated, report.deleted, report.unchanged) == (0, 0, 0, 2)
    assert by_source(index) == before
    assert embedder.calls == calls


def test_ingesting_a_subfolder_prunes_deleted_files_inside_it_only(run: Run, index: Index, kb: Path) -> None:
    run()

    (kb / "articles" / "invoices.html").unlink()
    (kb / "internal" / "credits.md").unlink()
    report = run(kb / "articles")

    assert report.deleted == 1
    assert set(by_source(index)) == KB_SOURCES - {"doc:articles/invoices"}  # credits is outside the scope


def test_ingesting_a_single_file_does_not_prune_its_siblings(run: Run, index: Index, kb: Path) -> None:
    run()

    report = run(kb / "articles" / "reset-password.md")

    assert (report.deleted, report.unchanged) == (0, 1)
    assert set(by_source(index)) == KB_SOURCES


BREAKAGES = {
    "bad YAML": b"---\ntitle: [Resetting\n---\nBody.\n",
    "bad audience": b"---\naudience: everyone\n---\nBody.\n",
    "empty": b"",
    "binary": b"\x00\x01\x02\xff\xfe",
    "not UTF-8": "---\ntitle: Réinitialiser\n---\nCorps.\n".encode("latin-1"),
}


@pytest.mark.parametrize("breakage", list(BREAKAGES))
def test_a_file_that_becomes_malformed_keeps_its_indexed_chunks(
    run: Run, index: Index, kb: Path, breakage: str
) -> None:
    run()
    before = by_source(index)[RESET]

    (kb / "articles" / "reset-password.md").write_bytes(BREAKAGES[breakage])
    report = run()

    assert len(report.errors) == 1
    assert report.errors[0].startswith("articles/reset-password.md")
    assert report.deleted == 0
    assert by_source(index)[RESET] == before
    assert set(by_source(index)) == KB_SOURCES


def test_a_bad_jsonl_line_keeps_the_other_escalations_of_the_file(run: Run, index: Index, kb: Path) -> None:
    first, second = kb_escalation_lines(kb)
    write_escalations(kb / "escalations" / "2026.jsonl", [first, "{broken", second])

    report = run()

    assert len(report.errors) == 1
    assert report.errors[0].startswith("escalations/2026.jsonl:2:")
    assert {"esc:ESC-1", "esc:ESC-2"} <= set(by_source(index))


def test_an_escalation_whose_line_breaks_stays_indexed_while_its_neighbours_update(
    run: Run, index: Index, kb: Path
) -> None:
    run()
    kept = by_source(index)["esc:ESC-2"]
    first, second = kb_escalation_lines(kb)
    new_fix = "Compute the HMAC over the raw body, before any JSON parsing."
    edited = json.loads(first) | {"resolution": new_fix}
    broken = json.loads(second)
    del broken["resolution"]

    write_escalations(kb / "escalations" / "2026.jsonl", [json.dumps(edited), json.dumps(broken)])
    report = run()

    assert report.errors and "missing resolution" in report.errors[0]
    assert (report.updated, report.deleted) == (1, 0)
    stored = by_source(index)
    assert stored["esc:ESC-2"] == kept
    assert stored["esc:ESC-1"][0].quotable == new_fix


def test_an_escalation_moved_to_another_file_records_its_new_origin(run: Run, index: Index, kb: Path) -> None:
    run()
    first, second = kb_escalation_lines(kb)

    write_escalations(kb / "escalations" / "2026.jsonl", [first])
    write_escalations(kb / "escalations" / "2027.jsonl", [second])
    run()

    assert {c.origin for c in by_source(index)["esc:ESC-2"]} == {"escalations/2027.jsonl"}
    # Its new file breaking must now protect it, not leave it to be pruned as a source of the old file.
    (kb / "escalations" / "2027.jsonl").write_bytes(b"\x00 junk")
    report = run()
    assert report.deleted == 0
    assert "esc:ESC-2" in by_source(index)


def partial_write(index: Index, chunks: list[Chunk], embedder: HashEmbedder, keep: int) -> None:
    index.upsert(chunks[:keep], embedder.embed([c.embed_text for c in chunks[:keep]]))


@pytest.mark.parametrize("written", [1, 2], ids=["crash mid-upsert", "crash before deleting stale chunks"])
def test_a_crash_while_rewriting_a_source_is_repaired_by_the_next_run(
    run: Run,
    index: Index,
    kb: Path,
    ingestor: Ingestor,
    chunker: Chunker,
    embedder: HashEmbedder,
    written: int,
) -> None:
    run()  # three chunks of the old version
    path = kb / "articles" / "reset-password.md"
    text = path.read_text(encoding="utf-8")
    path.write_text(
        text.replace("## Account lockout after failed logins\n\n", "").replace(
            "Five failed logins", "\nFive failed logins"
        ),
        encoding="utf-8",
    )
    new = expected_chunks(kb, ingestor, chunker, RESET)
    assert len(new) == 2
    # The crash: some new chunks written, the old ones still there, so the source holds mixed hashes.
    partial_write(index, new, embedder, written)
    assert len({c.source_hash for c in by_source(index)[RESET]}) == 2

    report = run()

    assert report.updated == 1
    stored = by_source(index)[RESET]
    assert [c.chunk_id for c in stored] == [c.chunk_id for c in new]
    assert {c.source_hash for c in stored} == {new[0].source_hash}
    assert [c.text for c in stored] == [c.text for c in new]


def test_a_crash_while_adding_a_new_source_is_repaired_by_the_next_run(
    run: Run, index: Index, kb: Path, ingestor: Ingestor, chunker: Chunker, embedder: HashEmbedder
) -> None:
    new = expected_chunks(kb, ingestor, chunker, RESET)
    partial_write(index, new, embedder, 1)  # one chunk of three, all with the right hash

    report = run()

    assert report.unchanged == 0
    assert [c.chunk_id for c in by_source(index)[RESET]] == [c.chunk_id for c in new]
    assert run().unchanged == 5


@pytest.mark.parametrize("change", ["embedder", "chunker"])
def test_a_new_signature_re_embeds_everything(
    run: Run, index: Index, kb: Path, embedder: HashEmbedder, chunker: Chunker, memo_file: Path | None, change: str
) -> None:
    run()
    before = {c.chunk_id: c.source_hash for c in index.chunks()}
    if change == "embedder":
        new_embedder = HashEmbedder()
        new_embedder.name = "hash-256-retrained"
        ingestor = Ingestor(index, new_embedder, chunker, memo_file=memo_file)
    else:
        new_embedder = embedder
        ingestor = Ingestor(index, embedder, Chunker(200, 20), memo_file=memo_file)
    texts = new_embedder.texts

    report = ingestor.ingest_paths([kb], kb)

    assert (report.updated, report.unchanged, report.deleted) == (5, 0, 0)
    assert new_embedder.texts == texts + index.count()  # every chunk embedded again
    after = {c.chunk_id: c.source_hash for c in index.chunks()}
    assert all(after[cid] != before[cid] for cid in after.keys() & before.keys())
    assert ingestor.ingest_paths([kb], kb).unchanged == 5


# --- through the service ---------------------------------------------------------------------------------


def test_the_service_ingests_incrementally_and_searches_the_fresh_index(
    settings: Settings, index: Index, embedder: HashEmbedder, kb: Path
) -> None:
    calibration = Calibration(embedder="hash-256", weights={}, bias=0.0, threshold=0.5, relevance_floor=0.0)
    service = assemble(settings, index, embedder, calibration=calibration)

    first = service.ingest([kb], kb)
    hits, _ = service.evidence("How do I download an invoice as PDF?", Audience.CUSTOMER)
    assert hits[0].source_id == "doc:articles/invoices"
    calls = embedder.calls
    assert service.ingest([kb], kb).unchanged == first.added == 5
    assert embedder.calls == calls

    (kb / "articles" / "invoices.html").unlink()
    assert service.ingest([kb], kb).deleted == 1

    hits, _ = service.evidence("How do I download an invoice as PDF?", Audience.CUSTOMER)
    assert "doc:articles/invoices" not in {h.source_id for h in hits}
