"""Parsing a folder on worker processes gives what parsing it in this process gives, file for file; a pool that
fails falls back to this process."""

from __future__ import annotations

import gzip
import json
import logging
import pickle
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import write_kb

from deflect.errors import SourceError
from deflect.ingest import parallel
from deflect.ingest.chunking import Chunker
from deflect.ingest.memo import ParseMemo
from deflect.ingest.parallel import ParseJob, parse_jobs
from deflect.ingest.pipeline import Ingestor
from deflect.ingest.rules import KbRules, load_rules
from deflect.ingest.sources import parse_paths
from deflect.testing import HashEmbedder, InMemoryIndex

PAGE = """<html><head><title>{title}</title></head><body>
<nav><a href="index.html">Home</a> <a href="guide-0.html">Guide</a></nav>
<main><h1>{title}</h1>
<p>Run <code>tool sync --depth {n}</code> to copy the last {n} changes.</p>
<dl><dt><code>--depth N</code></dt><dd>Keep only the last N changes of page {n}.</dd></dl>
<pre>$ tool sync --depth {n}
synced {n} changes</pre>
<p>See <a href="guide-{m}.html">the guide on step {m}</a> for more.</p>
</main>
<footer>Copyright Example Project. All rights reserved.</footer>
</body></html>
"""


def folder(root: Path) -> Path:
    """A real-shaped folder: HTML pages sharing a footer and navigation (boilerplate across the folder), Markdown,
    an escalations file with one bad line, a redirect stub, a gzip file that is not one, and a binary file."""
    kb = write_kb(root / "kb")
    guide = kb / "guide"
    guide.mkdir()
    for n in range(12):
        (guide / f"guide-{n}.html").write_text(PAGE.format(title=f"Step {n}", n=n, m=(n + 1) % 12), encoding="utf-8")
    (guide / "moved.html").write_text(
        '<html><head><meta http-equiv="refresh" content="0; url=guide-1.html"></head><body></body></html>',
        encoding="utf-8",
    )
    (kb / "articles" / "broken.md.gz").write_bytes(b"not gzip at all")
    (kb / "escalations" / "2027.jsonl").write_text(
        json.dumps({"id": "ESC-9", "question": "Sync stalls", "resolution": "Restart the agent."}) + "\n{oops\n",
        encoding="utf-8",
    )
    return kb


@pytest.fixture(autouse=True)
def small_folders_go_to_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    """The folders here are small: below the size that repays a worker's start, which is a cost rule, not a
    behaviour (test_little_to_parse_is_parsed_here puts it back)."""
    monkeypatch.setattr(parallel, "MIN_BYTES", 0)


def summary(found: Any) -> dict[str, Any]:
    return {
        "docs": [(d.source_id, d.content_hash, d.body, tuple(d.links)) for d in found.docs],
        "known": [(k.source_id, k.content_hash, k.stripped, k.navigation) for k in found.known],
        "errors": sorted(str(e) for e in found.errors),
        "skipped": sorted((s.path, s.reason) for s in found.skipped),
        "damaged": sorted(found.damaged_origins),
        "origins": sorted(found.origins),
    }


