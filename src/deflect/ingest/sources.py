"""Parse knowledge files into SourceDocs: Markdown, HTML, reStructuredText, plain text and PDF articles;
resolved-escalation JSONL.

Every file found is accounted for: parsed into sources, skipped (with the reason) or failed (with path, line and
reason); parsing carries on with the rest. What a file does not state is inferred (rules.py) and recorded on the
source: title from front matter / `<meta>`, else the first H1 (or `<title>`, the PDF's metadata), else the file
name; url from front matter, else the folder's base_url; audience from front matter, else a folder rule, else the
default.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import frontmatter
import yaml

from deflect.domain.models import SourceDoc
from deflect.errors import SourceError
from deflect.ingest.blocks import normalise, sections, split_anchor
from deflect.ingest.boilerplate import NOTHING, PageBlocks, applied, folder, page_blocks, repeated, strip, stripped_hash
from deflect.ingest.collector import fewer_collections
from deflect.ingest.html import PageLink, fragment_to_markdown, parse_page
from deflect.ingest.links import link_keys, markdown_links, navigation, navigation_hash, resolve, without_navigation
from deflect.ingest.myst import myst_to_markdown
from deflect.ingest.parallel import ParseJob, parse_jobs
from deflect.ingest.pdf import pdf_to_markdown, read_pdf
from deflect.ingest.redirects import HEAD_BYTES, redirect_target
from deflect.ingest.rules import CONFIG_FILE, IGNORE_FILE, KbRules, load_rules
from deflect.ingest.text import text_to_markdown

if TYPE_CHECKING:
    from deflect.ingest.memo import ParseMemo

MARKDOWN_SUFFIXES = {".md", ".markdown", ".mdown", ".mkd"}
HTML_SUFFIXES = {".html", ".htm", ".xhtml"}
TEXT_SUFFIXES = {".txt", ".text", ".adoc", ".asciidoc"}
RST_SUFFIXES = {".rst", ".rest"}
PDF_SUFFIXES = {".pdf"}
ARTICLE_SUFFIXES = MARKDOWN_SUFFIXES | HTML_SUFFIXES | TEXT_SUFFIXES | RST_SUFFIXES | PDF_SUFFIXES
ESCALATION_SUFFIXES = {".jsonl"}
ESCALATION_KEYS = ("id", "subject", "question", "resolution")
AUDIENCES = ("public", "internal")
_ATX_H1 = re.compile(r"^# +(.+?)\s*#*\s*$", re.M)
_SETEXT_H1 = re.compile(r"^(\S.*)\n=+\s*$", re.M)


class NotAnArticle(Exception):  # noqa: N818 (not an error: the file is skipped, with its reason)
    """A file that parses but holds no article to index (an index of links to other pages, a moved page's stub):
    skipped, with why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class Skipped:
    path: str
    reason: str


@dataclass(frozen=True)
class KnownSource:
    """A source of a file that was not parsed again: its bytes, rules and parser are those of an earlier parse
    (memo.py), which found this id and content hash. `path` is where to parse it when it has to be written."""

    source_id: str
    content_hash: str
    origin: str
    path: Path
    inferred: tuple[str, ...] = ()
    # An article's census entry (boilerplate.py); None for an escalation.
    blocks: PageBlocks | None = None
    # The boilerplate taken out of its body; `content_hash` covers it.
    stripped: frozenset[str] = NOTHING
    # The navigation links (their link_keys) taken out of its links; `content_hash` covers them.
    navigation: frozenset[str] = NOTHING
    origin_root: str = ""  # as SourceDoc.origin_root


@dataclass
class ParsedSources:
    docs: list[SourceDoc] = field(default_factory=list)
    # Sources of files the memo knows unchanged (parse_paths with a memo): not parsed, so no text.
    known: list[KnownSource] = field(default_factory=list)
    errors: list[SourceError] = field(default_factory=list)
    # Files with any error: their previously indexed sources must survive this run untouched.
    damaged_origins: set[str] = field(default_factory=set)
    origins: set[str] = field(default_factory=set)
    # Files (or hidden folders) found and deliberately not read, with the reason.
    skipped: list[Skipped] = field(default_factory=list)


def content_hash(*parts: object) -> str:
    """Stable hash of everything that shapes a source's chunks."""
    blob = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:32]


def discover(paths: Iterable[Path]) -> Iterator[Path]:
    """Every entry under the given files or folders, in a stable order; hidden folders are not entered. Hidden
    folders, broken links and what is no regular file (a FIFO, a socket) come too, for the report to name (see
    _skip_reason): a file found is never left out silently."""
    for path in paths:
        if path.is_dir():
            yield from _walk(path)
        else:
            yield path


