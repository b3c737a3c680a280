"""`deflect escalations ...`, `deflect audit ...` and `deflect stats`: the workflow from a terminal."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from deflect.cli import _errors, _settings, app, err, out
from deflect.domain.escalation import Escalation, Priority, State, Tier
from deflect.escalations.queue import Order

esc_app = typer.Typer(no_args_is_help=True, help="List, inspect and work escalations.")
audit_app = typer.Typer(no_args_is_help=True, help="Query and export the append-only audit log.")
app.add_typer(esc_app, name="escalations")
app.add_typer(audit_app, name="audit")

Actor = Annotated[str, typer.Option("--actor", help="Who is acting (recorded in the audit log).")]


def _desk():  # type: ignore[no-untyped-def]
    from deflect.wiring import build_desk

    return build_desk(_settings())


@esc_app.command("list")
def list_(
    state: Annotated[State | None, typer.Option(help="Only this state.")] = None,
    open_only: Annotated[
        bool, typer.Option("--open", help="Every state but the final ones (resolved, self_served).")
    ] = False,
    priority: Annotated[Priority | None, typer.Option(help="Only this priority.")] = None,
    tier: Annotated[Tier | None, typer.Option(help="Only this tier.")] = None,
    order: Annotated[
        Order, typer.Option(help="newest, or priority: critical to low, then the next SLA deadline (a work queue).")
    ] = Order.NEWEST,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Escalations, newest first (or most urgent first with --order priority)."""
    with _errors():
        desk = _desk()
        states = desk.open_states() if open_only else state
        items, total = desk.page(state=states, priority=priority, tier=tier, order=order, limit=limit)
    if as_json:
        print(json.dumps([e.model_dump(mode="json") for e in items], indent=2))
        return
    table = Table(title=f"{len(items)} escalations" + (f" of {total}" if total > len(items) else ""))
    for col in ("id", "created", "state", "priority", "tier", "reasons", "question"):
        table.add_column(col)
    for e in items:
        table.add_row(
            e.id,
            e.created_at.strftime("%Y-%m-%d %H:%M"),
            e.state.value,
            e.priority.value,
            e.tier.value,
            ", ".join(e.reasons),
            e.question[:60],
        )
    out.print(table)


