"""The parse memo: an unchanged file is not parsed again, and nothing else about an ingest changes.

Each test counts the files actually parsed (the memo's parse on a miss, the pipeline's on a source the index lacks)
and checks the index against what a clean ingest stores, on the in-memory index and on embedded Chroma.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest
from tests.conftest import FAKE_CALIBRATION, write_kb

from deflect.config import Settings
from deflect.domain.models import IngestReport
from deflect.domain.ports import Index
from deflect.ingest import memo as memo_module
from deflect.ingest import pipeline
from deflect.ingest import sources as sources_module
from deflect.ingest.chunking import Chunker
from deflect.ingest.memo import ParseMemo
from deflect.ingest.pipeline import Ingestor
from deflect.testing import HashEmbedder, InMemoryIndex
from deflect.wiring import assemble

EVERY_FILE = {"articles/reset-password.md", "articles/invoices.html", "internal/credits.md", "escalations/2026.jsonl"}


@pytest.fixture
def memo_file(tmp_path: Path) -> Path:
    return tmp_path / "data" / "parse-memo.json"


@pytest.fixture
def parsed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The origins of the files parsed, in order, whichever path parsed them."""
    seen: list[str] = []
    real_bytes = memo_module.parse_bytes
    assert sources_module.parse_bytes is real_bytes

    def parse_bytes(raw: bytes, path: Path, origin: str, *args: object) -> object:
        seen.append(origin)
        return real_bytes(raw, path, origin, *args)  # type: ignore[arg-type]

    # The memo's misses, a folder's files (deflect.ingest.parallel, here in this process) and the pipeline's
    # parse_file all end in one of these two names.
    monkeypatch.setattr(memo_module, "parse_bytes", parse_bytes)
    monkeypatch.setattr(sources_module, "parse_bytes", parse_bytes)
    return seen


def ingestor(index: Index, memo_file: Path | None, chunker: Chunker | None = None) -> Ingestor:
    return Ingestor(index, HashEmbedder(), chunker or Chunker(200, 30), memo_file=memo_file)


def stored(index: Index) -> list[dict[str, object]]:
    # Chroma does not give back the embedded text (only the vector), so it is left out of the comparison.
    return sorted((c.model_dump(exclude={"embed_text"}) for c in index.chunks()), key=lambda c: str(c["chunk_id"]))


def clean(kb: Path, tmp_path: Path, chunker: Chunker | None = None) -> list[dict[str, object]]:
    """What an ingest without a memo into an empty index stores for the kb as it is now."""
    fresh = InMemoryIndex()
    ingestor(fresh, None, chunker).ingest_paths([kb], kb)
    return stored(fresh)


def statuses(report: IngestReport) -> dict[str, str]:
    return {f.path: f.status for f in report.files}


def test_a_rerun_parses_no_file_and_reports_every_file_unchanged(
    index: Index, kb: Path, memo_file: Path, parsed: list[str]
) -> None:
    first = ingestor(index, memo_file).ingest_paths([kb], kb)
    assert set(parsed) == EVERY_FILE
    parsed.clear()

    again = ingestor(index, memo_file).ingest_paths([kb], kb)

    assert parsed == []
    assert (again.added, again.updated, again.deleted, again.unchanged) == (0, 0, 0, 5)
    assert statuses(again) == dict.fromkeys(EVERY_FILE, "unchanged")
    # The file reports still name each file's sources and what was inferred for them.
    assert [(f.sources, f.inferred) for f in again.files] == [(f.sources, f.inferred) for f in first.files]


def test_an_edit_that_keeps_size_and_mtime_is_still_parsed_and_ingested(
    index: Index, kb: Path, tmp_path: Path, memo_file: Path, parsed: list[str]
) -> None:
    ingestor(index, memo_file).ingest_paths([kb], kb)
    path = kb / "articles" / "reset-password.md"
    before = path.stat()
    text = path.read_text(encoding="utf-8")
    edited = text.replace("Forgot password", "Forgot passw0rd")
    assert edited != text and len(edited) == len(text)
    path.write_text(edited, encoding="utf-8")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    parsed.clear()

    report = ingestor(index, memo_file).ingest_paths([kb], kb)

    assert parsed == ["articles/reset-password.md"]
    assert (report.updated, report.unchanged) == (1, 4)
    assert stored(index) == clean(kb, tmp_path)


def test_a_removed_file_is_pruned_and_forgotten(
    index: Index, kb: Path, tmp_path: Path, memo_file: Path, parsed: list[str]
) -> None:
    ingestor(index, memo_file).ingest_paths([kb], kb)
    (kb / "articles" / "invoices.html").unlink()

    report = ingestor(index, memo_file).ingest_paths([kb], kb)

    assert (report.deleted, report.unchanged) == (1, 4)
    assert stored(index) == clean(kb, tmp_path)
    remembered = json.loads(memo_file.read_text(encoding="utf-8"))["files"]
    assert not any(name.endswith("invoices.html") for name in remembered)