def _walk(folder: Path) -> Iterator[Path]:
    for child in sorted(folder.iterdir()):
        if child.is_dir() and not child.name.startswith("."):
            yield from _walk(child)
        else:
            yield child


def parse_paths(
    paths: Iterable[Path],
    root: Path,
    signature: str,
    rules: KbRules | None = None,
    memo: ParseMemo | None = None,
    workers: int = 1,
) -> ParsedSources:
    """Parse every knowledge file; `signature` (chunking + model) is folded into each content hash. With a `memo`,
    files it knows unchanged are not parsed: their sources come back in `known`. Blocks repeated across a folder's
    pages are taken out of its articles (boilerplate.py). The files are parsed on `workers` processes (parallel.py;
    0: one per core)."""
    with fewer_collections():
        return _parse_paths(paths, root, signature, rules, memo, workers)


def _parse_paths(
    paths: Iterable[Path], root: Path, signature: str, rules: KbRules | None, memo: ParseMemo | None, workers: int
) -> ParsedSources:
    rules = rules if rules is not None else load_rules(root)
    paths = list(paths)
    out = ParsedSources()
    # path, origin, its origin_root, bytes' digest, remembered
    files: list[tuple[Path, str, str, str, list[KnownSource] | None]] = []
    jobs: list[ParseJob] = []
    for base, path in ((given, found) for given in paths for found in discover([given])):
        origin, where = _relative(path, root, base)
        reason = _skip_reason(path, origin, root, rules)
        if reason:
            out.skipped.append(Skipped(origin + ("/" if path.is_dir() else ""), reason))
            continue
        try:
            if memo is None:
                raw, digest, known = read_bytes(path, origin), "", None
            else:
                raw, digest, known = memo.recall(path, origin)
        except SourceError as exc:
            out.origins.add(origin)
            out.errors.append(exc)
            out.damaged_origins.add(origin)
            continue
        files.append((path, origin, where, digest, known))
        if known is None:
            jobs.append(ParseJob(raw, path, origin, signature, rules))
    parsed = iter(parse_jobs(jobs, workers))
    seen_ids: set[str] = set()
    census: dict[str, PageBlocks] = {}
    for path, origin, where, digest, remembered in files:
        known = remembered or []
        docs: list[SourceDoc] = []
        errors: list[SourceError] = []
        if remembered is None:
            outcome = next(parsed)
            if outcome.skipped is not None:
                out.skipped.append(Skipped(origin, outcome.skipped))
                continue
            docs, errors = list(outcome.docs), list(outcome.errors)
            if memo is not None:
                memo.remember(path, origin, digest, docs, errors)
        out.origins.add(origin)
        if where:  # a file from outside the kb: its sources say where they came from (pruning asks)
            docs = [d.model_copy(update={"origin_root": where}) for d in docs]
            known = [replace(k, origin_root=where) for k in known]
        found: list[SourceDoc | KnownSource] = [*docs, *known]
        for doc in found:
            if doc.source_id in seen_ids:
                errors.append(SourceError(origin, f"duplicate source id {doc.source_id}"))
                continue
            seen_ids.add(doc.source_id)
            if isinstance(doc, KnownSource):
                out.known.append(doc)
            else:
                out.docs.append(doc)
        census.update(_census(docs, known))
        if errors:
            out.errors.extend(errors)
            out.damaged_origins.add(origin)
    census.update(_siblings(paths, root, signature, rules, memo, out.origins))
    _strip_boilerplate(out, census)
    return out


def census_entry(doc: SourceDoc) -> PageBlocks:
    """An article's census entry: its blocks (boilerplate) and its links' pairs (navigation)."""
    return replace(page_blocks(doc.body), links=link_keys(doc.links))


def _census(docs: Iterable[SourceDoc], known: Iterable[KnownSource]) -> dict[str, PageBlocks]:
    """Each article page's census entry, by origin."""
    out = {d.origin: census_entry(d) for d in docs if d.kind == "article"}
    out.update({k.origin: k.blocks for k in known if k.blocks is not None})
    return out


