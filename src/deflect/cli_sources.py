"""`deflect sources show ID` (a source as ingestion reads it, with what was inferred) and the ingest file table."""

from __future__ import annotations

import csv
import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from deflect.cli import EXIT_ESCALATED, EXIT_INPUT, _errors, _settings, app, err, out
from deflect.domain.models import IngestReport, SourceDoc
from deflect.errors import NotFound, SourceError
from deflect.ingest.rules import KbRules, load_rules

sources_app = typer.Typer(help="Knowledge sources as ingestion reads them.", no_args_is_help=True)
app.add_typer(sources_app, name="sources")

STATUSES = ("ingested", "unchanged", "skipped", "failed")
# import-tickets: the tickets that could be were imported, but some rows failed (listed): a script should look.
EXIT_SOME_FAILED = EXIT_ESCALATED
_EXAMPLES = 3


def print_failures(report: IngestReport) -> None:
    """Each problem with its path and line, on stderr."""
    for problem in report.errors:
        err.print(f"[red]failed[/red] {escape(problem)}")


def print_files(report: IngestReport) -> None:
    """Every file found, accounted for: a count per status, then each failure and the skipped files by reason; and
    the sources pruned, whose files are gone."""
    if report.deleted_sources:
        gone = sorted(report.deleted_sources)
        out.print(f"[yellow]deleted[/yellow] {len(gone)} (their files are gone or skipped): {escape(_examples(gone))}")
    if not report.files:
        return
    counts: Counter[str] = Counter(str(f.status) for f in report.files)
    table = Table(title=f"{len(report.files)} files found", title_justify="left")
    for column in ("status", "files"):
        table.add_column(column)
    for status in STATUSES:
        table.add_row(status, str(counts.get(status, 0)))
    out.print(table)
    by_reason: dict[str, list[str]] = defaultdict(list)
    for f in report.files:
        if f.status == "skipped":
            by_reason[f.reason].append(f.path)
    for reason, paths in sorted(by_reason.items()):
        out.print(f"[yellow]skipped[/yellow] {len(paths)} ({escape(reason)}): {escape(_examples(paths))}")
    from deflect.ingest.sources import BOILERPLATE_NOTE as BOILERPLATE
    from deflect.ingest.sources import PLAIN_TEXT_NOTE as PLAIN_TEXT

    inferred = sum(1 for f in report.files if any(not n.startswith((BOILERPLATE, PLAIN_TEXT)) for n in f.inferred))
    if inferred:
        out.print(f"{inferred} files had fields inferred (title, url or audience); see `deflect ingest --json`.")
    plain = [f.path for f in report.files if any(n.startswith(PLAIN_TEXT) for n in f.inferred)]
    if plain:
        out.print(
            f"{len(plain)} reStructuredText files docutils could not parse were read as plain text: "
            f"{escape(_examples(plain))}; see `deflect ingest --json`."
        )
    stripped = sum(1 for f in report.files if any(n.startswith(BOILERPLATE) for n in f.inferred))
    if stripped:
        out.print(
            f"{stripped} pages had text their folder repeats on most pages (a footer, a notice) left out as "
            "boilerplate; see `deflect ingest --json`."
        )


def _examples(paths: list[str]) -> str:
    """The first few paths, and how many more."""
    return ", ".join(paths[:_EXAMPLES]) + (f", ... (+{len(paths) - _EXAMPLES})" if len(paths) > _EXAMPLES else "")


@sources_app.command("show")
def show(
    source_id: Annotated[str, typer.Argument(help="A source id such as doc:articles/invoices or esc:ESC-1.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the source as JSON.")] = False,
) -> None:
    """A source's fields as ingestion reads them from the kb folder, and which of them were inferred."""
    from deflect.ingest.chunking import Chunker

    settings = _settings()
    with _errors():
        rules = load_rules(settings.kb_dir)
        doc = _find(source_id, settings.kb_dir, rules)
        chunks = Chunker(settings.chunk_size, settings.chunk_overlap).chunk(doc)
    fields = doc.model_dump(exclude={"body", "resolution", "content_hash"})
    fields["chunks"] = len(chunks)
    fields["heading_paths"] = sorted({c.heading_path for c in chunks if c.heading_path})
    if as_json:
        print(json.dumps(fields, ensure_ascii=False))
        return
    for key in ("source_id", "origin", "title", "url", "audience", "product", "tags", "updated", "chunks"):
        value = fields[key]
        out.print(f"{key:10} {escape(', '.join(value) if isinstance(value, list | tuple) else str(value))}")
    out.print(f"{'inferred':10} {escape('; '.join(doc.inferred) or 'nothing (every field stated by the file)')}")