def test_a_folder_parsed_on_two_processes_is_the_folder_parsed_here(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    kb = folder(tmp_path)
    here = summary(parse_paths([kb], kb, "sig", workers=1))
    with caplog.at_level(logging.WARNING):
        there = summary(parse_paths([kb], kb, "sig", workers=2))

    assert "parse worker" not in caplog.text  # the workers parsed it
    assert there == here
    # The folder's boilerplate went out of the pages parsed elsewhere, as it does here.
    step = next(body for sid, _, body, _ in there["docs"] if "guide-3" in sid)
    assert "All rights reserved" not in step and "tool sync --depth 3" in step
    assert any("broken.md.gz" in e for e in there["errors"])
    assert any("2027.jsonl" in e for e in there["errors"])
    assert any(path.endswith("moved.html") for path, _ in there["skipped"])


def test_the_memo_remembers_what_the_workers_parsed(tmp_path: Path) -> None:
    kb = folder(tmp_path)
    memo_file = tmp_path / "memo.json"
    first = ParseMemo(memo_file, kb, "sig")
    parsed = parse_paths([kb], kb, "sig", memo=first, workers=2)
    first.save()

    again = parse_paths([kb], kb, "sig", memo=ParseMemo(memo_file, kb, "sig"), workers=2)

    assert again.docs == [d for d in parsed.docs if d.origin.startswith("escalations/2027")]  # not remembered: bad
    assert {(k.source_id, k.content_hash) for k in again.known} == {
        (d.source_id, d.content_hash) for d in parsed.docs if not d.origin.startswith("escalations/2027")
    }


def test_outcomes_come_back_in_the_jobs_order_whatever_their_size(tmp_path: Path) -> None:
    rules = KbRules()
    jobs = [
        ParseJob((f"# Page {n}\n\n" + "word " * (50 * (n % 5) + 1)).encode(), Path(f"p{n}.md"), f"p{n}.md", "s", rules)
        for n in range(10)
    ]

    outcomes = parse_jobs(jobs, workers=2)

    assert [o.docs[0].title for o in outcomes] == [f"Page {n}" for n in range(10)]


@pytest.mark.parametrize(
    "worker",
    [("-c", "import sys; sys.exit(3)"), ("-c", "print('not a pickle')"), ("-c", "import os; os.kill(os.getpid(), 9)")],
    ids=["exits-with-an-error", "answers-garbage", "is-killed"],
)
def test_a_worker_that_fails_leaves_its_files_to_this_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, worker: tuple[str, ...]
) -> None:
    kb = folder(tmp_path)
    here = summary(parse_paths([kb], kb, "sig", workers=1))
    monkeypatch.setattr(parallel, "COMMAND", worker)

    with caplog.at_level(logging.WARNING):
        fell_back = summary(parse_paths([kb], kb, "sig", workers=2))

    assert fell_back == here
    assert "a parse worker failed" in caplog.text


def test_little_to_parse_is_parsed_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    kb = write_kb(tmp_path / "kb")  # 4 small files
    monkeypatch.setattr(parallel, "MIN_BYTES", 1_000_000)
    monkeypatch.setattr(parallel, "COMMAND", ("-c", "import sys; sys.exit(3)"))  # would log a fallback if started

    with caplog.at_level(logging.WARNING):
        found = parse_paths([kb], kb, "sig", load_rules(kb), workers=2)

    assert len(found.docs) > 3
    assert "parse worker" not in caplog.text


def test_a_source_error_survives_the_trip_from_a_worker() -> None:
    error = SourceError("kb/escalations/2027.jsonl", "line is not JSON", 2)

    back = pickle.loads(pickle.dumps(error))

    assert (str(back), back.path, back.line, back.details) == (str(error), error.path, error.line, error.details)


def test_a_gzip_page_parses_the_same_on_a_worker(tmp_path: Path) -> None:
    rules = KbRules()
    raw = gzip.compress(b"# Zipped\n\nRun `tool --fast`.\n")
    jobs = [ParseJob(raw, Path(f"z{n}.md.gz"), f"z{n}.md.gz", "s", rules) for n in range(8)]

    there, here = parse_jobs(jobs, workers=2), parse_jobs(jobs, workers=1)

    assert there == here
    assert "`tool --fast`" in there[0].docs[0].body


def test_an_ingest_with_parse_workers_stores_what_one_without_stores(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    kb = folder(tmp_path)
    stored = []
    for workers in (1, 2):
        index = InMemoryIndex()
        with caplog.at_level(logging.WARNING):
            report = Ingestor(index, HashEmbedder(), Chunker(200, 30), parse_workers=workers).ingest_paths([kb], kb)
        chunks = sorted(index.chunks(), key=lambda c: c.chunk_id)
        stored.append(([(c.chunk_id, c.text, c.source_hash) for c in chunks], report.added, sorted(report.errors)))

    assert "parse worker" not in caplog.text  # the workers parsed it
    assert stored[0] == stored[1]
    assert stored[1][1] > 12  # every page went in