def _siblings(
    paths: list[Path], root: Path, signature: str, rules: KbRules, memo: ParseMemo | None, scanned: set[str]
) -> dict[str, PageBlocks]:
    """The census entries of the pages beside a file given on its own: its folder's boilerplate is the same whether
    the folder or the one file is ingested (a rerun of either changes nothing)."""
    out: dict[str, PageBlocks] = {}
    for given in (p for p in paths if p.is_file()):
        for path in sorted(given.parent.iterdir()):
            origin = _relative(path, root, given)[0]
            if not path.is_file() or origin in scanned or parser_suffix(path) not in ARTICLE_SUFFIXES:
                continue
            if _skip_reason(path, origin, root, rules):
                continue
            known: list[KnownSource] = []
            try:
                if memo is None:
                    docs = parse_file(path, origin, signature, rules)[0]
                else:
                    docs, known, _ = memo.parse(path, origin, signature, rules)
            except (SourceError, NotAnArticle):
                continue  # a page that does not parse is not one of the folder's pages, as in a folder ingest
            out.update(_census(docs, known))
    return out


def _strip_boilerplate(out: ParsedSources, census: dict[str, PageBlocks]) -> None:
    """Take each folder's boilerplate and navigation links out of its articles; a known source only gets the hash
    it will have."""
    boilerplate = repeated(census)
    links = navigation({origin: page.links for origin, page in census.items()})

    def taken(origin: str) -> frozenset[str]:
        page = census.get(origin)
        return applied(page, boilerplate.get(folder(origin), NOTHING)) if page else NOTHING

    def menu(origin: str) -> frozenset[str]:
        page = census.get(origin)
        return page.links & links.get(folder(origin), NOTHING) if page else NOTHING

    out.docs = [
        without_navigation(without(d, taken(d.origin)), menu(d.origin)) if d.kind == "article" else d for d in out.docs
    ]
    out.known = [_known_without(k, taken(k.origin), menu(k.origin)) for k in out.known]


def _known_without(known: KnownSource, stripped: frozenset[str], menu: frozenset[str]) -> KnownSource:
    """A known source with the hash it will have once its boilerplate and navigation links are out."""
    if stripped:
        known = replace(
            known,
            content_hash=stripped_hash(known.content_hash, stripped),
            stripped=stripped,
            inferred=(*known.inferred, boilerplate_note(stripped)),
        )
    if menu:
        known = replace(known, content_hash=navigation_hash(known.content_hash, menu), navigation=menu)
    return known


BOILERPLATE_NOTE = "boilerplate:"
LINK_INDEX = "an index: nearly all of its text links to other pages"
# One reason for all, not one per target: the ingest report groups skipped files by reason.
REDIRECT = "a redirect: only sends its reader to another page"
NO_TEXT = "no text besides headings"
BROKEN_LINK = "broken link"
NOT_A_FILE = "not a regular file (a FIFO, a socket or a device)"


def boilerplate_note(stripped: frozenset[str]) -> str:
    """What the ingest report says of a page whose boilerplate was taken out: nothing leaves the index unsaid."""
    blocks = "block" if len(stripped) == 1 else "blocks"
    return f"{BOILERPLATE_NOTE} {len(stripped)} {blocks} repeated on most pages of its folder left out"


def without(doc: SourceDoc, stripped: frozenset[str]) -> SourceDoc:
    """An article without the boilerplate blocks `stripped`, its content hash covering them."""
    if not stripped:
        return doc
    return doc.model_copy(
        update={
            "body": strip(doc.body, stripped),
            "content_hash": stripped_hash(doc.content_hash, stripped),
            "inferred": (*doc.inferred, boilerplate_note(stripped)),
        }
    )


def _skip_reason(path: Path, origin: str, root: Path, rules: KbRules) -> str:
    if path.is_dir():
        return "hidden folder"
    if path.parent.resolve() == root.resolve() and path.name in {CONFIG_FILE, IGNORE_FILE}:
        return "deflect configuration"
    if rules.ignored(origin):
        return f"ignored by {IGNORE_FILE}"
    if path.name.startswith("."):
        return "hidden file"
    if path.is_symlink() and not path.exists():
        return BROKEN_LINK
    if not path.is_file():
        return NOT_A_FILE  # and never opened: reading a FIFO waits for a writer
    if _sphinx_source_copy(path):
        return "Sphinx's copy of the HTML pages' sources (_sources/)"
    suffix = parser_suffix(path)
    if suffix not in ARTICLE_SUFFIXES | ESCALATION_SUFFIXES:
        return _unsupported(path)
    return ""