def _find(source_id: str, kb: Path, rules: KbRules) -> SourceDoc:
    from deflect.ingest.sources import ARTICLE_SUFFIXES, ESCALATION_SUFFIXES, discover, parser_suffix

    kind, _, rest = source_id.partition(":")
    if kind == "doc":
        # parser_suffix, as ingest reads them: `guide.pdf.gz` is the PDF doc:guide (Debian compresses its docs).
        candidates = [p for p in sorted(kb.glob(rest + ".*")) if p.is_file() and parser_suffix(p) in ARTICLE_SUFFIXES]
    elif kind == "esc":
        candidates = [p for p in discover([kb]) if p.is_file() and parser_suffix(p) in ESCALATION_SUFFIXES]
    else:
        raise NotFound(f"{source_id!r} is not a source id (doc:<path> or esc:<id>)")
    for path in candidates:
        origin = path.resolve().relative_to(kb.resolve()).as_posix()
        try:
            docs = _parsed(path, origin, kb, rules)
        except SourceError as exc:
            err.print(f"[red]failed[/red] {escape(str(exc))}")
            raise typer.Exit(EXIT_INPUT) from None
        for doc in docs:
            if doc.source_id == source_id:
                return doc
    raise NotFound(f"no source {source_id} under {kb}")


def _parsed(path: Path, origin: str, kb: Path, rules: KbRules) -> list[SourceDoc]:
    """A file's sources as ingest gives them: an article without its folder's boilerplate (the folder is read too)."""
    from deflect.ingest.sources import ARTICLE_SUFFIXES, parse_file, parse_paths, parser_suffix

    if parser_suffix(path) not in ARTICLE_SUFFIXES:
        return parse_file(path, origin, "show", rules)[0]
    parsed = parse_paths([path], kb, "show", rules)
    if parsed.errors:
        raise parsed.errors[0]
    return parsed.docs


@app.command("import-tickets")
def import_tickets(
    export: Annotated[Path, typer.Argument(help="The export file (CSV, Zendesk JSON, Chatwoot JSON).")],
    fmt: Annotated[str, typer.Option("--format", help="csv, zendesk or chatwoot.")] = "csv",
    mapping: Annotated[
        list[str] | None,
        typer.Option("--map", help="CSV columns: question=Description,resolution=Last reply,id=Ticket ID,..."),
    ] = None,
    audience: Annotated[str, typer.Option(help="Audience of imported tickets with a public reply.")] = "internal",
    dest: Annotated[Path | None, typer.Option("--out", help="JSONL to write (default kb/escalations/).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Resolved tickets from a helpdesk export into escalation JSONL (PII-scrubbed); `deflect ingest` indexes it.

    Exit codes:
    0 every solved ticket imported (unsolved ones are skipped);
    3 some imported and written, some rows failed (listed);
    2 nothing imported from an export that has tickets (a wrong --map, say), or a bad export or option."""
    from deflect.ingest.helpdesk import from_chatwoot, from_csv, from_zendesk, parse_mapping, to_jsonl

    settings = _settings()
    if fmt not in {"csv", "zendesk", "chatwoot"} or audience not in {"public", "internal"}:
        err.print(
            "[red]error[/red] (validation_failed): --format is csv, zendesk or chatwoot; --audience public or internal"
        )
        raise typer.Exit(EXIT_INPUT)
    try:
        text = export.read_text(encoding="utf-8-sig")
        if fmt == "csv":
            result = from_csv(text, parse_mapping(mapping or []), audience=audience)
        else:
            result = (from_zendesk if fmt == "zendesk" else from_chatwoot)(text, audience=audience)
    except (OSError, UnicodeDecodeError, ValueError, csv.Error) as exc:
        err.print(f"[red]error[/red] (validation_failed): {escape(str(exc))}")
        raise typer.Exit(EXIT_INPUT) from None
    target = dest or settings.kb_dir / "escalations" / f"imported-{fmt}-{export.stem}.jsonl"
    if result.records:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(to_jsonl(result.records), encoding="utf-8")
    summary = {
        "imported": len(result.records),
        "skipped": result.skipped,
        "failed": result.failed,
        "notes": result.notes,
        "out": str(target) if result.records else None,
    }
    if as_json:
        print(json.dumps(summary))
    else:
        for line in result.notes:
            err.print(f"[yellow]note[/yellow] {escape(line)}")
        for line in result.failed:
            err.print(f"[red]failed[/red] {escape(line)}")
        out.print(
            f"imported {len(result.records)} resolved tickets"
            + (f" into {escape(str(target))}" if result.records else "")
            + f"; skipped {len(result.skipped)} (not solved), failed {len(result.failed)}."
            + (" Run `deflect ingest` next." if result.records else "")
        )
    if not result.records and (result.skipped or result.failed):
        raise typer.Exit(EXIT_INPUT)  # a script must not carry on as if the tickets were in the kb
    if result.failed:
        raise typer.Exit(EXIT_SOME_FAILED)
