"""The eval's work folder: temporary by default; a kept one holds only the ingest's caches from run to run."""

from __future__ import annotations

import gc
import tempfile
from pathlib import Path

import pytest

from deflect.config import Settings
from deflect.domain.models import Chunk
from deflect.errors import ConfigError
from deflect.evaluation.golden import GoldenCase
from deflect.evaluation.runner import EVAL_COLLECTION, WORK_STAMP, group_of, prepare, samples, work_folder
from deflect.index.chroma import ChromaIndex
from deflect.testing import HashEmbedder, InMemoryIndex, InMemoryStore
from deflect.wiring import assemble

SIGNATURE = "chunker-v9:200:30|hash-256"
OTHER = "chunker-v9:200:30|minilm"


def fill(work: Path, chroma: bool = True) -> None:
    """The layout a run leaves (the names prepare and the manual eval use); `chroma`: stand-in index files."""
    for rel in (
        *(("chroma/chroma.sqlite3", "chroma/0a1b/data_level0.bin") if chroma else ()),
        "data/keyword/deflect.sqlite3",
        "data/parse-memo.json",
        "data/calibration/deflect.json",
        "eval.db",
        "eval-answer-all.db-wal",
        "kb/index.html",
        "manual/usage/trim.html",
    ):
        (work / rel).parent.mkdir(parents=True, exist_ok=True)
        (work / rel).write_text(rel, encoding="utf-8")


def files(work: Path) -> set[str]:
    return {p.relative_to(work).as_posix() for p in work.rglob("*") if p.is_file()}


def test_without_a_folder_each_run_gets_a_new_temporary_one() -> None:
    a, b = work_folder(None, SIGNATURE), work_folder(None, SIGNATURE)
    assert a != b and a.is_dir() and not any(a.iterdir())
    a.rmdir()
    b.rmdir()


def test_a_kept_folder_keeps_only_the_ingest_caches(tmp_path: Path) -> None:
    work = work_folder(tmp_path / "work", SIGNATURE)
    fill(work)

    assert work_folder(work, SIGNATURE) == work
    assert files(work) == {
        "chroma/chroma.sqlite3",
        "chroma/0a1b/data_level0.bin",
        "data/keyword/deflect.sqlite3",
        "data/parse-memo.json",
        WORK_STAMP,
    }


def test_another_ingest_signature_starts_the_folder_afresh(tmp_path: Path) -> None:
    work = work_folder(tmp_path / "work", SIGNATURE)
    fill(work, chroma=False)
    chunk = Chunk(
        chunk_id="doc:a#0", source_id="doc:a", kind="article", title="a", audience="public", text="a",
        origin="a.md", source_hash="h", source_chunks=1,
    )  # fmt: skip
    ChromaIndex.embedded(work / "chroma", EVAL_COLLECTION, 128).upsert([chunk], [[1.0, 0.0]])

    work_folder(work, OTHER)

    assert {f for f in files(work) if not f.startswith("chroma/")} == {WORK_STAMP}
    assert (work / WORK_STAMP).read_text(encoding="utf-8") == OTHER
    # The index is emptied through Chroma (this process's client of the folder stays valid) and takes new vectors.
    index = ChromaIndex.embedded(work / "chroma", EVAL_COLLECTION, 128)
    assert index.count() == 0
    index.upsert([chunk], [[1.0, 0.0, 0.0]])
    assert index.count() == 1


def test_a_folder_that_is_not_an_eval_work_folder_is_never_cleared(tmp_path: Path) -> None:
    mine = tmp_path / "notes"
    mine.mkdir()
    (mine / "todo.txt").write_text("keep me", encoding="utf-8")

    with pytest.raises(ConfigError, match="not an eval work folder"):
        work_folder(mine, SIGNATURE)
    assert (mine / "todo.txt").read_text(encoding="utf-8") == "keep me"


def test_calibration_samples_ask_each_case_cleaned_as_ask_cleans_it(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = assemble(settings, InMemoryIndex(), HashEmbedder(), store=InMemoryStore())
    service.ingest([settings.kb_dir], settings.kb_dir)
    asked: list[str] = []
    evidence = service.evidence
    monkeypatch.setattr(service, "evidence", lambda q, a: (asked.append(q), evidence(q, a))[1])
    decomposed = "Cafe\u0301 invoice\u200b  download?"  # e + combining accent, a zero-width space, two spaces

    found = samples(service, [GoldenCase(id="a", question=decomposed)], group_of)

    assert asked == ["Caf\u00e9 invoice download?"]
    assert len(found) == 1


def eval_folders(tmp: Path) -> list[Path]:
    return sorted(tmp.glob("deflect-eval-*"))


@pytest.fixture
def tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The folder tempfile makes temporary folders in, for this test only."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def test_a_temporary_work_folder_goes_with_its_setup(tmp: Path, settings: Settings) -> None:
    closed = prepare(settings, HashEmbedder())
    dropped = prepare(settings, HashEmbedder())
    assert len(eval_folders(tmp)) == 2 and (closed.workdir / "chroma").is_dir()

    closed.close()
    assert eval_folders(tmp) == [dropped.workdir]
    del dropped  # a caller that never closes it (the loop, traffic and feedback evals) leaves nothing either
    gc.collect()
    assert eval_folders(tmp) == []


def test_a_kept_work_folder_stays_after_close(tmp_path: Path, settings: Settings) -> None:
    work = work_folder(tmp_path / "work", SIGNATURE)

    prepare(settings, HashEmbedder(), workdir=work).close()

    assert (work / "chroma").is_dir() and (work / WORK_STAMP).is_file()


def test_a_failed_prepare_leaves_no_temporary_folder(tmp: Path, tmp_path: Path, settings: Settings) -> None:
    with pytest.raises(FileNotFoundError):
        prepare(settings, HashEmbedder(), golden=tmp_path / "missing.jsonl")

    assert eval_folders(tmp) == []
