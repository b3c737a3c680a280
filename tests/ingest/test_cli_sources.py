"""`deflect sources show ID` and the ingest file table, through the real CLI (no model is loaded for either)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from deflect.cli import app
from deflect.cli_sources import print_files
from deflect.domain.models import FileReport, IngestReport

runner = CliRunner()


@pytest.fixture
def kb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    kb = tmp_path / "kb"
    (kb / "runbooks").mkdir(parents=True)
    (kb / "deflect.yaml").write_text("base_url: https://docs.example/\naudience:\n  runbooks/**: internal\n")
    (kb / "runbooks" / "restart.md").write_text("# Restarting the kettle\n\n## Steps\n\nHold the switch.\n")
    (kb / "stated.md").write_text("---\ntitle: Stated\naudience: public\nurl: https://x.example/s\n---\nBody.\n")
    monkeypatch.setenv("DEFLECT_KB_DIR", str(kb))
    return kb


def test_sources_show_names_what_was_inferred(kb: Path) -> None:
    result = runner.invoke(app, ["sources", "show", "doc:runbooks/restart", "--json"])

    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown["title"] == "Restarting the kettle"
    assert shown["audience"] == "internal"
    assert shown["url"] == "https://docs.example/runbooks/restart.md"
    assert shown["inferred"] == ["title: first heading", "audience: rule runbooks/**", "url: base_url + path"]
    assert shown["chunks"] == 1 and shown["heading_paths"] == ["Steps"]


def test_sources_show_in_words_says_when_nothing_was_inferred(kb: Path) -> None:
    result = runner.invoke(app, ["sources", "show", "doc:stated"])

    assert result.exit_code == 0, result.output
    assert "nothing (every field stated by the file)" in result.stdout


def test_sources_show_finds_a_compressed_file_under_the_id_ingest_gave_it(kb: Path) -> None:
    """Debian compresses its docs: ingest reads `notes.txt.gz` as the text doc:notes, so `show` must find it."""
    (kb / "notes.txt.gz").write_bytes(gzip.compress(b"Kettle notes\n\nDescale it monthly.\n"))
    (kb / "notes.ps.gz").write_bytes(gzip.compress(b"%!PS not a format deflect reads"))

    result = runner.invoke(app, ["sources", "show", "doc:notes", "--json"])

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["origin"] == "notes.txt.gz"


def test_sources_show_gives_a_page_without_its_folders_boilerplate_as_ingest_does(kb: Path) -> None:
    # Parsed alone, the page would keep the footer its three folder mates share (ingest/boilerplate.py).
    for name in ("boil", "pour", "descale"):
        steps = f"# {name}\n\n## Steps\n\nHow to {name} the kettle.\n\n"
        (kb / "runbooks" / f"{name}.md").write_text(steps + "## About\n\nThis runbook is kept by the kettle team.\n")

    result = runner.invoke(app, ["sources", "show", "doc:runbooks/pour", "--json"])

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["heading_paths"] == ["Steps"]


@pytest.mark.parametrize("source_id", ["doc:missing", "nonsense"])
def test_sources_show_of_an_unknown_id_exits_2_with_one_line(kb: Path, source_id: str) -> None:
    result = runner.invoke(app, ["sources", "show", source_id])

    assert result.exit_code == 2
    assert "not_found" in result.stderr and "Traceback" not in result.output


def test_the_file_table_counts_every_status_and_groups_skipped_files_by_reason(
    capsys: pytest.CaptureFixture[str],
) -> None:
    files = [
        FileReport(path="a.md", status="ingested", sources=["doc:a"], inferred=["title: file name"]),
        FileReport(path="b.md", status="unchanged", sources=["doc:b"]),
        *(FileReport(path=f"font{i}.woff", status="skipped", reason="unsupported type '.woff'") for i in range(5)),
        FileReport(path="c.md", status="failed", reason="empty file"),
    ]

    print_files(IngestReport(files=files))

    out = " ".join(capsys.readouterr().out.split())
    assert "8 files found" in out
    for status, count in (("ingested", 1), ("unchanged", 1), ("skipped", 5), ("failed", 1)):
        assert f"{status} │ {count}" in out
    assert "skipped 5 (unsupported type '.woff'): font0.woff, font1.woff, font2.woff, ... (+2)" in out
    assert "1 files had fields inferred" in out


def test_the_file_table_says_how_many_pages_lost_boilerplate_apart_from_inferred_fields(
    capsys: pytest.CaptureFixture[str],
) -> None:
    note = "boilerplate: 1 block repeated on most pages of its folder left out"
    files = [
        FileReport(path="man/a.html", status="ingested", sources=["doc:man/a"], inferred=[note]),
        FileReport(path="man/b.html", status="unchanged", sources=["doc:man/b"], inferred=[note, "title: file name"]),
        FileReport(path="man/c.html", status="unchanged", sources=["doc:man/c"]),
    ]

    print_files(IngestReport(files=files))

    out = " ".join(capsys.readouterr().out.split())
    assert "1 files had fields inferred" in out
    assert "2 pages had text their folder repeats on most pages (a footer, a notice) left out as boilerplate" in out


def test_the_file_table_names_rst_files_read_as_plain_text_apart_from_inferred_fields(
    capsys: pytest.CaptureFixture[str],
) -> None:
    note = "body: read as plain text (docutils failed: RecursionError: maximum recursion depth exceeded)"
    files = [
        FileReport(path="deep.rst", status="ingested", sources=["doc:deep"], inferred=[note]),
        FileReport(path="fine.rst", status="ingested", sources=["doc:fine"], inferred=["title: file name"]),
    ]

    print_files(IngestReport(files=files))

    out = " ".join(capsys.readouterr().out.split())
    assert "1 files had fields inferred" in out
    assert "1 reStructuredText files docutils could not parse were read as plain text: deep.rst" in out
