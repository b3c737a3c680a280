"""Parse knowledge files into SourceDocs: Markdown and HTML articles, resolved-escalation JSONL.

A broken file (or line) becomes a SourceError that names its path and line; parsing carries on with the rest.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import frontmatter
import yaml
from bs4 import BeautifulSoup

from deflect.domain.models import SourceDoc
from deflect.errors import SourceError

ARTICLE_SUFFIXES = {".md", ".markdown", ".html", ".htm"}
ESCALATION_SUFFIXES = {".jsonl"}
ESCALATION_KEYS = ("id", "subject", "question", "resolution")
AUDIENCES = ("public", "internal")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([.,;:!?)])")
_SPACE_AFTER_PAREN = re.compile(r"\(\s+")


@dataclass
class ParsedSources:
    docs: list[SourceDoc] = field(default_factory=list)
    errors: list[SourceError] = field(default_factory=list)
    # Files with any error: their previously indexed sources must survive this run untouched.
    damaged_origins: set[str] = field(default_factory=set)
    origins: set[str] = field(default_factory=set)


def content_hash(*parts: object) -> str:
    """Stable hash of everything that shapes a source's chunks."""
    blob = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:32]


def discover(paths: Iterable[Path]) -> Iterator[Path]:
    """Knowledge files under the given files or folders, in a stable order."""
    for path in paths:
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.is_file() and child.suffix.lower() in ARTICLE_SUFFIXES | ESCALATION_SUFFIXES:
                    yield child
        elif path.is_file():
            yield path


def parse_paths(paths: Iterable[Path], root: Path, signature: str) -> ParsedSources:
    """Parse every knowledge file; `signature` (chunking + model) is folded into each content hash."""
    out = ParsedSources()
    seen_ids: set[str] = set()
    for path in discover(paths):
        origin = _relative(path, root)
        out.origins.add(origin)
        try:
            text = _read_text(path, origin)
            if path.suffix.lower() in ESCALATION_SUFFIXES:
                docs, errors = parse_escalations(text, origin, signature)
            elif path.suffix.lower() in {".html", ".htm"}:
                docs, errors = [parse_html(text, origin, signature)], []
            elif path.suffix.lower() in ARTICLE_SUFFIXES:
                docs, errors = [parse_markdown(text, origin, signature)], []
            else:
                raise SourceError(origin, f"unsupported file type {path.suffix!r}")
        except SourceError as exc:
            docs, errors = [], [exc]
        for doc in docs:
            if doc.source_id in seen_ids:
                errors.append(SourceError(origin, f"duplicate source id {doc.source_id}"))
                continue
            seen_ids.add(doc.source_id)
            out.docs.append(doc)
        if errors:
            out.errors.extend(errors)
            out.damaged_origins.add(origin)
    return out


def _relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.name


def _read_text(path: Path, origin: str) -> str:
    raw = path.read_bytes()
    if not raw.strip():
        raise SourceError(origin, "empty file")
    if b"\x00" in raw:
        raise SourceError(origin, "binary content (NUL bytes)")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SourceError(origin, f"not UTF-8 text (byte {exc.start})") from None


def _doc_id(origin: str) -> str:
    return "doc:" + origin.rsplit(".", 1)[0]