def test_a_renamed_file_is_parsed_under_its_new_name_and_the_old_source_pruned(
    index: Index, kb: Path, tmp_path: Path, memo_file: Path, parsed: list[str]
) -> None:
    ingestor(index, memo_file).ingest_paths([kb], kb)
    (kb / "articles" / "invoices.html").rename(kb / "articles" / "billing.html")
    parsed.clear()

    report = ingestor(index, memo_file).ingest_paths([kb], kb)

    assert parsed == ["articles/billing.html"]
    assert (report.added, report.deleted, report.unchanged) == (1, 1, 4)
    assert {c.source_id for c in index.chunks()} >= {"doc:articles/billing"}
    assert stored(index) == clean(kb, tmp_path)


@pytest.mark.parametrize(
    "chunker",
    [Chunker(200, 30, page_lead=True), Chunker(120, 30)],
    ids=["DEFLECT_EMBED_PAGE_LEAD on", "another chunk size"],
)
def test_a_changed_chunker_setting_parses_and_rewrites_everything(
    index: Index, kb: Path, tmp_path: Path, memo_file: Path, parsed: list[str], chunker: Chunker
) -> None:
    ingestor(index, memo_file).ingest_paths([kb], kb)
    parsed.clear()

    report = ingestor(index, memo_file, chunker).ingest_paths([kb], kb)

    assert set(parsed) == EVERY_FILE
    assert (report.updated, report.unchanged) == (5, 0)
    assert stored(index) == clean(kb, tmp_path, chunker)


def test_the_page_lead_setting_reaches_the_memo_through_the_service(
    settings: Settings, kb: Path, parsed: list[str]
) -> None:
    """DEFLECT_EMBED_PAGE_LEAD as a deployment sets it: Settings -> wiring -> the chunker's signature."""
    index = InMemoryIndex()
    assemble(settings, index, HashEmbedder(), calibration=FAKE_CALIBRATION).ingest([kb], kb)
    assert settings.parse_memo_path.is_file()
    parsed.clear()
    with_lead = settings.model_copy(update={"embed_page_lead": not settings.embed_page_lead})

    report = assemble(with_lead, index, HashEmbedder(), calibration=FAKE_CALIBRATION).ingest([kb], kb)

    assert set(parsed) == EVERY_FILE
    assert report.unchanged == 0


def test_a_changed_folder_rule_parses_everything_again(
    index: Index, kb: Path, tmp_path: Path, memo_file: Path, parsed: list[str]
) -> None:
    # The sample files state their url and audience; this one leaves them to the folder's rules.
    (kb / "articles" / "plain.md").write_text("# Plain\n\nNothing stated here.\n", encoding="utf-8")
    ingestor(index, memo_file).ingest_paths([kb], kb)
    parsed.clear()
    (kb / "deflect.yaml").write_text("base_url: https://docs.example/\ndefault_audience: internal\n", encoding="utf-8")

    report = ingestor(index, memo_file).ingest_paths([kb], kb)

    assert set(parsed) == EVERY_FILE | {"articles/plain.md"}
    assert (report.updated, report.unchanged) == (1, 5)
    plain = next(c for c in index.chunks() if c.source_id == "doc:articles/plain")
    assert (plain.url, plain.audience) == ("https://docs.example/articles/plain.md", "internal")
    assert stored(index) == clean(kb, tmp_path)


