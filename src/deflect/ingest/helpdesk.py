"""Resolved tickets from helpdesk exports, as deflect escalation records (the JSONL that ingestion reads).

Formats (files only, no network):
- `csv`: any CSV with a header row and a column mapping, e.g. `question=Description,resolution=Last reply`;
  fields: id, subject, question, resolution (required), status, tags, product, resolved_at, customer (a name to
  scrub). Columns match ignoring case and spaces; without a `status` column every row counts as solved (noted).
- `zendesk`: Zendesk's ticket export JSON (`{"tickets": [...]}`, a list, or one ticket per line), each ticket
  with its `comments` (`author_id`, `body`, `public`) as the Ticket Comments API gives them, and optionally
  `users` (`id`, `name`, `role`) to tell agents from end users.
- `chatwoot`: Chatwoot's conversation export JSON (`{"payload": [...]}`, the API's `{"data": {"payload": [...]}}`,
  a list, or one per line), each
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

from deflect.ingest.salutations import substance
from deflect.pii import scrub

FIELDS = ("id", "subject", "question", "resolution", "status", "tags", "product", "resolved_at", "customer")
SOLVED = {"solved", "closed", "resolved"}


@dataclass
class ImportResult:
    records: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # "ticket 12: status open"
    failed: list[str] = field(default_factory=list)  # "ticket 13: no agent reply"
    notes: list[str] = field(default_factory=list)  # how the file was read: "no status column: ..."


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
    reader = csv.reader(io.StringIO(text))
    header = next(reader, [])
    # Real exports name their columns "Status", "Ticket ID ": a column is found whatever its case and surrounding
    # spaces (an exact match first), so the default status column is not silently missed and open tickets imported.
    by_key: dict[str, int] = {}
    for i, name in enumerate(header):
        by_key.setdefault(_column_key(name), i)
    exact = {name: i for i, name in enumerate(header)}

    def find(column: str) -> int | None:
        return exact[column] if column in exact else by_key.get(_column_key(column))

    where = {f: find(mapping.get(f, f)) for f in FIELDS}
    present = ", ".join(repr(h) for h in header) or "none"
    # A column the mapping names must exist (a typo would silently fall back to row numbers or to "every row
    # solved"); question and resolution must exist whether mapped or not.
    missing = [
        f"{f} (column {mapping.get(f, f)!r})"
        for f in FIELDS
        if where[f] is None and (f in mapping or f in ("question", "resolution"))
    ]
    if missing:
        out.failed.append(f"missing columns: {', '.join(missing)}; present: {present}")
        return out
    if where["status"] is None:
        out.notes.append("no status column: every row taken as solved (map one with status=Column)")
    if where["id"] is None:
        out.notes.append("no id column: records are named by row number (map one with id=Column)")
    for row in reader:
        n = reader.line_num  # the line the row ended on: a quoted field may span lines
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            # A row cut short or split by a stray quote: its cells would land in the wrong fields ("x" as the
            # question, a date as a tag), so it is refused, never imported.
            out.failed.append(f"row ending on line {n}: {len(row)} fields, the header has {len(header)}")
            continue

        def get(name: str, row: list[str] = row) -> str:
            i = where[name]
            return row[i].strip() if i is not None else ""

        ticket = get("id") or str(n)
        status = get("status").lower()
        if where["status"] is not None and status not in SOLVED:
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
    tickets = _items(doc, ("tickets",), 'Zendesk tickets: a list, {"tickets": [...]} or one ticket per line')
    users = {u.get("id"): u for u in _dicts(doc.get("users") if isinstance(doc, dict) else None)}
    for n, ticket in enumerate(tickets, start=1):
        if not isinstance(ticket, dict):
            out.failed.append(f"item {n}: not a ticket object")
            continue
        ident = ticket.get("id")
        if ticket.get("comments") is not None and not isinstance(ticket.get("comments"), list):
            out.failed.append(f"ticket {ident}: comments is not a list")
            continue
        status = str(ticket.get("status") or "").lower()
        if status not in SOLVED:
            out.skipped.append(f"ticket {ident}: status {status or 'empty'}")
            continue
        requester = ticket.get("requester_id")
        comments = [
            c for c in _dicts(ticket.get("comments")) if str(c.get("body") or c.get("plain_body") or "").strip()
        ]

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
    # An export ({"payload": [...]}) or the list-conversations API's own reply ({"data": {"meta", "payload"}}).
    conversations = _items(
        doc,
        ("payload", "data"),
        'Chatwoot conversations: a list, {"payload": [...]}, {"data": {"payload": [...]}} or one per line',
    )
    for n, conv in enumerate(conversations, start=1):
        if not isinstance(conv, dict):
            out.failed.append(f"item {n}: not a conversation object")
            continue
        ident = conv.get("id") or conv.get("display_id")
        status = str(conv.get("status") or "").lower()
        if status not in SOLVED:
            out.skipped.append(f"conversation {ident}: status {status or 'empty'}")
            continue
        if conv.get("messages") is not None and not isinstance(conv.get("messages"), list):
            out.failed.append(f"conversation {ident}: messages is not a list")
            continue
        messages = [m for m in _dicts(conv.get("messages")) if str(m.get("content") or "").strip()]
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
        # The agent's reply without its greeting and sign-off (deflect.ingest.salutations): it is quoted to others.
        "resolution": substance(clean(resolution)),
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


def _column_key(name: str) -> str:
    return " ".join(name.split()).casefold()


def _items(doc: Any, keys: tuple[str, ...], expected: str) -> list[Any]:
    """The records of a document: itself when a list, else under the first of `keys` it has (looking one level
    further into a dict found there, as an API reply wraps its payload); ValueError naming `expected` otherwise."""
    for depth in range(3):
        if isinstance(doc, list):
            return doc
        if not isinstance(doc, dict) or depth == 2:
            break
        doc = next((doc[k] for k in keys if k in doc), None)
    raise ValueError(f"not an export this format reads: expected {expected}")


def _dicts(value: Any) -> list[dict[str, Any]]:
    """The objects of a list (a comment or user that is not an object says nothing, and is passed over)."""
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


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