def _tags(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(t.strip() for t in value.split(",") if t.strip())
    if isinstance(value, list | tuple):
        return tuple(str(t).strip() for t in value if str(t).strip())
    raise ValueError("tags must be a list or a comma-separated string")


def _article(meta: dict[str, Any], body: str, origin: str, signature: str) -> SourceDoc:
    title = str(meta.get("title") or "").strip()
    if not title:
        raise SourceError(origin, "missing `title`", 1)
    audience = str(meta.get("audience") or "public").strip().lower()
    if audience not in AUDIENCES:
        raise SourceError(origin, f"`audience` must be public or internal, not {audience!r}", 1)
    if not body.strip():
        raise SourceError(origin, "article has no body")
    try:
        tags = _tags(meta.get("tags"))
    except ValueError as exc:
        raise SourceError(origin, str(exc), 1) from None
    fields = {
        "title": title,
        "url": str(meta.get("url") or ""),
        "audience": audience,
        "product": str(meta.get("product") or ""),
        "tags": tags,
        "updated": str(meta.get("updated") or ""),
        "body": body.strip(),
    }
    return SourceDoc(
        source_id=_doc_id(origin),
        kind="article",
        origin=origin,
        content_hash=content_hash(signature, fields),
        **fields,
    )


def parse_markdown(text: str, origin: str, signature: str) -> SourceDoc:
    """A Markdown article with YAML front matter."""
    try:
        post = frontmatter.loads(text)
    except (yaml.YAMLError, ValueError) as exc:  # ValueError: a YAML date that does not exist (2026-13-45)
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        raise SourceError(origin, f"bad front matter: {getattr(exc, 'problem', exc)}", line) from None
    if not post.metadata:
        raise SourceError(origin, "missing YAML front matter (title, url, audience, ...)", 1)
    return _article(dict(post.metadata), post.content, origin, signature)


def parse_html(text: str, origin: str, signature: str) -> SourceDoc:
    """An HTML help-centre page: metadata from <title>/<meta>, body converted to Markdown headings."""
    soup = BeautifulSoup(text, "html.parser")
    meta: dict[str, str] = {
        str(tag.get("name")).lower(): str(tag.get("content") or "") for tag in soup.find_all("meta") if tag.get("name")
    }
    title_tag = soup.find("title")
    h1 = soup.find("h1")
    meta["title"] = (
        meta.get("title")
        or (title_tag.get_text(strip=True) if title_tag else "")
        or (h1.get_text(strip=True) if h1 else "")
    )
    body = soup.find("main") or soup.find("article") or soup.body or soup
    # Navigation, footers and scripts are page chrome, not knowledge.
    for junk in body.find_all(["nav", "footer", "script", "style", "header", "aside", "form"]):
        junk.decompose()
    lines: list[str] = []
    for el in body.find_all(["h1", "h2", "h3", "h4", "p", "li", "pre", "td"]):
        if el.find_parent(["li", "pre", "td"]) is not None and el.name != "pre":
            continue
        # Inline tags are joined with spaces; glue punctuation back to the word before it.
        text_ = _SPACE_BEFORE_PUNCT.sub(r"\1", " ".join(el.get_text(" ", strip=True).split()))
        text_ = _SPACE_AFTER_PAREN.sub("(", text_)
        if not text_:
            continue
        if el.name in {"h1", "h2", "h3", "h4"}:
            lines.append("\n" + "#" * int(el.name[1]) + " " + text_ + "\n")
        elif el.name == "li":
            parent = el.find_parent(["ol", "ul"])
            if parent is not None and parent.name == "ol":
                index = len([s for s in el.find_previous_siblings("li")]) + 1
                lines.append(f"{index}. {text_}")
            else:
                lines.append(f"- {text_}")
        else:
            lines.append(text_ + "\n")
    return _article(meta, "\n".join(lines), origin, signature)


def parse_escalations(text: str, origin: str, signature: str) -> tuple[list[SourceDoc], list[SourceError]]:
    """Resolved escalations, one JSON object per line; a bad line is reported and skipped."""
    docs: list[SourceDoc] = []
    errors: list[SourceError] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            docs.append(_escalation(line, origin, lineno, signature))
        except SourceError as exc:
            errors.append(exc)
    return docs, errors


def _escalation(line: str, origin: str, lineno: int, signature: str) -> SourceDoc:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise SourceError(origin, f"invalid JSON: {exc.msg}", lineno) from None
    if not isinstance(obj, dict):
        raise SourceError(origin, "each line must be a JSON object", lineno)
    missing = [k for k in ESCALATION_KEYS if not str(obj.get(k) or "").strip()]
    if missing:
        raise SourceError(origin, f"missing {', '.join(missing)}", lineno)
    audience = str(obj.get("audience") or "internal").lower()
    if audience not in AUDIENCES:
        raise SourceError(origin, f"`audience` must be public or internal, not {audience!r}", lineno)
    try:
        tags = _tags(obj.get("tags"))
    except ValueError as exc:
        raise SourceError(origin, str(exc), lineno) from None
    fields = {
        "title": str(obj["subject"]).strip(),
        "url": str(obj.get("url") or ""),
        "audience": audience,
        "product": str(obj.get("product") or ""),
        "tags": tags,
        "updated": str(obj.get("resolved_at") or ""),
        "body": str(obj["question"]).strip(),
        "resolution": str(obj["resolution"]).strip(),
    }
    return SourceDoc(
        source_id=f"esc:{str(obj['id']).strip()}",
        kind="escalation",
        origin=origin,
        content_hash=content_hash(signature, fields),
        **fields,
    )
