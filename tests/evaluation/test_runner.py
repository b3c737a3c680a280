"""The eval's work folder: temporary by default; a kept one holds only the ingest's caches from run to run."""

from __future__ import annotations

from pathlib import Path

import pytest

from deflect.errors import ConfigError
from deflect.evaluation.runner import WORK_STAMP, work_folder


def fill(work: Path) -> None:
    """The layout a run leaves (the names prepare and the manual eval use)."""
    for rel in (
        "chroma/chroma.sqlite3",
        "chroma/0a1b/data_level0.bin",
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
    a, b = work_folder(None, "hash-256"), work_folder(None, "hash-256")
    assert a != b and a.is_dir() and not any(a.iterdir())
    a.rmdir()
    b.rmdir()


def test_a_kept_folder_keeps_only_the_ingest_caches(tmp_path: Path) -> None:
    work = work_folder(tmp_path / "work", "hash-256")
    fill(work)

    assert work_folder(work, "hash-256") == work
    assert files(work) == {
        "chroma/chroma.sqlite3",
        "chroma/0a1b/data_level0.bin",
        "data/keyword/deflect.sqlite3",
        "data/parse-memo.json",
        WORK_STAMP,
    }


def test_another_embedding_model_starts_the_folder_afresh(tmp_path: Path) -> None:
    work = work_folder(tmp_path / "work", "hash-256")
    fill(work)

    work_folder(work, "minilm")

    assert files(work) == {WORK_STAMP}
    assert (work / WORK_STAMP).read_text(encoding="utf-8") == "minilm"


def test_a_folder_that_is_not_an_eval_work_folder_is_never_cleared(tmp_path: Path) -> None:
    mine = tmp_path / "notes"
    mine.mkdir()
    (mine / "todo.txt").write_text("keep me", encoding="utf-8")

    with pytest.raises(ConfigError, match="not an eval work folder"):
        work_folder(mine, "hash-256")
    assert (mine / "todo.txt").read_text(encoding="utf-8") == "keep me"
