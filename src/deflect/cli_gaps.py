"""`deflect gaps`: clusters of escalated and unhelpful questions, the KB sources near them, and what looks broken."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from deflect.cli import _errors, _settings, app, err, out

if TYPE_CHECKING:  # deflect.gaps brings numpy: imported when `gaps` runs, not for every command's start
    from deflect.gaps import GapFinder, GapReport


def _finder() -> GapFinder:
    from deflect.calibrate.store import CalibrationStore
    from deflect.desk import utc_now
    from deflect.gaps import GapFinder
    from deflect.wiring import build_embedder, build_index, build_store, offline_environment

    offline_environment()
    settings = _settings()
    # The calibration says how the embedder spreads its cosines (the gap thresholds are MiniLM's).
    scale = CalibrationStore(settings.self_calibration_path, settings.calibration_file).load().cosine_scale
    return GapFinder(
        build_store(settings), build_embedder(settings), build_index(settings), clock=utc_now, scale=lambda: scale
    )


@app.command()
def gaps(
    days: Annotated[float, typer.Option(min=0.01, max=3650, help="Window: the last N days.")] = 30,
    min_size: Annotated[int, typer.Option("--min-size", min=1, help="Hide clusters smaller than this.")] = 2,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Content gaps: clusters of escalated and unhelpful questions, with nearest sources and warning flags. While
    `deflect serve` runs on this data folder the server makes the report (it owns the index)."""
    from deflect.handoff import gaps_via_server, running_server

    settings = _settings()
    server = running_server(settings)
    with _errors():
        if server is not None:
            from deflect.gaps import GapReport

            err.print(f"a deflect server is running at {server}: it makes the report", style="dim")
            report = GapReport.model_validate(gaps_via_server(server, settings, days, min_size))
        else:
            report = _finder().gaps(days=days, min_size=min_size)
    if as_json:
        print(report.model_dump_json(indent=2))
        return
    render(report)


def render(report: GapReport) -> None:
    """A table of clusters, then why each flagged cluster was flagged."""
    out.print(
        f"{report.questions} questions ({report.escalated} escalated, {report.unhelpful} unhelpful) from "
        f"{report.since:%Y-%m-%d} to {report.until:%Y-%m-%d}; {len(report.clusters)} clusters of at least "
        f"{report.min_size} hold {report.clustered}",
        markup=False,
        highlight=False,
    )
    if not report.clusters:
        return
    table = Table(show_lines=True)
    for col in ("gap", "size", "examples", "nearest sources", "flags"):
        table.add_column(col, overflow="fold")
    for c in report.clusters:
        flags = [
            f for f, on in (("RECURRING", c.recurring_after_resolution), ("CONTRADICTED", c.contradicted_article)) if on
        ]
        table.add_row(
            c.id,
            f"{c.size}\n({c.escalated} esc, {c.unhelpful} unh)",
            "\n".join(f"- {q[:90]}" for q in c.examples),
            "\n".join(f"{s.source_id} {s.score:.2f}" for s in c.nearest_sources) or "-",
            "\n".join(flags) or "-",
        )
    out.print(table, markup=False)
    for c in report.clusters:
        for r in c.recurrences:
            out.print(
                f"{c.id} recurring: {r.later} question(s) after {r.source_id or r.resolution_id} was resolved "
                f"{r.resolved_at:%Y-%m-%d} (similarity {r.similarity:.2f})",
                markup=False,
                highlight=False,
            )
        for x in c.contradictions:
            cues = ", ".join(repr(q) for q in x.cues) or "none"
            out.print(
                f"{c.id} contradicted: {x.source_id} ({x.source_kind}, updated {x.source_updated[:10]}) vs "
                f"{x.resolution_source_id or x.resolution_id} resolved {x.resolved_at:%Y-%m-%d}: cosine "
                f"{x.similarity:.2f}, word overlap {x.overlap:.2f}, cues {cues}",
                markup=False,
                highlight=False,
            )