def _unsupported(path: Path) -> str:
    """Why a file's type is not read; for a compressed file, what is inside is what matters (`curl.1.gz`: '.1')."""
    suffix = path.suffix.lower()
    if suffix == ".gz":
        inner = Path(path.stem).suffix.lower()
        return f"unsupported type {inner!r} (compressed)" if inner else "unsupported type (no file extension in .gz)"
    return f"unsupported type {suffix!r}" if suffix else "unsupported type (no file extension)"


def _sphinx_source_copy(path: Path) -> bool:
    """A file under a Sphinx HTML build's `_sources/` folder: the same text as an HTML page beside it, which would
    make every page a duplicate source."""
    for parent in path.parents:
        if parent.name == "_sources":
            build = parent.parent
            return (build / "objects.inv").is_file() or (build / "searchindex.js").is_file()
    return False


def parser_suffix(path: Path) -> str:
    """The suffix that decides the parser; `guide.txt.gz` is read as `.txt` (Debian compresses its docs)."""
    suffix = path.suffix.lower()
    if suffix == ".gz":
        inner = Path(path.stem).suffix.lower()
        return inner if inner in ARTICLE_SUFFIXES | ESCALATION_SUFFIXES else ""
    return suffix


def parse_file(
    path: Path, origin: str, signature: str, rules: KbRules | None = None
) -> tuple[list[SourceDoc], list[SourceError]]:
    """The sources in one knowledge file, by its suffix."""
    return parse_bytes(read_bytes(path, origin), path, origin, signature, rules)


def parse_bytes(
    raw: bytes, path: Path, origin: str, signature: str, rules: KbRules | None = None
) -> tuple[list[SourceDoc], list[SourceError]]:
    """The sources in a knowledge file's bytes, read from `path` (whose name decides the parser)."""
    rules = rules or KbRules()
    suffix = parser_suffix(path)
    if path.suffix.lower() == ".gz":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise SourceError(origin, f"not a readable gzip file ({exc})") from None
        if not raw.strip():
            raise SourceError(origin, "empty file")
    if suffix in HTML_SUFFIXES | RST_SUFFIXES | MARKDOWN_SUFFIXES and redirect_target(
        raw[:HEAD_BYTES].decode("utf-8", "replace"), suffix, path.name.removesuffix(".gz")
    ):
        # Checked on the bytes already read for the parse (and the memo's hash), before any of them is parsed.
        raise NotAnArticle(REDIRECT)
    if suffix in PDF_SUFFIXES:
        return [parse_pdf(raw, origin, signature, rules)], []
    text = _decode(raw, origin)
    if suffix in ESCALATION_SUFFIXES:
        return parse_escalations(text, origin, signature)
    if suffix in HTML_SUFFIXES:
        return [parse_html(text, origin, signature, rules)], []
    if suffix in TEXT_SUFFIXES:
        return [parse_text(text, origin, signature, rules)], []
    if suffix in RST_SUFFIXES:
        return [parse_rst(text, origin, signature, rules)], []
    if suffix in MARKDOWN_SUFFIXES:
        return [parse_markdown(text, origin, signature, rules)], []
    raise SourceError(origin, f"unsupported file type {path.suffix!r}")


def _relative(path: Path, root: Path, base: Path | None = None) -> tuple[str, str]:
    """A file's name relative to the ingest root, and ""; outside it, its name relative to the folder given
    (`manual/guide.md` for `deflect ingest /elsewhere/manual`), so same-named files in different folders do not
    collide, and the folder that name starts from (`/elsewhere`, its origin_root)."""
    # A broken link is named where it is: it resolves to its missing target.
    resolved = path.resolve() if path.exists() else path.parent.resolve() / path.name
    try:
        return resolved.relative_to(root.resolve()).as_posix(), ""
    except ValueError:
        pass
    where = outside_root(base or path, root)
    if base is not None and base.is_dir():
        try:
            name = base.resolve().name + "/" + resolved.relative_to(base.resolve()).as_posix()
            return name.lstrip("/"), where
        except ValueError:
            pass
    return path.name, where


def outside_root(path: Path, root: Path) -> str:
    """The origin_root of what a path given to the ingest holds: "" under the kb, else the folder it sits in."""
    resolved = path.resolve()
    return "" if resolved.is_relative_to(root.resolve()) else str(resolved.parent)


def read_bytes(path: Path, origin: str) -> bytes:
    """A knowledge file's bytes; an empty one is a SourceError."""
    raw = path.read_bytes()
    if not raw.strip():
        raise SourceError(origin, "empty file")
    return raw


