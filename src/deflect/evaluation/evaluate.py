"""`deflect eval` end to end: throwaway index, every case through the service, scores, report, gate."""

from __future__ import annotations

import hashlib
import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deflect.answer.confidence import Calibration
from deflect.config import Settings
from deflect.domain.ports import Embedder
from deflect.evaluation import candidates
from deflect.evaluation.baseline import Check, compare, load_baseline
from deflect.evaluation.fusion import sweep
from deflect.evaluation.report import markdown, plots, to_html
from deflect.evaluation.runner import Progress, ingest_signature, prepare, run_cases, work_folder, write_results
from deflect.evaluation.scoring import aggregate, by_tag, score_case
from deflect.evaluation.titles import titles_answered


@dataclass
class EvalOutcome:
    overall: dict[str, Any]
    tags: dict[str, dict[str, Any]]
    variants: dict[str, dict[str, Any]]
    out_dir: Path
    checks: list[Check] = field(default_factory=list)

    @property
    def regressed(self) -> bool:
        return any(c.regressed for c in self.checks)


def git_revision() -> str:
    """Short commit id, with +dirty when the tree has changes; `unknown` outside git."""
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain"], capture_output=True, text=True, check=True
        ).stdout.strip()
        return rev + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def file_hash(*paths: Path) -> str:
    """sha256 over files (folders: every file below, in order, named relative to the folder, so the same KB
    copied into another work folder hashes the same)."""
    digest = hashlib.sha256()
    for path in paths:
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for f in files:
            digest.update((f.relative_to(path) if path.is_dir() else f).as_posix().encode())
            digest.update(f.read_bytes())
    return digest.hexdigest()[:16]


def evaluate(
    settings: Settings,
    embedder: Embedder,
    out_dir: Path,
    golden: Path | None = None,
    kb: Path | None = None,
    dataset: Path | None = None,
    holdout_fraction: float = 0.0,
    baseline: Path | None = None,
    progress: Progress | None = None,
    fusion_weights: tuple[float, ...] | None = None,
    keep: Path | None = None,
) -> EvalOutcome:
    """Run a golden set (or a dataset's generated cases) and write results.jsonl, metrics.json and reports.
    `keep`: a work folder kept between runs (see runner.work_folder) instead of a temporary one."""
    workdir = work_folder(keep, ingest_signature(settings, embedder)) if keep is not None else None
    setup = prepare(
        settings, embedder, golden=golden, kb=kb, dataset=dataset, holdout_fraction=holdout_fraction, workdir=workdir
    )
    results = run_cases(setup.service, setup.cases, progress)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_results(results, out_dir / "results.jsonl")

    texts: dict[str, list[str]] = {}
    for chunk in setup.service.index.chunks():
        texts.setdefault(chunk.source_id, []).append(chunk.text)
    rows = [
        score_case(c, r, lambda sid: " ".join(texts.get(sid, []))) for c, r in zip(setup.cases, results, strict=True)
    ]
    overall, tags = aggregate(rows), by_tag(rows)
    if dataset is None:  # a KB of articles: its own titles must be answered (a dataset KB holds only threads)
        overall |= titles_answered(setup.service)
    weights = fusion_weights or (0.0, settings.fusion_bm25_weight)
    variants = {"Retrieval variants (same run)": sweep(setup.service.retriever, setup.cases, weights)}
    calibrator = setup.service.calibrator
    if calibrator is not None and calibrator.last_samples:
        variants["Confidence candidates (each self-calibrated on this KB, same run)"] = candidates.compare(
            setup.service, setup.cases, calibrator.last_samples, calibrator.policy.target_risk
        )

    data_files = [p for p in (golden, dataset) if p is not None]
    stamp = {
        "git": git_revision(),
        "data": setup.label,
        "dataset_sha256": file_hash(*data_files) if data_files else "none",
        "kb_sha256": file_hash(kb or settings.kb_dir) if dataset is None else "generated",
        "embedder": embedder.name,
        "calibration": describe_calibration(setup.service.calibration, setup.service.rules.answer_threshold),
        "settings": stamped_settings(setup.settings, (kb or settings.kb_dir) if dataset is None else None),
    }
    images = plots(rows, [r.retrieved for r in results], [c.expected_sources for c in setup.cases], out_dir)
    md = markdown("deflect evaluation", stamp, overall, tags, variants, images)
    (out_dir / "report.md").write_text(md, encoding="utf-8")
    (out_dir / "report.html").write_text(to_html(md, images), encoding="utf-8")
    (out_dir / "metrics.json").write_text(
        json.dumps({"stamp": stamp, "overall": overall, "tags": tags, "variants": variants}, indent=2) + "\n",
        encoding="utf-8",
    )
    setup.close()
    outcome = EvalOutcome(overall, tags, variants, out_dir)
    if baseline is not None:
        outcome.checks = compare(overall, load_baseline(baseline))
    return outcome


def stamped_settings(ran_with: Settings, kb: Path | None) -> str:
    """The settings a report is stamped with: those the eval ran with (runner.EvalSetup.settings: its own data folder
    and store, not the project's), with `kb`, the folder the KB was read from, rather than the eval's copy of it
    (None: a KB the eval generated); secrets masked."""
    return json.dumps((ran_with.model_copy(update={"kb_dir": kb}) if kb else ran_with).redacted())


def describe_calibration(cal: Calibration, threshold: float) -> str:
    """What the calibration in force was fitted on, and its fitted and cross-checked risk/coverage."""
    notes = cal.notes
    checked = (
        f"; fitted risk {notes['fit_risk']} coverage {notes['fit_coverage']}, "
        f"cross-checked risk {notes['check_risk']} coverage {notes['check_coverage']}"
        if "check_risk" in notes
        else ""
    )
    return (
        f"threshold {threshold}, floor {cal.relevance_floor}, target risk {cal.target_risk}, features "
        f"{', '.join(cal.features)}; fitted on: {' | '.join(cal.fitted_on) or 'unknown'}{checked}"
    )
