"""`deflect feedback list|sweep`: votes on answers from a terminal."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from deflect.cli import _errors, _settings, app, out
from deflect.domain.feedback import FeedbackRecord

fb_app = typer.Typer(no_args_is_help=True, help="Feedback readers gave on answers.")
app.add_typer(fb_app, name="feedback")


def _votes(answer_id: str | None, limit: int) -> list[FeedbackRecord]:
    # The store alone: listing needs no model or index.
    from deflect.store.sql import SqlStore

    store = SqlStore(_settings().database_url)
    try:
        return store.feedback(answer_id=answer_id, limit=limit)
    finally:
        store.close()


@fb_app.command("list")
def list_(
    answer: Annotated[str | None, typer.Option("--answer", help="Only votes on this answer id.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Votes, newest first."""
    with _errors():
        items = _votes(answer, limit)
    if as_json:
        # `via`: "self_serve" for the vote a customer's withdrawal cast for the page that solved it, else "vote".
        print(json.dumps([{**f.model_dump(mode="json"), "via": f.via} for f in items], indent=2))
        return
    table = Table(title=f"{len(items)} votes")
    for col in ("at", "answer", "helpful", "via", "role", "actor", "sources", "correct source", "question"):
        table.add_column(col)
    for f in items:
        table.add_row(
            f.at.strftime("%Y-%m-%d %H:%M"),
            f.answer_id,
            "yes" if f.helpful else "no",
            "self-serve" if f.via == "self_serve" else "vote",
            f.role,
            f.actor,
            ", ".join(f.source_ids),
            f.correct_source or "",
            f.question[:60],
        )
    out.print(table)


@fb_app.command()
def sweep(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Store the helpful votes of self-served escalations that a failed write lost, each once, over the votes' whole
    window (a year; the server's knowledge job does the last week every DEFLECT_KNOWLEDGE_RETRY_S). Exit 1 if some
    still could not be stored (see the log)."""
    from deflect.feedback import FeedbackDesk
    from deflect.store.sql import SqlStore

    with _errors():
        settings = _settings()
        store = SqlStore(settings.database_url, busy_timeout_s=settings.database_timeout_s)
        try:
            # No embedder: storing votes needs no model, and re-ranking is the server's business.
            report = FeedbackDesk(store, None).store_lost_self_served_votes(limit=None)
        finally:
            store.close()
    if as_json:
        print(json.dumps(report, indent=2))
    else:
        out.print(f"stored {report['stored']} lost self-serve votes; {report['failed']} failed", markup=False)
    if report["failed"]:
        raise typer.Exit(1)
