"""What each knowledge file parsed into, remembered between ingests, so an unchanged file is not parsed again.

Parsing is a pure function of a file's bytes, its name under the ingest root, the signature (chunker settings and
model, folded into every content hash), the folder's rules (`deflect.yaml`, `.deflectignore`) and the parser
itself (deflect's ingest code, the parsing libraries, Python). The memo stores, per file, the SHA-256 of the bytes
it parsed and a key over all the rest, and what the parse found: each source's id, content hash and inferred
fields, and for an article the fingerprints of its blocks (boilerplate.py), so the folder's boilerplate is counted
without parsing its unchanged pages; the hashes are those before any boilerplate is taken out, which depends on the
folder, not on the file. A file whose bytes and key match is not parsed; its sources go to the ingest as
KnownSource, and the ingest still checks each against the index (the index stays the manifest): only when the index
holds that source with that hash, whole, is it left alone; otherwise the file is parsed for real.

So the memo can only ever say "this file, as it is now, would parse into these hashes", which holds whoever wrote
it: two ingests at once (the last writer wins; the other's entries are lost, not wrong), an index that was wiped or
swapped, a crash. A file that did not parse cleanly is not remembered. A missing, unreadable or foreign memo file is
an empty memo: everything is parsed, as before the memo existed. The file is replaced atomically and not fsync'd: a
memo lost to a power cut costs one full parse.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import uuid
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

from deflect.domain.models import SourceDoc
from deflect.errors import SourceError
from deflect.ingest.boilerplate import PageBlocks
from deflect.ingest.rules import CONFIG_FILE, IGNORE_FILE, KbRules
from deflect.ingest.sources import KnownSource, census_entry, content_hash, parse_bytes, read_bytes

log = logging.getLogger(__name__)

# 2: each article also stores its census entry (boilerplate.py), so an unchanged page counts without a parse.
# 3: the census entry holds the page's link pairs too (links.py: the navigation census).
FORMAT = 3
# The libraries that turn bytes into sources: a new version may parse the same bytes differently.
PARSER_DISTRIBUTIONS = (
    "beautifulsoup4",
    "docutils",
    "lxml",
    "markdownify",
    "markdown-it-py",
    "pypdf",
    "python-frontmatter",
    "PyYAML",
)


class ParseMemo:
    """Per file: the bytes' digest, the parse key and the sources found. Load, use, then save()."""

    def __init__(self, file: Path, root: Path, signature: str) -> None:
        self._file = file
        self.key = content_hash(signature, rules_fingerprint(root), parser_fingerprint())
        self._entries = self._load()
        self._seen: dict[str, dict[str, Any]] = {}

    def parse(
        self, path: Path, origin: str, signature: str, rules: KbRules
    ) -> tuple[list[SourceDoc], list[KnownSource], list[SourceError]]:
        """The file's sources: remembered ones (KnownSource) when its bytes and key match, else parsed now."""
        raw, digest, known = self.recall(path, origin)
        if known is not None:
            return [], known, []
        docs, errors = parse_bytes(raw, path, origin, signature, rules)
        self.remember(path, origin, digest, docs, errors)
        return docs, [], errors

    def recall(self, path: Path, origin: str) -> tuple[bytes, str, list[KnownSource] | None]:
        """The file's bytes, their digest and its remembered sources (None: it must be parsed, from these bytes)."""
        raw = read_bytes(path, origin)
        digest = hashlib.sha256(raw).hexdigest()
        name = str(path.resolve())
        entry = self._entries.get(name)
        if entry and entry["sha256"] == digest and entry["key"] == self.key and entry["origin"] == origin:
            self._seen[name] = entry
            return (
                raw,
                digest,
                [
                    KnownSource(s["id"], s["hash"], origin, path, tuple(s["inferred"]), _blocks(s.get("blocks")))
                    for s in entry["sources"]
                ],
            )
        return raw, digest, None

    def remember(self, path: Path, origin: str, digest: str, docs: list[SourceDoc], errors: list[SourceError]) -> None:
        """What the bytes of `digest` parsed into. Parsed from the very bytes that were hashed (recall): an edit
        made meanwhile cannot be remembered under the old digest. A file that did not parse cleanly is not."""
        if not errors:
            self._seen[str(path.resolve())] = {
                "origin": origin,
                "sha256": digest,
                "key": self.key,
                "sources": [_source_entry(d) for d in docs],
            }

    def save(self) -> None:
        """Write this run's entries over the last saved ones; entries of files that no longer exist are dropped."""
        kept = {name: e for name, e in self._entries.items() if name not in self._seen and os.path.exists(name)}
        body = json.dumps({"format": FORMAT, "files": {**kept, **self._seen}}, ensure_ascii=False)
        try:
            self._file.parent.mkdir(parents=True, exist_ok=True)
            tmp = self._file.with_name(f".{self._file.name}.{os.getpid()}.{uuid.uuid4().hex}")
            tmp.write_text(body, encoding="utf-8")
            os.replace(tmp, self._file)
        except OSError as exc:  # a cache: failing to write it costs the next ingest a full parse, nothing more
            log.warning("could not save the parse memo %s: %s", self._file, exc)

    def _load(self) -> dict[str, dict[str, Any]]:
        try:
            data = json.loads(self._file.read_text(encoding="utf-8"))
            files = data["files"] if data.get("format") == FORMAT else {}
            return {name: e for name, e in files.items() if _valid(e)}
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, TypeError, AttributeError, KeyError) as exc:
            log.warning("ignoring the unreadable parse memo %s (every file is parsed): %s", self._file, exc)
            return {}