def test_a_changed_parser_parses_everything_again(
    index: Index, kb: Path, memo_file: Path, parsed: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ingestor(index, memo_file).ingest_paths([kb], kb)
    parsed.clear()
    monkeypatch.setattr(memo_module, "parser_fingerprint", lambda: "a new html.py")

    ingestor(index, memo_file).ingest_paths([kb], kb)

    assert set(parsed) == EVERY_FILE


@pytest.mark.parametrize("library", ["docutils", "markdown-it-py"])
def test_the_parser_fingerprint_changes_with_the_rst_and_markdown_parsers_versions(
    library: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    memo_module.parser_fingerprint.cache_clear()
    before = memo_module.parser_fingerprint()
    real = memo_module.metadata.version
    monkeypatch.setattr(memo_module.metadata, "version", lambda name: "99.0" if name == library else real(name))
    memo_module.parser_fingerprint.cache_clear()

    try:
        assert memo_module.parser_fingerprint() != before  # .rst (or MyST) files parse again, once
    finally:
        monkeypatch.undo()
        memo_module.parser_fingerprint.cache_clear()


@pytest.mark.parametrize(
    "damage",
    [b"", b"{not json", b"\xff\xfe\x00", b"[]", b'{"format": 1, "files": []}', b'{"format": 1, "files": {"x": 3}}'],
    ids=["empty", "truncated", "binary", "a list", "files not a mapping", "an entry not a mapping"],
)
def test_a_damaged_memo_parses_everything_and_is_rewritten(
    index: Index, kb: Path, tmp_path: Path, memo_file: Path, parsed: list[str], damage: bytes
) -> None:
    ingestor(index, memo_file).ingest_paths([kb], kb)
    memo_file.write_bytes(damage)
    parsed.clear()

    report = ingestor(index, memo_file).ingest_paths([kb], kb)

    assert set(parsed) == EVERY_FILE
    assert (report.unchanged, report.errors) == (5, [])
    assert stored(index) == clean(kb, tmp_path)
    parsed.clear()
    ingestor(index, memo_file).ingest_paths([kb], kb)
    assert parsed == []


def test_an_entry_naming_other_hashes_is_not_trusted_over_the_index(
    index: Index, kb: Path, tmp_path: Path, memo_file: Path, parsed: list[str]
) -> None:
    """A memo that lies about a file's sources (hand-edited, or from another index) cannot hide a source: a hash
    the index does not hold sends the file to the parser."""
    ingestor(index, memo_file).ingest_paths([kb], kb)
    data = json.loads(memo_file.read_text(encoding="utf-8"))
    for entry in data["files"].values():
        for source in entry["sources"]:
            source["hash"] = "0" * 32
    memo_file.write_text(json.dumps(data), encoding="utf-8")
    parsed.clear()

    report = ingestor(index, memo_file).ingest_paths([kb], kb)

    assert set(parsed) == EVERY_FILE
    assert (report.updated, report.unchanged) == (5, 0)
    assert stored(index) == clean(kb, tmp_path)


def test_a_memo_with_an_empty_index_still_fills_the_index(
    kb: Path, tmp_path: Path, memo_file: Path, parsed: list[str]
) -> None:
    """The index is the manifest: a wiped (or another) index gets every source, though no file changed."""
    ingestor(InMemoryIndex(), memo_file).ingest_paths([kb], kb)
    parsed.clear()
    wiped = InMemoryIndex()

    report = ingestor(wiped, memo_file).ingest_paths([kb], kb)

    assert set(parsed) == EVERY_FILE
    assert report.added == 5
    assert stored(wiped) == clean(kb, tmp_path)


def test_a_source_lost_from_the_index_is_parsed_from_its_file_alone(
    index: Index, kb: Path, tmp_path: Path, memo_file: Path, parsed: list[str]
) -> None:
    ingestor(index, memo_file).ingest_paths([kb], kb)
    index.delete_chunks({c.chunk_id for c in index.chunks() if c.source_id == "esc:ESC-2"})
    parsed.clear()

    report = ingestor(index, memo_file).ingest_paths([kb], kb)

    assert parsed == ["escalations/2026.jsonl"]
    assert (report.added, report.unchanged) == (1, 4)
    assert stored(index) == clean(kb, tmp_path)


def test_a_file_that_failed_to_parse_is_parsed_every_time_and_keeps_its_chunks(
    index: Index, kb: Path, memo_file: Path, parsed: list[str]
) -> None:
    ingestor(index, memo_file).ingest_paths([kb], kb)
    kept = [c for c in index.chunks() if c.origin == "internal/credits.md"]
    (kb / "internal" / "credits.md").write_text("---\ntitle: [unclosed\n---\nbody\n", encoding="utf-8")
    for _ in range(2):
        parsed.clear()
        report = ingestor(index, memo_file).ingest_paths([kb], kb)
        assert parsed == ["internal/credits.md"]
        assert statuses(report)["internal/credits.md"] == "failed"
    assert sorted(c.chunk_id for c in index.chunks() if c.origin == "internal/credits.md") == sorted(
        c.chunk_id for c in kept
    )


def test_a_duplicate_source_id_is_reported_on_every_run(index: Index, kb: Path, memo_file: Path) -> None:
    escalations = (kb / "escalations" / "2026.jsonl").read_text(encoding="utf-8")
    (kb / "escalations" / "copy.jsonl").write_text(escalations.splitlines()[0] + "\n", encoding="utf-8")
    for _ in range(2):
        report = ingestor(index, memo_file).ingest_paths([kb], kb)
        assert any("duplicate source id esc:ESC-1" in e for e in report.errors)
        assert statuses(report)["escalations/copy.jsonl"] == "failed"


def test_a_file_edited_after_the_scan_is_reported_not_lost(
    index: Index, kb: Path, memo_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The scan found a remembered file, the index lacks its source, and before it is parsed the file changes so
    that source is gone: nothing is written or pruned for it, the run says so, the next run settles it."""
    ingestor(index, memo_file).ingest_paths([kb], kb)
    index.delete_chunks({c.chunk_id for c in index.chunks() if c.source_id == "esc:ESC-2"})
    path = kb / "escalations" / "2026.jsonl"
    real = pipeline.parse_file

    def edited_meanwhile(*args: object) -> object:
        path.write_text(path.read_text(encoding="utf-8").splitlines()[0] + "\n", encoding="utf-8")
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(pipeline, "parse_file", edited_meanwhile)
    report = ingestor(index, memo_file).ingest_paths([kb], kb)

    assert any("esc:ESC-2 changed while being ingested" in e for e in report.errors)
    monkeypatch.setattr(pipeline, "parse_file", real)
    after = ingestor(index, memo_file).ingest_paths([kb], kb)
    assert after.errors == []
    assert "esc:ESC-2" not in {c.source_id for c in index.chunks()}


def test_concurrent_ingests_sharing_a_memo_leave_it_valid_and_every_index_right(
    kb: Path, tmp_path: Path, memo_file: Path
) -> None:
    """Ingests in parallel (as a CLI and a server, or two folders) race on the memo file: whichever write wins, the
    file is whole and each entry true, so later runs parse nothing and every index equals a clean ingest."""
    indexes = [InMemoryIndex() for _ in range(4)]
    errors: list[BaseException] = []
    start = threading.Barrier(len(indexes))

    def work(index: Index) -> None:
        try:
            start.wait()
            for _ in range(3):
                ingestor(index, memo_file).ingest_paths([kb], kb)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(index,)) for index in indexes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    assert set(json.loads(memo_file.read_text(encoding="utf-8"))["files"]) == {
        str((kb / f).resolve()) for f in EVERY_FILE
    }
    assert not list(memo_file.parent.glob(".parse-memo.json.*"))  # no temporary file left behind
    expected = clean(kb, tmp_path)
    for index in indexes:
        assert stored(index) == expected
        assert ingestor(index, memo_file).ingest_paths([kb], kb).unchanged == 5


def test_two_roots_do_not_share_entries(tmp_path: Path, memo_file: Path, parsed: list[str]) -> None:
    """The same relative names under two folders are two files: each is parsed once, then neither."""
    a, b = write_kb(tmp_path / "a"), write_kb(tmp_path / "b")
    index = InMemoryIndex()
    ingestor(index, memo_file).ingest_paths([a], a)
    ingestor(InMemoryIndex(), memo_file).ingest_paths([b], b)
    assert len(parsed) == 2 * len(EVERY_FILE)
    parsed.clear()

    ingestor(index, memo_file).ingest_paths([a], a)

    assert parsed == []


def test_a_memo_that_cannot_be_written_only_costs_parsing(index: Index, kb: Path, tmp_path: Path) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("", encoding="utf-8")

    report = ingestor(index, blocked / "parse-memo.json").ingest_paths([kb], kb)

    assert (report.added, report.errors) == (5, [])


def test_the_memo_key_covers_signature_and_rules(kb: Path, tmp_path: Path) -> None:
    base = ParseMemo(tmp_path / "m.json", kb, "sig").key
    assert ParseMemo(tmp_path / "m.json", kb, "sig").key == base
    assert ParseMemo(tmp_path / "m.json", kb, "other sig").key != base
    (kb / ".deflectignore").write_text("drafts/\n", encoding="utf-8")
    assert ParseMemo(tmp_path / "m.json", kb, "sig").key != base


def test_a_page_that_makes_a_footer_boilerplate_parses_only_it_and_the_pages_that_lose_the_footer(
    index: Index, tmp_path: Path, memo_file: Path, parsed: list[str]
) -> None:
    # The census of a folder (ingest/boilerplate.py) comes from the memo for unchanged pages: no parse to count.
    kb = tmp_path / "manual"
    kb.mkdir()
    footer = "<h1>FROB</h1><p>Part of the frob(1) suite.</p>"

    def page(name: str, end: str) -> None:
        body = f"<h1>{name}</h1><p>{name} does one thing to a frob repository.</p>{end}"
        (kb / f"{name}.html").write_text(f"<html><body>{body}</body></html>", encoding="utf-8")

    page("frob-init", footer)
    page("frob-save", footer)
    page("frob-mount", "")
    ingestor(index, memo_file).ingest_paths([kb], kb)
    page("frob-prune", footer)
    parsed.clear()

    report = ingestor(index, memo_file).ingest_paths([kb], kb)

    assert sorted(parsed) == ["frob-init.html", "frob-prune.html", "frob-save.html"]
    assert (report.added, report.updated, report.unchanged) == (1, 2, 1)
    assert stored(index) == clean(kb, tmp_path)
    parsed.clear()
    assert ingestor(index, memo_file).ingest_paths([kb], kb).unchanged == 4
    assert parsed == []
