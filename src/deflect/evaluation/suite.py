"""Every evaluation set in one run, one summary: the sample kb's golden set, StackFAQ, the FAQ data sets read from
installed PyPI packages, the real manuals.

Each set runs exactly as its own `deflect eval` would (same code path, its own throwaway index, the calibration
deflect fits on that set's KB by itself) and writes its full report into a folder of its own; the summary puts
their headline numbers side by side and draws their risk-coverage curves on one plot. A set whose data is not on
this machine (a Debian documentation package or a PyPI package holding a data set not installed, no ../shared) is
skipped and the summary says why, with the command that would make it available: the suite never downloads anything.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from deflect.config import Settings  # noqa: E402
from deflect.domain.ports import Embedder  # noqa: E402
from deflect.evaluation.evaluate import evaluate, git_revision  # noqa: E402
from deflect.evaluation.manual import MANUALS_DIR, ManualManifest, evaluate_manual  # noqa: E402
from deflect.evaluation.packaged import PACKAGED, materialize, unavailable  # noqa: E402
from deflect.evaluation.report import fmt, to_html  # noqa: E402
from deflect.evaluation.runner import Progress  # noqa: E402

CURVE_FILE = "risk_coverage.json"

# (key in the summary, column heading); shares unless named otherwise.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("cases", "cases"),
    ("recall@1", "R@1"),
    ("recall@5", "R@5"),
    ("auroc", "AUROC"),
    ("coverage@5%risk", "coverage at 5% risk"),
    ("correct_answer_rate", "answered right / answerable"),
    ("wrong_answer_rate", "wrong / answers"),
    ("escalation_recall", "must-escalate escalated"),
    ("actionable", "actionable / answerable"),
    ("answered_not_actionable", "answered, not actionable"),
    ("answer_all_actionable", "actionable, answering all"),
    ("threshold", "threshold"),
    ("latency_p50_ms", "p50 ms"),
)


# settings, embedder, report folder, progress, and the set's kept work folder (`--work`; None: a temporary one).
Runner = Callable[[Settings, Embedder, Path, Progress | None, Path | None], None]


@dataclass(frozen=True)
class SuiteSet:
    """One evaluation set: whether it can run here, and how to run it into a report folder."""

    name: str
    describe: str
    missing: Callable[[], str | None]  # None when it can run; else why not and how to make it available
    run: Runner


@dataclass
class SuiteOutcome:
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)  # set -> headline numbers
    skipped: dict[str, str] = field(default_factory=dict)  # set -> why
    failed: dict[str, str] = field(default_factory=dict)  # set -> error
    out_dir: Path = Path(".")


def default_sets(
    golden: Path,
    dataset: Path,
    manuals_dir: Path = MANUALS_DIR,
    kb: Path | None = None,
) -> list[SuiteSet]:
    """The sample kb's golden set, the StackFAQ protocol, every packaged FAQ set, then every manual in `manuals_dir`."""
    sets = [
        SuiteSet(
            "kb",
            f"golden set {golden} over the sample kb",
            lambda: None if golden.exists() else f"{golden} not found",
            lambda s, e, out, p, w: _golden(s, e, out, p, w, golden, kb),
        ),
        SuiteSet(
            "stackfaq",
            f"{dataset}, a quarter of the threads left out of the KB",
            lambda: None if dataset.exists() else f"{dataset} not found (it comes with ../shared)",
            lambda s, e, out, p, w: _dataset(s, e, out, p, w, dataset),
        ),
    ]
    sets += [
        SuiteSet(
            name,
            f"{spec.about}, a quarter of the threads left out of the KB",
            _packaged_missing(name),
            _packaged_runner(name),
        )
        for name, spec in sorted(PACKAGED.items())
    ]
    for manifest_file in sorted(manuals_dir.glob("*.json")):
        manifest = ManualManifest.model_validate_json(manifest_file.read_text(encoding="utf-8"))
        sets.append(
            SuiteSet(
                f"manual-{manifest.name}",
                f"{manifest.debian_package} {manifest.package_version} ({manifest.license})",
                _manual_missing(manifest),
                _manual_runner(manifest.name, manuals_dir),
            )
        )
    return sets


def run_suite(
    settings: Settings,
    embedder: Embedder,
    out_dir: Path,
    sets: Sequence[SuiteSet],
    progress: Callable[[str], Progress | None] = lambda name: None,
    work: Path | None = None,
) -> SuiteOutcome:
    """Run each available set into `out_dir/<set>/`, then write summary.{json,md,html} and the joint plot. With
    `work`, each set keeps its eval work folder in `work/<set>/` between runs (see runner.work_folder)."""
    outcome = SuiteOutcome(out_dir=out_dir)
    for item in sets:
        why = item.missing()
        if why is not None:
            outcome.skipped[item.name] = why
            continue
        folder = out_dir / item.name
        try:
            item.run(settings, embedder, folder, progress(item.name), work / item.name if work else None)
        except Exception as exc:  # noqa: BLE001 - one broken set must not hide the others' numbers
            outcome.failed[item.name] = f"{type(exc).__name__}: {exc}"
            continue
        outcome.rows[item.name] = headline(folder) | {"data": item.describe}
    write_summary(outcome)
    return outcome


