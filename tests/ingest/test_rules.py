"""Defaults instead of refusals (deflect.yaml), .deflectignore, and every file accounted for."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import pytest

from deflect.domain.models import FileReport
from deflect.errors import ConfigError
from deflect.ingest.chunking import Chunker
from deflect.ingest.pipeline import Ingestor
from deflect.ingest.rules import load_rules
from deflect.ingest.sources import parse_paths
from deflect.testing import HashEmbedder, InMemoryIndex

from .test_formats import PAGES, make_pdf

SIG = "rules-test"

CONFIG = """base_url: https://docs.example/manual/
audience:
  runbooks/**: internal
  runbooks/public-*.md: public
"""


def write(root: Path, files: dict[str, str | bytes]) -> Path:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


def manual_folder(root: Path) -> Path:
    """A folder as a team has it: no front matter, an HTML export, text, a PDF, junk, and its own rules."""
    return write(
        root,
        {
            "deflect.yaml": CONFIG,
            ".deflectignore": "drafts/\n*.tmp.md\n",
            "guide/install.md": "# Installing the kettle\n\nPlug it in.\n",
            "guide/untitled-notes.md": "Some notes without a heading.\n",
            "guide/stated.md": "---\ntitle: Stated\nurl: https://elsewhere.example/s\naudience: internal\n---\nBody.\n",
            "guide/export.html": "<html><head><title>Export | Help</title></head><body><main><p>Export it.</p>"
            "</main></body></html>",
            "runbooks/restart.md": "# Restarting\n\nHold the switch.\n",
            "runbooks/public-faq.md": "# FAQ\n\nAsk us.\n",
            "guide/safety.pdf": make_pdf(PAGES),
            "guide/readme.txt": "Read me\n=======\n\nFirst.\n",
            "guide/logo.png": b"\x89PNG\r\n\x1a\n\x00\x00",
            "guide/empty.md": "",
            "drafts/wip.md": "# WIP\n\nNot yet.\n",
            "guide/scratch.tmp.md": "# Scratch\n",
            ".git/config": "[core]\n",
        },
    )


def by_path(files: list[FileReport]) -> dict[str, FileReport]:
    return {f.path: f for f in files}


def test_articles_without_front_matter_get_title_url_and_audience_inferred(tmp_path: Path) -> None:
    kb = manual_folder(tmp_path / "kb")

    docs = {d.source_id: d for d in parse_paths([kb], kb, SIG).docs}

    install = docs["doc:guide/install"]
    assert (install.title, install.url, install.audience) == (
        "Installing the kettle",
        "https://docs.example/manual/guide/install.md",
        "public",
    )
    assert install.inferred == ("title: first heading", "audience: default", "url: base_url + path")
    assert docs["doc:guide/untitled-notes"].title == "Untitled notes"
    assert docs["doc:guide/export"].title == "Export | Help"  # no H1: the <title>
    assert docs["doc:runbooks/restart"].audience == "internal"
    assert "audience: rule runbooks/**" in docs["doc:runbooks/restart"].inferred
    assert docs["doc:runbooks/public-faq"].audience == "public"  # the last matching rule wins
    stated = docs["doc:guide/stated"]
    assert (stated.title, stated.url, stated.audience, stated.inferred) == (
        "Stated",
        "https://elsewhere.example/s",
        "internal",
        (),
    )


def test_a_default_audience_can_be_internal(tmp_path: Path) -> None:
    kb = write(tmp_path / "kb", {"deflect.yaml": "default_audience: internal\n", "a.md": "# A\n\nText.\n"})

    (doc,) = parse_paths([kb], kb, SIG).docs

    assert doc.audience == "internal"
    assert doc.url == ""


@pytest.mark.parametrize(
    "config",
    ["audience: [internal", "default_audience: everyone\n", "audience:\n  x/**: secret\n", "base_ur1: x\n", "- a\n"],
    ids=["bad yaml", "bad default", "bad rule", "unknown key", "not a mapping"],
)
def test_a_broken_deflect_yaml_stops_ingestion_instead_of_publishing_by_default(tmp_path: Path, config: str) -> None:
    kb = write(tmp_path / "kb", {"deflect.yaml": config, "a.md": "# A\n\nText.\n"})

    with pytest.raises(ConfigError, match="deflect.yaml"):
        load_rules(kb)


def test_links_fifos_and_compressed_files_of_an_unread_type_are_skipped_with_what_is_wrong(tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    (kb / "edge").mkdir(parents=True)
    (kb / "edge" / "page.md").write_text("# Page\n\nSome text.\n", encoding="utf-8")
    (kb / "edge" / "broken-link.md").symlink_to(tmp_path / "nowhere.md")
    os.mkfifo(kb / "edge" / "fifo.md")  # never opened: reading it would wait for a writer
    (kb / "edge" / "curl.1.gz").write_bytes(gzip.compress(b".TH CURL 1\n"))
    (kb / "edge" / "blob.gz").write_bytes(gzip.compress(b"data"))

    report = Ingestor(InMemoryIndex(), HashEmbedder(), Chunker(200, 30)).ingest_paths([kb], kb)

    assert {f.path: (f.status, f.reason) for f in report.files} == {
        "edge/page.md": ("ingested", ""),
        "edge/broken-link.md": ("skipped", "broken link"),
        "edge/fifo.md": ("skipped", "not a regular file (a FIFO, a socket or a device)"),
        "edge/curl.1.gz": ("skipped", "unsupported type '.1' (compressed)"),
        "edge/blob.gz": ("skipped", "unsupported type (no file extension in .gz)"),
    }


def test_every_file_is_accounted_for_with_a_reason(tmp_path: Path) -> None:
    kb = manual_folder(tmp_path / "kb")
    ingestor = Ingestor(InMemoryIndex(), HashEmbedder(), Chunker(200, 30))

    report = ingestor.ingest_paths([kb], kb)

    files = by_path(report.files)
    assert {p: f.status for p, f in files.items() if f.status != "ingested"} == {
        ".git/": "skipped",
        ".deflectignore": "skipped",
        "deflect.yaml": "skipped",
        "drafts/wip.md": "skipped",
        "guide/scratch.tmp.md": "skipped",
        "guide/logo.png": "skipped",
        "guide/empty.md": "failed",
    }
    assert files[".git/"].reason == "hidden folder"
    assert files["drafts/wip.md"].reason == files["guide/scratch.tmp.md"].reason == "ignored by .deflectignore"
    assert files["guide/logo.png"].reason == "unsupported type '.png'"
    assert files["guide/empty.md"].reason == "empty file"
    ingested = {p for p, f in files.items() if f.status == "ingested"}
    assert ingested == {
        "guide/install.md",
        "guide/untitled-notes.md",
        "guide/stated.md",
        "guide/export.html",
        "guide/safety.pdf",
        "guide/readme.txt",
        "runbooks/restart.md",
        "runbooks/public-faq.md",
    }
    assert files["guide/install.md"].sources == ["doc:guide/install"]
    assert "title: first heading" in files["guide/install.md"].inferred
    assert report.added == len(ingested)


def test_a_rerun_of_a_mixed_folder_re_embeds_nothing(tmp_path: Path) -> None:
    kb = manual_folder(tmp_path / "kb")
    embedder = HashEmbedder()
    ingestor = Ingestor(InMemoryIndex(), embedder, Chunker(200, 30))
    ingestor.ingest_paths([kb], kb)
    calls = embedder.calls

    report = ingestor.ingest_paths([kb], kb)

    assert embedder.calls == calls
    assert (report.added, report.updated, report.deleted) == (0, 0, 0)
    assert {f.status for f in report.files} == {"unchanged", "skipped", "failed"}


def test_ignoring_a_file_that_was_ingested_removes_it_from_the_index(tmp_path: Path) -> None:
    kb = manual_folder(tmp_path / "kb")
    index = InMemoryIndex()
    ingestor = Ingestor(index, HashEmbedder(), Chunker(200, 30))
    ingestor.ingest_paths([kb], kb)

    (kb / ".deflectignore").write_text("drafts/\n*.tmp.md\nrunbooks/\n", encoding="utf-8")
    report = ingestor.ingest_paths([kb], kb)

    assert report.deleted == 2
    assert not {c.source_id for c in index.chunks()} & {"doc:runbooks/restart", "doc:runbooks/public-faq"}


def test_a_page_of_headings_only_is_skipped_with_a_reason_and_a_rerun_still_embeds_nothing(tmp_path: Path) -> None:
    kb = write(tmp_path / "kb", {"contents.md": "# Contents\n\n## Part one\n", "a.md": "# A\n\nText.\n"})
    embedder = HashEmbedder()
    ingestor = Ingestor(InMemoryIndex(), embedder, Chunker(200, 30))

    first = ingestor.ingest_paths([kb], kb)
    calls = embedder.calls
    second = ingestor.ingest_paths([kb], kb)

    assert by_path(first.files)["contents.md"].status == "skipped"
    assert by_path(first.files)["contents.md"].reason == "no text besides headings"
    assert not first.errors
    assert (second.added, second.updated, embedder.calls) == (0, 0, calls)


@pytest.mark.parametrize("emptied", ["# Billing\n\n## Invoices\n", "---\ntitle: Billing\n---\n"])
def test_a_page_emptied_since_the_last_ingest_leaves_the_index(tmp_path: Path, emptied: str) -> None:
    # Its file parses, to nothing: what it said before is no longer true, so it must not stay citable. (A file that
    # fails to read or parse keeps its chunks instead: a damaged file must not erase knowledge.)
    kb = write(tmp_path / "kb", {"billing.md": "# Billing\n\n## Invoices\n\nInvoices are emailed monthly.\n"})
    index = InMemoryIndex()
    ingestor = Ingestor(index, HashEmbedder(), Chunker(200, 30))
    ingestor.ingest_paths([kb], kb)
    assert {c.source_id for c in index.chunks()} == {"doc:billing"}

    (kb / "billing.md").write_text(emptied, encoding="utf-8")
    report = ingestor.ingest_paths([kb], kb)

    assert report.deleted == 1
    assert not index.chunks()
    assert by_path(report.files)["billing.md"].status == "skipped"


def test_a_page_that_fails_to_read_keeps_what_it_had(tmp_path: Path) -> None:
    kb = write(tmp_path / "kb", {"billing.md": "# Billing\n\nInvoices are emailed monthly.\n"})
    index = InMemoryIndex()
    ingestor = Ingestor(index, HashEmbedder(), Chunker(200, 30))
    ingestor.ingest_paths([kb], kb)

    (kb / "billing.md").write_bytes(b"\xff\xfe not utf-8 \x80")
    report = ingestor.ingest_paths([kb], kb)

    assert report.deleted == 0
    assert {c.source_id for c in index.chunks()} == {"doc:billing"}
    assert by_path(report.files)["billing.md"].status == "failed"


def test_folders_outside_the_root_name_their_files_by_folder_so_same_names_do_not_collide(tmp_path: Path) -> None:
    root = tmp_path / "kb"
    root.mkdir()
    one = write(tmp_path / "elsewhere" / "manual-a", {"guide/install.md": "# A\n\nInstall A.\n"})
    two = write(tmp_path / "other" / "manual-b", {"guide/install.md": "# B\n\nInstall B.\n"})
    index = InMemoryIndex()
    ingestor = Ingestor(index, HashEmbedder(), Chunker(200, 30))

    report = ingestor.ingest_paths([one, two], root)

    assert report.errors == []
    assert {c.source_id for c in index.chunks()} == {"doc:manual-a/guide/install", "doc:manual-b/guide/install"}
    (one / "guide" / "install.md").unlink()
    assert ingestor.ingest_paths([one], root).deleted == 1  # pruning finds what was under that folder
    assert {c.source_id for c in index.chunks()} == {"doc:manual-b/guide/install"}


def test_a_sphinx_builds_copy_of_its_sources_is_skipped_as_a_duplicate(tmp_path: Path) -> None:
    build = write(
        tmp_path / "kb",
        {
            "html/objects.inv": b"# Sphinx inventory version 2\n",
            "html/usage.html": "<html><body><main><h1>Usage</h1><p>Brew.</p></main></body></html>",
            "html/_sources/usage.rst.txt": "Usage\n=====\n\nBrew.\n",
            "notes/_sources/plain.txt": "Not a Sphinx build: kept.\n",
        },
    )

    parsed = parse_paths([build], build, SIG)

    assert {d.origin for d in parsed.docs} == {"html/usage.html", "notes/_sources/plain.txt"}
    assert [s.reason for s in parsed.skipped if s.path == "html/_sources/usage.rst.txt"] == [
        "Sphinx's copy of the HTML pages' sources (_sources/)"
    ]