def _decode(raw: bytes, origin: str) -> str:
    if b"\x00" in raw:
        raise SourceError(origin, "binary content (NUL bytes)")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SourceError(origin, f"not UTF-8 text (byte {exc.start})") from None


def _doc_id(origin: str) -> str:
    return "doc:" + origin.removesuffix(".gz").rsplit(".", 1)[0]


def _tags(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(t.strip() for t in value.split(",") if t.strip())
    if isinstance(value, list | tuple):
        return tuple(str(t).strip() for t in value if str(t).strip())
    raise ValueError("tags must be a list or a comma-separated string")


def title_from_name(origin: str) -> str:
    """`guides/getting-started.md` -> "Getting started"."""
    words = " ".join(re.split(r"[-_\s]+", PurePosixPath(origin.removesuffix(".gz")).stem)).strip()
    return (words[:1].upper() + words[1:]) if words else origin


def _article(
    meta: dict[str, Any],
    body: str,
    origin: str,
    signature: str,
    rules: KbRules,
    title_guesses: Iterable[tuple[str, str]] = (),
    notes: Iterable[str] = (),
    found_links: Iterable[PageLink] = (),
    fragments: tuple[tuple[str, str], ...] = (),
) -> SourceDoc:
    """An article from stated metadata, inferring what is missing; `title_guesses` are (title, how) in order;
    `notes` say how the body was read when it was not the usual way; `found_links` are the links of its body as
    written (those to other pages of the KB are kept) and `fragments` its ids with their sections' (html.py)."""
    inferred: list[str] = list(notes)
    title = " ".join(str(meta.get("title") or "").split())
    if not title:
        title, how = next(((t, h) for t, h in title_guesses if t.strip()), (title_from_name(origin), "file name"))
        inferred.append(f"title: {how}")
    stated_audience = meta.get("audience")
    if stated_audience is None or not str(stated_audience).strip():
        audience, how = rules.audience_for(origin)
        inferred.append(f"audience: {how}")
    else:
        audience = str(stated_audience).strip().lower()
    if audience not in AUDIENCES:
        raise SourceError(origin, f"`audience` must be public or internal, not {audience!r}", 1)
    url = str(meta.get("url") or "")
    if not url:
        url = rules.url_for(origin)
        if url:
            inferred.append("url: base_url + path")
    if not body.strip() or not any(section.blocks for section in sections(body)):
        # Nothing to chunk (a contents page whose links were navigation, a page emptied by its author or by a
        # parser that now drops its cover matter). Skipped, not failed: a failed file keeps what it had in the index
        # (a damaged file must not erase knowledge), and this one said what it says now, which is nothing.
        raise NotAnArticle(NO_TEXT)
    try:
        tags = _tags(meta.get("tags"))
    except ValueError as exc:
        raise SourceError(origin, str(exc), 1) from None
    fields = {
        "title": title,
        "url": url,
        "audience": audience,
        "product": str(meta.get("product") or ""),
        "tags": tags,
        "updated": str(meta.get("updated") or ""),
        "body": body.strip(),
    }
    links = resolve(found_links, origin, url, _article_id)
    # Links and ids shape the chunks (their fragments) and the anchors, not the body: the hash covers them when
    # there are any, so a page whose links changed is written again.
    linked = [[k.target, k.fragment, k.text, k.sentence] for k in links], [list(f) for f in fragments]
    return SourceDoc(
        source_id=_doc_id(origin),
        kind="article",
        origin=origin,
        content_hash=content_hash(signature, fields, *linked) if any(linked) else content_hash(signature, fields),
        inferred=tuple(inferred),
        links=links,
        fragments=fragments,
        **fields,
    )


def _article_id(origin: str) -> str | None:
    """The source id of the article a file under the ingest root would be, None for a file that is no article."""
    return _doc_id(origin) if parser_suffix(Path(origin)) in ARTICLE_SUFFIXES else None


def _first_h1(markdown: str) -> str:
    """The first level-1 heading outside code blocks."""
    fenced = False
    lines = markdown.splitlines()
    for i, line in enumerate(lines):
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        if fenced:
            continue
        match = _ATX_H1.match(line)
        if match:
            return split_anchor(match.group(1))[0]
        if line.strip() and i + 1 < len(lines) and re.match(r"^=+\s*$", lines[i + 1]) and not line.startswith(" "):
            return line.strip()
    return ""


def parse_markdown(text: str, origin: str, signature: str, rules: KbRules | None = None) -> SourceDoc:
    """A Markdown article, with or without YAML front matter; MyST's roles and directives read as Markdown."""
    try:
        post = frontmatter.loads(text)
    except (yaml.YAMLError, ValueError) as exc:  # ValueError: a YAML date that does not exist (2026-13-45)
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        raise SourceError(origin, f"bad front matter: {getattr(exc, 'problem', exc)}", line) from None
    meta = post.metadata if isinstance(post.metadata, dict) else {}
    body = normalise(myst_to_markdown(post.content, rst=_rst_markdown), html_block=fragment_to_markdown)
    return _article(
        dict(meta),
        body,
        origin,
        signature,
        rules or KbRules(),
        [(_first_h1(body), "first heading")],
        found_links=markdown_links(body),
    )


_NUMBERED_SECTION = re.compile(r"^\d+(?:\.\d+)*\.?\s+\S")


def _rst_markdown(text: str) -> str:
    """reStructuredText inside a MyST file (`{eval-rst}`) as Markdown; text docutils cannot parse is dropped."""
    from deflect.ingest.rst import RstError, rst_to_html

    try:
        return parse_page(rst_to_html(text)).body
    except RstError:
        return ""


def parse_html(text: str, origin: str, signature: str, rules: KbRules | None = None) -> SourceDoc:
    """An HTML page: metadata from `<meta>`, title from `<meta>`/a man page's NAME line/H1/`<title>`, content (not
    chrome) as Markdown."""
    page = parse_page(text)
    if page.link_index:
        raise NotAnArticle(LINK_INDEX)
    named = [(page.h1, "first heading"), (page.title_tag, "<title>")]
    if _NUMBERED_SECTION.match(page.h1) and page.title_tag and not page.title_tag.startswith(page.h1):
        # The first heading numbers the page's first section ("1. Overview" on half of SQLite's pages, which would
        # all be titled alike in answers and suggestions); the page's name is in <title>. A numbered chapter that
        # <title> repeats ("4. Memcheck", "9. Classes — Python 3.11 documentation") is the page's name and stays.
        named = [(page.title_tag, "<title> (the first heading numbers a section)"), (page.h1, "first heading")]
    guesses = [(page.name_line, "man page NAME line"), *named]
    return _article(
        dict(page.meta),
        page.body,
        origin,
        signature,
        rules or KbRules(),
        guesses,
        found_links=page.links,
        fragments=page.fragments,
    )


def parse_text(
    text: str, origin: str, signature: str, rules: KbRules | None = None, notes: Iterable[str] = ()
) -> SourceDoc:
    """A plain-text (or AsciiDoc) document as Markdown."""
    body = text_to_markdown(text)
    return _article({}, body, origin, signature, rules or KbRules(), [(_first_h1(body), "first heading")], notes)


# What the ingest report says of an .rst file docutils could not parse at all.
PLAIN_TEXT_NOTE = "body: read as plain text"


def parse_rst(text: str, origin: str, signature: str, rules: KbRules | None = None) -> SourceDoc:
    """A reStructuredText document (Sphinx sources included) parsed by docutils, its HTML converted like a page's;
    metadata from its leading field list. Text docutils cannot parse at all is read as plain text, and the source
    says so."""
    from deflect.ingest.rst import RstError, rst_to_html  # imported here: only rst ingestion pays for docutils

    try:
        page = parse_page(rst_to_html(text))
    except RstError as exc:
        return parse_text(text, origin, signature, rules, [f"{PLAIN_TEXT_NOTE} (docutils failed: {exc})"])
    return _article(dict(page.meta), page.body, origin, signature, rules or KbRules(), [(page.h1, "first heading")])


def parse_pdf(raw: bytes, origin: str, signature: str, rules: KbRules | None = None) -> SourceDoc:
    """A text PDF with its structure (ingest/pdf/): outline headings, paragraphs, definitions, code; every heading names
    its page (`Page N` sections when there is no outline), so chunks (and citations) know their page."""
    if not raw.startswith(b"%PDF"):
        raise SourceError(origin, "not a PDF file (no %PDF header)")
    try:
        pdf = read_pdf(raw)
    except Exception as exc:  # pypdf raises many types for damaged files; each is "this PDF cannot be read"
        raise SourceError(origin, f"unreadable PDF ({type(exc).__name__}: {exc})") from None
    body = pdf_to_markdown(pdf)
    if not body.strip():
        raise SourceError(origin, f"no extractable text in {len(pdf.pages)} pages (a scanned PDF needs OCR first)")
    return _article({}, body, origin, signature, rules or KbRules(), [(pdf.title, "PDF metadata")])


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
