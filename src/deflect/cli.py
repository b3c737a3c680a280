"""`deflect` command line: thin wrappers over DeflectService. Exit codes: 0 ok / answered, 2 usage or input
error, 3 escalated (ask) or regression (eval)."""

from __future__ import annotations

import json
import os
import sys
import textwrap
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from deflect.config import PORT_RANGE, Settings
from deflect.domain.models import AskResult, Audience, Decision, IngestReport
from deflect.errors import ConfigError, DeflectError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Cited answers from your knowledge base, or an escalation.",
)
out = Console()
err = Console(stderr=True)

EXIT_INPUT = 2
EXIT_ESCALATED = 3


@contextmanager
def _errors() -> Iterator[None]:
    """Turn our errors and bad settings into one clear line on stderr and exit code 2."""
    try:
        yield
    except DeflectError as exc:
        for line in exc.message.splitlines():  # one problem a line (bad settings), each greppable on its own
            err.print(f"[red]error[/red] ({exc.code}): {escape(line)}", soft_wrap=True)
        raise typer.Exit(EXIT_INPUT) from None
    except ValidationError as exc:
        err.print(f"[red]error[/red] (config_error): invalid settings: {escape(exc.errors()[0]['msg'])}")
        raise typer.Exit(EXIT_INPUT) from None


@app.callback()
def _project(
    project: Annotated[
        Path | None,
        typer.Option(
            "--project",
            "-p",
            help="Project folder (made by `deflect init`); default: DEFLECT_PROJECT, else the nearest folder with a "
            "deflect.env from here up.",
        ),
    ] = None,
) -> None:
    if project is not None:
        # Through the environment, so `serve --workers N` processes and the ingest hand-off see the same project.
        os.environ["DEFLECT_PROJECT"] = str(project.expanduser().resolve())


def _settings() -> Settings:
    with _errors():
        return Settings.load()


def _service(settings: Settings) -> Any:
    # Importing torch and loading the model take seconds to tens of seconds on a busy machine: say so meanwhile
    # (stderr, and only on a terminal, so --json output and pipes stay clean).
    with err.status("loading the embedding model and the index...", spinner="dots"):
        from deflect.wiring import build_service

        return build_service(settings)


def _unreadable(path: Path) -> str:
    """Why a path named to `deflect ingest` cannot be ingested ("" when it can)."""
    if path.is_symlink() and not path.exists():
        return "is a broken link"
    if not path.exists():
        return "does not exist"
    if not (path.is_file() or path.is_dir()):
        # A FIFO found in a folder is reported as skipped; named on its own it can only be a mistake.
        return "is not a regular file or folder"
    return ""