@esc_app.command()
def sweep(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Check SLA clocks: hand breached escalations to management (audited) and list breach warnings."""
    with _errors():
        report = _desk().sweep()
    if as_json:
        print(json.dumps(report, indent=2))
        return
    for key in ("raised", "breached", "warning"):
        out.print(f"{key}: {', '.join(report[key]) or '-'}", markup=False)


@esc_app.command()
def show(escalation_id: str, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """One escalation: packet, SLA status and the engineering briefing."""
    with _errors():
        view = _desk().view(escalation_id)
    if as_json:
        print(json.dumps(view, indent=2))
    else:
        out.print(view["briefing"], markup=False, highlight=False)
        known = view.get("knowledge")
        if known:
            error = f" (attempts {known['attempts']}, last error: {known['last_error']})" if known["last_error"] else ""
            line = f"Knowledge: {known['state']} {', '.join(known['sources'])}{error}"
            out.print(line, markup=False, highlight=False)


def _act(escalation_id: str, action: str, actor: str, **payload: str) -> None:
    with _errors():
        esc = _desk().act(escalation_id, action, actor, **{k: v for k, v in payload.items() if v})
    out.print(f"{esc.id}: {action} -> {esc.state.value}", markup=False)


@esc_app.command()
def claim(escalation_id: str, actor: Actor, note: str = "") -> None:
    """Take ownership (acknowledges the SLA)."""
    _act(escalation_id, "claim", actor, note=note)


@esc_app.command()
def start(escalation_id: str, actor: Actor, note: str = "") -> None:
    """Start working on it."""
    _act(escalation_id, "start", actor, note=note)


@esc_app.command()
def update(escalation_id: str, actor: Actor, note: Annotated[str, typer.Option(help="The update.")]) -> None:
    """Post an update (no state change)."""
    _act(escalation_id, "update", actor, note=note)


@esc_app.command()
def wait(escalation_id: str, actor: Actor, note: str = "") -> None:
    """Waiting on the customer: pauses the SLA clock."""
    _act(escalation_id, "wait", actor, note=note)


@esc_app.command()
def resume(escalation_id: str, actor: Actor, note: str = "") -> None:
    """The customer answered: resumes the SLA clock."""
    _act(escalation_id, "resume", actor, note=note)


@esc_app.command()
def bounce(escalation_id: str, actor: Actor, reason: Annotated[str, typer.Option(help="Why it goes back.")]) -> None:
    """Send it back to the queue with a reason."""
    _act(escalation_id, "bounce", actor, reason=reason)


@esc_app.command()
def takeover(
    escalation_id: str, actor: Actor, reason: Annotated[str, typer.Option(help="Why you take it from its assignee.")]
) -> None:
    """Take over an escalation someone else claimed (audited with the previous assignee); only then may you work it."""
    _act(escalation_id, "takeover", actor, reason=reason)


@esc_app.command()
def resolve(
    escalation_id: str,
    actor: Actor,
    resolution: Annotated[str, typer.Option(help="What fixed it (becomes knowledge, scrubbed of personal data).")],
    publish: Annotated[bool, typer.Option(help="Make it visible to customers too.")] = False,
    public_resolution: Annotated[str | None, typer.Option(help="An edited customer-facing version.")] = None,
) -> None:
    """Resolve with the resolution text; it is indexed as an `esc:` source right away and written to the kb. While
    `deflect serve` runs on this data folder the server resolves it (it owns the index), with the first agent key in
    the settings and --actor as the one who resolved it."""
    from deflect.handoff import resolve_via_server, running_server

    settings = _settings()
    server = running_server(settings)
    with _errors():
        if server is not None:
            err.print(f"a deflect server is running at {server}: it resolves", style="dim")
            reply = resolve_via_server(server, settings, escalation_id, actor, resolution, publish, public_resolution)
            esc = Escalation.model_validate(reply["escalation"])
            sources, ms = reply["knowledge_sources"], reply["searchable_ms"]
        else:
            from deflect.wiring import build_service

            service = build_service(settings)
            esc, sources, ms = service.resolve_escalation(escalation_id, actor, resolution, publish, public_resolution)
    # Pending: committed, but the index could not take it yet; the knowledge job indexes it later.
    if ms is None:
        knowledge = f"knowledge {', '.join(sources)} pending, not searchable yet (`deflect escalations show` says why)"
    else:
        knowledge = f"searchable as {', '.join(sources)} after {ms:.0f} ms"
    out.print(f"{esc.id}: resolve -> {esc.state.value}; {knowledge}", markup=False)


@audit_app.command("show")
def audit_show(
    escalation_id: Annotated[str | None, typer.Option("--escalation")] = None,
    answer_id: Annotated[str | None, typer.Option("--answer")] = None,
) -> None:
    """Audit events of one escalation or answer, as JSONL."""
    with _errors():
        events = _desk().audit(escalation_id=escalation_id, answer_id=answer_id)
    for event in events:
        print(event.model_dump_json())


@audit_app.command("export")
def audit_export(path: Annotated[Path | None, typer.Argument(help="File to write (default: stdout).")] = None) -> None:
    """The whole audit log as JSONL."""
    with _errors():
        count = _desk().export_audit(path if path else sys.stdout)
    if path:
        out.print(f"wrote {count} events to {path}", markup=False)


@app.command()
def stats(
    since: Annotated[datetime | None, typer.Option(help="Only records since this UTC time.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Escalation rate, handoff delay, time to resolve, SLA breaches, bounce-backs, repeat issues."""
    from datetime import UTC

    from deflect.escalations.stats import stats_from_store

    with _errors():
        desk = _desk()
        result = stats_from_store(desk.store, desk.clock(), since.replace(tzinfo=UTC) if since else None)
    data = result.model_dump(mode="json")
    if as_json:
        print(json.dumps(data, indent=2))
        return
    table = Table(title="escalation stats")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in data.items():
        table.add_row(key, json.dumps(value) if isinstance(value, dict | list) else str(value))
    out.print(table)
