"""Links from an article to other pages of the KB: what retrieval uses as the linked page's anchor text.

A page that links to another in a sentence ("You can adjust this behavior from C code using the
sqlite3_busy_timeout() API function") often says what the linked page is for in a customer's words better than
that page does itself (docs/retrieval.md, session 9: SQLite's manual). Kept per link: the linked page (its source
id, or its url for a Markdown KB that states each article's `url:`), the fragment, the link text and its sentence.
Dropped: links outside the KB (another site, `mailto:`), links within the page itself, links to files that are not
articles (images, archives), and navigation: a (target, text) pair on half a folder's pages or more (SQLite's menu
outside `<nav>`), counted like boilerplate (boilerplate.py) so that an unchanged page the parse memo skips counts too.
Reading links never changes an article's body.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
from collections.abc import Callable, Iterable, Mapping
from urllib.parse import unquote, urljoin, urlsplit

from deflect.domain.models import Link, SourceDoc
from deflect.ingest.blocks import sections
from deflect.ingest.boilerplate import on_most_pages, stripped_hash
from deflect.ingest.html import PageLink

# `[text](url)` and `[text](<url> "title")`, not an image (`![alt](src)`).
MARKDOWN_LINK = re.compile(r"(?<!!)\[([^\]\n]+)\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"\n]*\")?\s*\)")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z`(\"'])")
_SENTENCE_CHARS = 300
_WEB = {"http", "https"}


def markdown_links(body: str) -> tuple[PageLink, ...]:
    """The links of a Markdown body outside code blocks, each with the sentence of its paragraph or item (links
    shown as their text)."""
    out = []
    for section in sections(body):
        for block in section.blocks:
            if block.kind == "code":
                continue
            found = list(MARKDOWN_LINK.finditer(block.text))
            if not found:
                continue
            plain = " ".join(MARKDOWN_LINK.sub(lambda m: m.group(1), block.text).split())
            for match in found:
                text = " ".join(match.group(1).split())
                sentence = next((s for s in _SENTENCE_END.split(plain) if text in s), plain[:_SENTENCE_CHARS])
                out.append(PageLink(match.group(2), text, sentence))
    return tuple(out)


def resolve(
    found: Iterable[PageLink], origin: str, url: str, source_of: Callable[[str], str | None]
) -> tuple[Link, ...]:
    """The links of the article at `origin` (its page url `url`, may be empty) that point to another page of the
    KB: a relative link to a file that `source_of` names a source (None: not an article), or an absolute link to a
    page of the article's own site. Distinct by (target, fragment, text, sentence), in page order."""
    own_id = source_of(origin)
    own_url = page_url(url)
    site = urlsplit(url) if url else None
    out: dict[tuple[str, str, str, str], Link] = {}
    for link in found:
        parts = urlsplit(link.href)
        if parts.scheme or parts.netloc:
            if site is None or parts.scheme not in _WEB or parts.netloc.lower() != site.netloc.lower():
                continue  # another site, mail, or a KB whose pages have no url to tell its own links by
            target = page_url(link.href)
            if target == own_url:
                continue
        else:
            if not parts.path:
                continue  # `#section`: the page itself
            found_id = source_of(posixpath.normpath(unquote(urljoin(origin, parts.path))))
            if found_id is None or found_id == own_id:
                continue
            target = found_id
        fragment = unquote(parts.fragment)
        key = (target, fragment, link.text, link.sentence)
        out.setdefault(key, Link(target=target, fragment=fragment, text=link.text, sentence=link.sentence))
    return tuple(out.values())


def page_url(url: str) -> str:
    """A page's url without its fragment or trailing slash: how a link and a chunk's url (its section's fragment
    left out) name the same page."""
    return url.split("#", 1)[0].rstrip("/")


def link_keys(links: Iterable[Link]) -> frozenset[str]:
    """What the navigation census counts of a page: its distinct (target, text) pairs, hashed (the memo stores
    one per pair)."""
    return frozenset(_key(link) for link in links)


def _key(link: Link) -> str:
    return hashlib.sha256(f"{link.target}\x1f{link.text}".encode()).hexdigest()[:16]


def navigation(pages: Mapping[str, frozenset[str]]) -> dict[str, frozenset[str]]:
    """Per folder, the (target, text) pairs that are navigation there (boilerplate's rule: on at least MIN_PAGES of
    the folder's article pages and on at least MIN_SHARE of them); `pages` maps each article's origin to its pairs."""
    return on_most_pages(pages)


def without_navigation(doc: SourceDoc, pairs: frozenset[str]) -> SourceDoc:
    """An article without its links whose (target, text) pair is in `pairs`, its content hash covering them."""
    gone = pairs & link_keys(doc.links)
    if not gone:
        return doc
    return doc.model_copy(
        update={
            "links": tuple(link for link in doc.links if _key(link) not in gone),
            "content_hash": navigation_hash(doc.content_hash, gone),
        }
    )


def navigation_hash(content_hash: str, gone: frozenset[str]) -> str:
    """A page's content hash once the navigation pairs `gone` are left out (unchanged when none are)."""
    return stripped_hash(content_hash, frozenset("link:" + key for key in gone)) if gone else content_hash