def headline(folder: Path) -> dict[str, Any]:
    """The summary's numbers for one set, read back from the report it wrote."""
    metrics = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
    overall = metrics["overall"]
    row: dict[str, Any] = {key: overall.get(key) for key, _ in COLUMNS if key in overall}
    match = re.match(r"threshold ([0-9.]+)", metrics["stamp"].get("calibration", ""))
    row["threshold"] = float(match.group(1)) if match else None
    manual = metrics.get("manual")
    if manual:  # a manual's own measures: actionable answers at deflect's own threshold and when answering all
        own = next(iter(manual.values()))["all"]
        row |= {k: own.get(k) for k in ("actionable", "answered_not_actionable")}
        row["escalation_recall"] = own.get("oos_escalated")
        row["answer_all_actionable"] = manual.get("answer-all", {}).get("all", {}).get("actionable")
    return row


def write_summary(outcome: SuiteOutcome) -> None:
    out = outcome.out_dir
    out.mkdir(parents=True, exist_ok=True)
    images = [_joint_curve(outcome)] if outcome.rows else []
    (out / "summary.json").write_text(
        json.dumps(
            {"git": git_revision(), "sets": outcome.rows, "skipped": outcome.skipped, "failed": outcome.failed},
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    md = summary_markdown(outcome, images)
    (out / "summary.md").write_text(md, encoding="utf-8")
    (out / "summary.html").write_text(to_html(md, images), encoding="utf-8")


def summary_markdown(outcome: SuiteOutcome, images: Sequence[Path] = ()) -> str:
    lines = ["# deflect evaluation suite", "", f"commit `{git_revision()}`", ""]
    lines += ["| set | " + " | ".join(h for _, h in COLUMNS) + " | data |", "|---" * (len(COLUMNS) + 2) + "|"]
    for name, row in outcome.rows.items():
        cells = [fmt(row.get(key)) for key, _ in COLUMNS]
        lines.append(f"| [{name}]({name}/report.html) | " + " | ".join(cells) + f" | {row.get('data', '')} |")
    lines += [
        "",
        "Every set is answered at the threshold deflect fitted on that set's KB by itself. `actionable` (manuals "
        "only): an expected page cited and every key term in the answer; its share of answerable questions, at that "
        "threshold and with every question answered. For manuals, `must-escalate escalated` is out-of-scope "
        "questions escalated.",
    ]
    for title, entries in (("Skipped", outcome.skipped), ("Failed", outcome.failed)):
        if entries:
            lines += ["", f"## {title}", ""] + [f"- **{name}**: {why}" for name, why in entries.items()]
    if images:
        lines += ["", "## Risk-coverage, every set", ""] + [f"![{p.stem}]({p.name})" for p in images]
    return "\n".join(lines) + "\n"


def _joint_curve(outcome: SuiteOutcome) -> Path:
    fig, ax = plt.subplots(figsize=(6, 4.5))
    for name in outcome.rows:
        path = outcome.out_dir / name / CURVE_FILE
        if not path.exists():
            continue
        points = json.loads(path.read_text(encoding="utf-8"))
        ax.plot([p["coverage"] for p in points], [p["risk"] for p in points], marker=".", label=name)
    ax.axhline(0.05, ls="--", c="grey", lw=0.8)
    ax.set(xlabel="coverage (correct answers / answerable)", ylabel="risk (wrong / answered)", title="Risk-coverage")
    ax.legend()
    fig.tight_layout()
    target = outcome.out_dir / "risk_coverage_all.png"
    fig.savefig(target, dpi=90)
    plt.close(fig)
    return target


def _golden(
    settings: Settings,
    embedder: Embedder,
    out: Path,
    progress: Progress | None,
    work: Path | None,
    golden: Path,
    kb: Path | None,
) -> None:
    evaluate(settings, embedder, out, golden=golden, kb=kb, progress=progress, keep=work)


def _dataset(
    settings: Settings, embedder: Embedder, out: Path, progress: Progress | None, work: Path | None, dataset: Path
) -> None:
    evaluate(settings, embedder, out, dataset=dataset, holdout_fraction=0.25, progress=progress, keep=work)


def _packaged_missing(name: str) -> Callable[[], str | None]:
    return lambda: unavailable(name)


def _packaged_runner(name: str) -> Runner:
    def run(settings: Settings, embedder: Embedder, out: Path, progress: Progress | None, work: Path | None) -> None:
        with tempfile.TemporaryDirectory(prefix="deflect-packaged-") as data:  # its text never lands in the repo
            dataset = materialize(name, Path(data))
            evaluate(settings, embedder, out, dataset=dataset, holdout_fraction=0.25, progress=progress, keep=work)

    return run


def _manual_missing(manifest: ManualManifest) -> Callable[[], str | None]:
    def missing() -> str | None:
        if Path(manifest.html_root).is_dir():
            return None
        return f"{manifest.html_root} not found: `apt-get install {manifest.debian_package}`"

    return missing


def _manual_runner(name: str, manuals_dir: Path) -> Runner:
    def run(settings: Settings, embedder: Embedder, out: Path, progress: Progress | None, work: Path | None) -> None:
        evaluate_manual(settings, embedder, name, out, manuals_dir=manuals_dir, progress=progress, keep=work)

    return run