def _source_entry(doc: SourceDoc) -> dict[str, Any]:
    """What a source parsed into, before any boilerplate is taken out (that depends on the folder, not the file)."""
    entry: dict[str, Any] = {"id": doc.source_id, "hash": doc.content_hash, "inferred": list(doc.inferred)}
    if doc.kind == "article":
        page = census_entry(doc)
        entry["blocks"] = {"fingerprints": sorted(page.fingerprints), "solid": page.solid, "links": sorted(page.links)}
    return entry


def _blocks(stored: Any) -> PageBlocks | None:
    if stored is None:
        return None
    return PageBlocks(frozenset(stored["fingerprints"]), bool(stored["solid"]), frozenset(stored.get("links", ())))


def _valid(entry: Any) -> bool:
    """An entry of the expected shape (a damaged or hand-edited memo must not break an ingest, only miss)."""
    return (
        isinstance(entry, dict)
        and all(isinstance(entry.get(k), str) for k in ("origin", "sha256", "key"))
        and isinstance(entry.get("sources"), list)
        and all(
            isinstance(s, dict)
            and isinstance(s.get("id"), str)
            and isinstance(s.get("hash"), str)
            and isinstance(s.get("inferred"), list)
            and _valid_blocks(s.get("blocks"))
            for s in entry["sources"]
        )
    )


def _valid_blocks(blocks: Any) -> bool:
    return blocks is None or (
        isinstance(blocks, dict)
        and isinstance(blocks.get("solid"), bool)
        and isinstance(blocks.get("fingerprints"), list)
        and all(isinstance(f, str) for f in blocks["fingerprints"])
        and isinstance(blocks.get("links", []), list)
        and all(isinstance(k, str) for k in blocks.get("links", []))
    )


def rules_fingerprint(root: Path) -> str:
    """The bytes of the folder's rule files (absent ones as such): a changed rule may change every file's sources."""
    parts = []
    for name in (CONFIG_FILE, IGNORE_FILE):
        try:
            parts.append(hashlib.sha256((root / name).read_bytes()).hexdigest())
        except OSError:
            parts.append("")
    return content_hash(parts)


@cache
def parser_fingerprint() -> str:
    """deflect's ingest and domain code, the parsing libraries' versions and Python's: a change to any may parse the
    same bytes differently, so it parses everything again (a development checkout does so after each edit)."""
    package = Path(__file__).resolve().parents[1]
    code = [
        hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted([*package.joinpath("ingest").rglob("*.py"), package / "domain" / "models.py"])
    ]
    versions = []
    for name in PARSER_DISTRIBUTIONS:
        try:
            versions.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{name} absent")
    return content_hash(sys.version, versions, code)
