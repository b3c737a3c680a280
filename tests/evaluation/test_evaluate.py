"""`deflect eval --golden/--dataset` with a kept work folder: a re-run embeds no chunk and scores as a fresh run."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pytest
from tests.test_config import with_every_secret

from deflect.config import MASK, Settings
from deflect.evaluation.evaluate import evaluate
from deflect.evaluation.runner import EVAL_COLLECTION
from deflect.index.chroma import ChromaIndex
from deflect.testing.fakes import HashEmbedder

CASES = [
    {"id": "g1", "question": "how do I reset my password", "expected_sources": ["doc:articles/reset-password"]},
    {"id": "g2", "question": "where can I download my invoices", "expected_sources": ["doc:articles/invoices"]},
    {"id": "g3", "question": "what is the capital of Peru", "should_escalate": True},
]


def results(out: Path) -> list[dict[str, object]]:
    lines = (out / "results.jsonl").read_text(encoding="utf-8").splitlines()
    return [{k: v for k, v in json.loads(line).items() if k != "latency_ms"} for line in lines]


def test_a_golden_run_with_a_kept_work_folder_embeds_only_what_changed(tmp_path: Path, settings: Settings) -> None:
    golden = tmp_path / "golden.jsonl"
    golden.write_text("".join(json.dumps(c) + "\n" for c in CASES), encoding="utf-8")
    work = tmp_path / "work"
    first, second, fresh = HashEmbedder(), HashEmbedder(), HashEmbedder()

    evaluate(settings, first, tmp_path / "r1", golden=golden, keep=work)
    evaluate(settings, second, tmp_path / "r2", golden=golden, keep=work)
    evaluate(settings, fresh, tmp_path / "r3", golden=golden)

    chunks = ChromaIndex.embedded(work / "chroma", EVAL_COLLECTION, settings.chroma_ef_search).count()
    assert chunks > 0
    assert first.texts == fresh.texts
    assert first.texts - second.texts == chunks  # the KB's chunks were not embedded again, all else was
    assert results(tmp_path / "r2") == results(tmp_path / "r3")
    overall = [json.loads((tmp_path / r / "metrics.json").read_text())["overall"] for r in ("r2", "r3")]
    assert [{k: v for k, v in o.items() if "latency" not in k} for o in overall] == [
        {k: v for k, v in overall[1].items() if "latency" not in k}
    ] * 2


def test_no_secret_setting_reaches_any_report_file(tmp_path: Path, settings: Settings) -> None:
    golden = tmp_path / "golden.jsonl"
    golden.write_text("".join(json.dumps(c) + "\n" for c in CASES), encoding="utf-8")
    secret, secrets = with_every_secret(settings)

    evaluate(secret, HashEmbedder(), tmp_path / "report", golden=golden)

    files = [p for p in (tmp_path / "report").rglob("*") if p.is_file()]
    assert {"metrics.json", "report.md", "report.html"} <= {p.name for p in files}
    assert not [(p.name, s) for p in files for s in secrets if s.encode() in p.read_bytes()]
    stamped = json.loads(json.loads((tmp_path / "report" / "metrics.json").read_text())["stamp"]["settings"])
    assert stamped["admin_api_keys"] == MASK and stamped["chunk_size"] == str(settings.chunk_size)


def test_the_settings_stamp_says_what_was_evaluated_not_the_project_s_folders(
    tmp_path: Path, settings: Settings
) -> None:
    golden = tmp_path / "golden.jsonl"
    golden.write_text("".join(json.dumps(c) + "\n" for c in CASES), encoding="utf-8")
    other_kb = shutil.copytree(settings.kb_dir, tmp_path / "other-kb")
    work = tmp_path / "work"

    evaluate(settings, HashEmbedder(), tmp_path / "report", golden=golden, kb=other_kb, keep=work)

    stamp = json.loads((tmp_path / "report" / "metrics.json").read_text())["stamp"]
    stamped = json.loads(stamp["settings"])
    assert stamped["kb_dir"] == str(other_kb)
    assert Path(stamped["data_dir"]).is_relative_to(work) and stamped["data_dir"] != str(settings.data_dir)
    assert str(work) in stamped["database_url"] and stamped["database_url"] != settings.database_url


def test_a_run_without_a_kept_folder_leaves_nothing_in_the_temporary_folder(
    tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    golden = tmp_path / "golden.jsonl"
    golden.write_text("".join(json.dumps(c) + "\n" for c in CASES), encoding="utf-8")
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))

    evaluate(settings, HashEmbedder(), tmp_path / "report", golden=golden)

    assert (tmp_path / "report" / "results.jsonl").is_file()
    assert list(tmp.iterdir()) == []