@app.command()
def ingest(
    paths: Annotated[list[Path] | None, typer.Argument(help="Files or folders (default: the kb folder).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Index articles and resolved escalations; unchanged sources are skipped, deleted ones pruned."""
    settings = _settings()
    targets = paths or [settings.kb_dir]
    for path in targets:
        problem = _unreadable(path)
        if problem:
            err.print(f"[red]error[/red] (validation_failed): {escape(str(path))} {problem}")
            raise typer.Exit(EXIT_INPUT)
    # Always the kb: a folder outside it is named as if it sat in the kb (`manual/guide.md` for /elsewhere/manual),
    # whatever the working directory, and exactly as a running server names it.
    root = settings.kb_dir
    from deflect.handoff import ingest_via_server, running_server

    server = running_server(settings)
    with _errors():
        if server is not None:
            # A server owns this index: it ingests while it keeps answering (a second writer broke its view).
            err.print(f"a deflect server is running at {server}: it does the ingest", style="dim")
            with _progress(disable=as_json) as advance:
                report = IngestReport.model_validate(ingest_via_server(server, settings, targets, advance))
        else:
            service = _service(settings)
            with _progress(disable=as_json) as advance:
                report = service.ingest(targets, root, advance)
    from deflect.cli_sources import print_failures, print_files

    print_failures(report)  # on stderr, also with --json
    if as_json:
        print(json.dumps(report.model_dump(exclude={"errors"})))
        return
    print_files(report)  # every file found: ingested, unchanged, skipped (why) or failed (why)
    if report.added == report.updated == report.deleted == 0:
        out.print(
            f"Index up to date: {report.unchanged} sources unchanged, nothing re-embedded ({report.chunks} chunks)."
        )
    else:
        out.print(
            f"added {report.added}, updated {report.updated}, deleted {report.deleted}, "
            f"unchanged {report.unchanged}; {report.chunks} chunks in the index."
        )
    if report.calibration:
        out.print(f"calibration: {escape(report.calibration)}")
        if report.calibration.startswith("refitted"):
            out.print(
                "deflect fits when to answer on each KB itself (questions made from its own titles, headings and "
                f"resolved tickets), for at most {settings.target_risk:.0%} wrong answers; it refits when "
                f"{settings.recalibrate_share:.0%} of sources change, and `deflect calibrate` refits at once.",
                style="dim",
            )


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question to answer.")],
    audience: Annotated[
        Audience, typer.Option(help="Who is asking: customer (public content) or agent.")
    ] = Audience.CUSTOMER,
    as_json: Annotated[bool, typer.Option("--json", help="Print the response as JSON.")] = False,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Decide and answer as usual, but record nothing (no escalation, no audit, no answer)."
        ),
    ] = False,
) -> None:
    """Answer with numbered sources (exit 0) or escalate (exit 3). While `deflect serve` runs on this data folder,
    the server answers and records the question (with the first customer or agent key in the settings); --dry-run
    is then refused, since it needs the index to itself."""
    settings = _settings()
    from deflect.handoff import ask_via_server, running_server

    server = running_server(settings)
    with _errors():
        if server is not None:
            # A server owns this index (deflect.index.owner): it answers, records and escalates as for any caller.
            if dry_run:
                raise ConfigError(
                    f"a deflect server is running at {server} and owns the index: --dry-run needs the index to itself "
                    "(stop the server, or ask it without --dry-run)"
                )
            err.print(f"a deflect server is running at {server}: it answers", style="dim")
            result = AskResult.model_validate(ask_via_server(server, settings, question, audience is Audience.AGENT))
        else:
            service = _service(settings)
            service.require_index()
            result = service.ask(question, audience, record=not dry_run)
    if as_json:
        print(result.model_dump_json(indent=2))
    else:
        _render(result)
    raise typer.Exit(0 if result.decision is Decision.ANSWER else EXIT_ESCALATED)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (default from settings).")] = None,
    port: Annotated[
        int | None, typer.Option(min=PORT_RANGE[0], max=PORT_RANGE[1], help="Port (default from settings).")
    ] = None,
    workers: Annotated[int, typer.Option(help="Worker processes (more than 1 needs DEFLECT_CHROMA_MODE=http).")] = 1,
) -> None:
    """Run the HTTP API (OpenAPI docs at /docs)."""
    import uvicorn

    from deflect.api import create_app
    from deflect.api.workers import check_workers
    from deflect.handoff import remove_marker, write_marker

    if port is not None:
        # Through the environment, so the settings (the development widget's origins follow the port) and worker
        # processes see the port actually served.
        os.environ["DEFLECT_PORT"] = str(port)
    settings = _settings()
    with _errors():
        check_workers(settings, workers)
        api = create_app(settings) if workers == 1 else None
    bind, listen = host or settings.host, settings.port
    # JSON logs: uvicorn configures no handlers of its own, so its records reach the root's JSON handler.
    logs: dict[str, Any] = {"log_config": None} if settings.log_format == "json" else {}
    marker = write_marker(settings, bind, listen)  # `deflect ingest` finds this server and hands it the work
    try:
        if api is not None:
            uvicorn.run(api, host=bind, port=listen, log_level="info", **logs)
        else:  # each worker process builds its own app from the same environment
            factory = "deflect.api.workers:worker_app"
            uvicorn.run(factory, factory=True, workers=workers, host=bind, port=listen, log_level="info", **logs)
    finally:
        remove_marker(marker)


def _render(result: AskResult) -> None:
    if result.decision is Decision.ANSWER:
        out.print(result.answer, highlight=False, markup=False)
        out.print()
        for c in result.citations:
            out.print(f"[{c.n}] {c.title}  {c.url or c.source_id}", highlight=False, markup=False)
    elif result.dry_run:
        out.print(f"[yellow]Would escalate[/yellow] ({', '.join(result.reasons)}), priority {result.priority}")
    else:
        out.print(f"[yellow]Escalated[/yellow] ({', '.join(result.reasons)})")
        out.print(result.answer, highlight=False, markup=False)
    if result.draft_answer:  # an agent's escalated question: what the KB says, for the agent to check and use
        unsure = " (below the answer threshold: check it)" if result.draft_below_threshold else ""
        out.print(f"\n[cyan]Draft for the agent[/cyan]{unsure}:")
        out.print(result.draft_answer, highlight=False, markup=False)
        for c in result.draft_citations:
            out.print(f"[{c.n}] {c.title}  {c.url or c.source_id}", highlight=False, markup=False)
    if result.decision is not Decision.ANSWER:
        # A dry run lists them too: what the customer would be offered is part of what it shows.
        for page in result.suggested:
            where = f"{page.title} > {page.heading}" if page.heading else page.title
            out.print(f"- {where}  {page.url}", highlight=False, markup=False)
            if page.excerpt:  # quoted from that page (the hand-off text says so), indented under it
                out.print(textwrap.indent(page.excerpt, "    "), highlight=False, markup=False, soft_wrap=True)
    out.print(f"\nconfidence {result.confidence:.2f} · {result.latency_ms:.0f} ms", style="dim")
    if result.dry_run:
        out.print("dry run: nothing was recorded", style="dim")


@contextmanager
def _progress(disable: bool, label: str = "embedding") -> Iterator[Callable[[int, int], None]]:
    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err, disable=disable, transient=True) as bar:
        task = bar.add_task("embed", total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield advance


def main() -> None:
    """Console-script entry point."""
    from deflect import (  # noqa: F401  (they register their commands on the app)
        cli_escalations,
        cli_eval,
        cli_feedback,
        cli_gaps,
        cli_keys,
        cli_project,
        cli_sources,
        cli_web,
    )
    from deflect.offline import offline_environment

    offline_environment()
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
