"""Resolved tickets from helpdesk exports, as deflect escalation records (the JSONL that ingestion reads).

Formats (files only, no network):
- `csv`: any CSV with a header row and a column mapping, e.g. `question=Description,resolution=Last reply`;
  fields: id, subject, question, resolution (required), status, tags, product, resolved_at, customer (a name to
  scrub). Without a `status` column every row counts as solved.
- `zendesk`: Zendesk's ticket export JSON (`{"tickets": [...]}`, a list, or one ticket per line), each ticket
  with its `comments` (`author_id`, `body`, `public`) as the Ticket Comments API gives them, and optionally
  `users` (`id`, `name`, `role`) to tell agents from end users.
- `chatwoot`: Chatwoot's conversation export JSON (`{"payload": [...]}`, a list, or one per line), each
  conversation with `status` and `messages` (`content`, `message_type` 0 incoming / 1 outgoing, `private`).

Only solved or closed (Zendesk) / resolved (Chatwoot) tickets are kept. The question is the customer's first
message; the resolution is the last public agent reply. Internal notes never become a public resolution: a
ticket answered only in internal notes is imported as internal with those notes, whatever `audience` was asked
for. Every text is PII-scrubbed (customer names included) before it is written, like resolutions written by
deflect itself. Records default to `internal`.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from deflect.pii import scrub

FIELDS = ("id", "subject", "question", "resolution", "status", "tags", "product", "resolved_at", "customer")
SOLVED = {"solved", "closed", "resolved"}


@dataclass
class ImportResult:
    records: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # "ticket 12: status open"
    failed: list[str] = field(default_factory=list)  # "ticket 13: no agent reply"


def parse_mapping(pairs: Iterable[str]) -> dict[str, str]:
    """`["question=Description", ...]` (or one comma-separated string) to {field: column}."""
    mapping: dict[str, str] = {}
    for pair in (p.strip() for item in pairs for p in item.split(",")):
        if not pair:
            continue
        key, sep, column = pair.partition("=")
        if not sep or key.strip() not in FIELDS or not column.strip():
            raise ValueError(f"bad mapping {pair!r}: use FIELD=Column with FIELD one of {', '.join(FIELDS)}")
        mapping[key.strip()] = column.strip()
    return mapping


def from_csv(text: str, mapping: Mapping[str, str], prefix: str = "csv", audience: str = "internal") -> ImportResult:
    """Rows of a CSV export, columns named by `mapping` (fields the mapping omits are read from same-named columns)."""
    out = ImportResult()
    reader = csv.DictReader(io.StringIO(text))
    columns = set(reader.fieldnames or [])
    wanted = {f: mapping.get(f, f) for f in FIELDS}
    missing = [f"{f} (column {wanted[f]!r})" for f in ("question", "resolution") if wanted[f] not in columns]
    if missing:
        out.failed.append(f"missing columns: {', '.join(missing)}; present: {', '.join(sorted(columns))}")
        return out
    for n, row in enumerate(reader, start=2):  # line 1 is the header

        def get(name: str, row: dict[str, str] = row) -> str:
            return (row.get(wanted[name]) or "").strip()

        ticket = get("id") or str(n)
        status = get("status").lower()
        if wanted["status"] in columns and status not in SOLVED:
            out.skipped.append(f"row {n} (ticket {ticket}): status {status or 'empty'}")
            continue
        question, resolution = get("question"), get("resolution")
        if not question or not resolution:
            out.failed.append(f"row {n} (ticket {ticket}): empty {'question' if not question else 'resolution'}")
            continue
        names = [get("customer")] if get("customer") else []
        out.records.append(
            _record(
                f"{prefix}-{ticket}",
                get("subject") or _first_line(question),
                question,
                resolution,
                names,
                tags=[t.strip() for t in get("tags").replace(";", ",").split(",") if t.strip()],
                product=get("product"),
                resolved_at=get("resolved_at"),
                audience=audience,
            )
        )
    return out


def from_zendesk(text: str, audience: str = "internal") -> ImportResult:
    """Solved/closed Zendesk tickets with their comments."""
    out = ImportResult()
    doc = _load(text)
    tickets = doc.get("tickets", []) if isinstance(doc, dict) else doc
    users = {u.get("id"): u for u in (doc.get("users", []) if isinstance(doc, dict) else [])}
    for ticket in tickets or []:
        ident = ticket.get("id")
        status = str(ticket.get("status") or "").lower()
        if status not in SOLVED:
            out.skipped.append(f"ticket {ident}: status {status or 'empty'}")
            continue
        requester = ticket.get("requester_id")
        comments = [c for c in ticket.get("comments") or [] if str(c.get("body") or c.get("plain_body") or "").strip()]

        def by_agent(c: dict[str, Any], requester: Any = requester) -> bool:
            role = str(users.get(c.get("author_id"), {}).get("role") or "")
            return role in {"agent", "admin"} if role else c.get("author_id") != requester

        customer = [c for c in comments if not by_agent(c)]
        question = _body(customer[0]) if customer else str(ticket.get("description") or "").strip()
        names = [str(users[requester]["name"])] if requester in users and users[requester].get("name") else []
        _add(
            out,
            f"zendesk-{ident}",
            ticket,
            question,
            comments,
            names,
            public=lambda c: bool(c.get("public", True)),
            body=_body,
            agent=by_agent,
            resolved_at=str(ticket.get("solved_at") or ticket.get("updated_at") or ""),
            audience=audience,
        )
    return out


def from_chatwoot(text: str, audience: str = "internal") -> ImportResult:
    """Resolved Chatwoot conversations with their messages (private notes stay internal)."""
    out = ImportResult()
    doc = _load(text)
    conversations = doc.get("payload", doc.get("data", [])) if isinstance(doc, dict) else doc
    for conv in conversations or []:
        ident = conv.get("id") or conv.get("display_id")
        status = str(conv.get("status") or "").lower()
        if status not in SOLVED:
            out.skipped.append(f"conversation {ident}: status {status or 'empty'}")
            continue
        messages = [m for m in conv.get("messages") or [] if str(m.get("content") or "").strip()]
        incoming = [m for m in messages if m.get("message_type") in (0, "incoming")]
        sender = (conv.get("meta") or {}).get("sender") or {}
        names = [str(sender["name"])] if sender.get("name") else []

        def by_agent(m: dict[str, Any]) -> bool:
            return m.get("message_type") in (1, "outgoing")

        question = str(incoming[0]["content"]).strip() if incoming else ""
        subject = str((conv.get("additional_attributes") or {}).get("mail_subject") or "")
        _add(
            out,
            f"chatwoot-{ident}",
            {**conv, "subject": subject, "tags": conv.get("labels") or []},
            question,
            messages,
            names,
            public=lambda m: not m.get("private", False),
            body=lambda m: str(m.get("content") or "").strip(),
            agent=by_agent,
            resolved_at=str(conv.get("last_activity_at") or conv.get("updated_at") or ""),
            audience=audience,
        )
    return out


def to_jsonl(records: Iterable[dict[str, Any]]) -> str:
    """The escalation JSONL ingestion reads, one record per line, sorted by id (a re-import diffs cleanly)."""
    return "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in sorted(records, key=_id))


def _add(
    out: ImportResult,
    ident: str,
    ticket: Mapping[str, Any],
    question: str,
    messages: list[dict[str, Any]],
    names: list[str],
    *,
    public: Callable[[dict[str, Any]], bool],
    body: Callable[[dict[str, Any]], str],
    agent: Callable[[dict[str, Any]], bool],
    resolved_at: str,
    audience: str,
) -> None:
    replies = [m for m in messages if agent(m)]
    public_replies = [m for m in replies if public(m)]
    notes = [body(m) for m in replies if not public(m)]
    if not question:
        out.failed.append(f"{ident}: no customer message")
        return
    if public_replies:
        resolution = body(public_replies[-1])
    elif notes:
        resolution, audience = "\n\n".join(notes), "internal"  # answered only in internal notes: stays internal
    else:
        out.failed.append(f"{ident}: no agent reply")
        return
    tags = ticket.get("tags") or []
    out.records.append(
        _record(
            ident,
            str(ticket.get("subject") or "").strip() or _first_line(question),
            question,
            resolution,
            names,
            tags=[str(t) for t in tags],
            product="",
            resolved_at=resolved_at,
            audience=audience,
        )
    )


def _record(
    ident: str,
    subject: str,
    question: str,
    resolution: str,
    names: list[str],
    *,
    tags: list[str],
    product: str,
    resolved_at: str,
    audience: str = "internal",
) -> dict[str, Any]:
    def clean(text: str) -> str:
        return scrub(text, names).text

    return {
        "id": ident,
        "subject": clean(subject),
        "question": clean(question),
        "resolution": clean(resolution),
        "tags": tags,
        "product": product,
        "resolved_at": resolved_at,
        "audience": audience,
    }


def _body(comment: Mapping[str, Any]) -> str:
    return str(comment.get("plain_body") or comment.get("body") or "").strip()


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line[:120]


def _id(record: Mapping[str, Any]) -> str:
    return str(record["id"])


def _load(text: str) -> Any:
    """One JSON document, or one JSON object per line (Zendesk's and Chatwoot's bulk exports use both)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return list(_lines(text))


def _lines(text: str) -> Iterator[Any]:
    for n, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                yield json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"line {n}: invalid JSON ({exc.msg})") from None
