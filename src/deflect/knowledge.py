"""The knowledge loop: a resolved escalation becomes a searchable `esc:` source within a second.

The entry is appended to `kb/escalations/resolved.jsonl` (version control sees it, `deflect ingest` reads it) and
parsed by the same code as any escalation file, so its content hash is the one ingestion computes: a later
`deflect ingest` finds it unchanged, neither duplicating nor losing it. Then only that source is embedded and
indexed. Text is scrubbed of personal data before it is written anywhere.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

from deflect.domain.escalation import Escalation
from deflect.domain.models import SourceDoc
from deflect.errors import SourceError, ValidationFailed
from deflect.ingest.salutations import substance
from deflect.ingest.sources import parse_escalations

RESOLVED_FILE = Path("escalations") / "resolved.jsonl"
Scrubber = Callable[[str, Sequence[str]], str]  # (text, names to remove) -> scrubbed text


def knowledge_records(
    esc: Escalation,
    resolution: str,
    resolved_at: datetime,
    scrub: Scrubber,
    publish: bool = False,
    public_resolution: str | None = None,
    names: Sequence[str] = (),
) -> list[dict[str, object]]:
    """The kb/escalations records for a resolution: internal by default; public when published (an edited public
    version becomes its own public entry beside the full internal one)."""
    if not resolution.strip():
        raise ValidationFailed("a resolution text is required")
    question = scrub(esc.question, names)
    subject = " ".join(question.split())[:120]
    base = {
        "subject": subject,
        "question": question,
        "tags": sorted({r.split(":", 1)[-1] for r in esc.reasons if r.startswith("risk_topic:")}),
        "product": "",
        "resolved_at": resolved_at.isoformat(),
    }
    # The reply's substance: the greeting and sign-off were for one customer, not for everyone it is quoted to.
    full = substance(scrub(resolution, names))
    if public_resolution is not None and public_resolution.strip():
        public = substance(scrub(public_resolution, names))
        return [
            {"id": esc.id, **base, "resolution": full, "audience": "internal"},
            {"id": f"{esc.id}-public", **base, "resolution": public, "audience": "public"},
        ]
    return [{"id": esc.id, **base, "resolution": full, "audience": "public" if publish else "internal"}]


class KnowledgeWriter:
    """Appends records to the kb's resolved-escalations file, one whole line per write, flushed to disk."""

    def __init__(self, kb_dir: Path) -> None:
        self.kb_dir = kb_dir
        self.path = kb_dir / RESOLVED_FILE
        self._lock = threading.Lock()

    def append(self, records: Sequence[dict[str, object]], signature: str) -> list[SourceDoc]:
        """Write the records and return them parsed exactly as `deflect ingest` will parse them."""
        lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
        docs, errors = parse_escalations(lines, RESOLVED_FILE.as_posix(), signature)
        if errors:
            raise SourceError(str(self.path), "; ".join(e.message for e in errors))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                # Start on a fresh line even if a crash once left a partial one (ingest reports that line).
                prefix = b"" if os.fstat(fd).st_size == 0 or _ends_with_newline(self.path) else b"\n"
                os.write(fd, prefix + lines.encode("utf-8"))
                os.fsync(fd)
            finally:
                os.close(fd)
        return docs

    def append_missing(self, records: Sequence[dict[str, object]], signature: str) -> list[SourceDoc]:
        """As `append`, but only records whose id is not in the file yet are written (a retried or resumed
        resolution must not duplicate its entry); returns all of them parsed."""
        present = self.ids()
        missing = [r for r in records if r.get("id") not in present]
        if missing:
            self.append(missing, signature)
        lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
        docs, errors = parse_escalations(lines, RESOLVED_FILE.as_posix(), signature)
        if errors:
            raise SourceError(str(self.path), "; ".join(e.message for e in errors))
        return docs

    def ids(self) -> set[object]:
        """Ids of the entries already in the file (unparseable lines are skipped: ingest reports them)."""
        if not self.path.exists():
            return set()
        found: set[object] = set()
        for line in self.path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict):
                found.add(entry.get("id"))
        return found


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as fh:
        fh.seek(-1, os.SEEK_END)
        return fh.read(1) == b"\n"
