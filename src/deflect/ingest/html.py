"""HTML pages (help-centre exports, Sphinx, mdBook, texinfo, man2html) to Markdown that keeps their structure.

markdownify does the conversion; this module decides what is page chrome and how the constructs a customer
needs come out (see ingest/README.md, "Article bodies"):
- `<pre>` (and Sphinx's `div.highlight`) become fenced blocks with their exact text and line breaks;
- inline `<code>`/`<kbd>`/`<samp>` become backticked text exactly as written (whitespace runs collapsed, as a
  browser shows them; nothing else touched);
- `<dl>` becomes one list item per term, `- **TERM**: description`, more paragraphs indented under it;
- tables become GFM pipe tables with a header row, except DocBook FAQ tables (a heading per question, its answer
  below); lists keep their numbers and nesting;
- navigation, sidebars, breadcrumbs, previous/next links, search boxes and permalinks (¶) are dropped.
"""

from __future__ import annotations

import re
import sys
import warnings
from dataclasses import dataclass

from bs4 import BeautifulSoup, NavigableString, Tag, XMLParsedAsHTMLWarning
from bs4.element import PreformattedString
from markdownify import MarkdownConverter

from deflect.ingest.blocks import fence, heading_key, tidy

# Elements that are never knowledge.
_JUNK_TAGS = [
    "nav",
    "footer",
    "aside",
    "form",
    "script",
    "style",
    "noscript",
    "button",
    "svg",
    "iframe",
    "template",
    "img",
    "picture",
    "video",
    "audio",
    "link",
    "input",
    "select",
    "textarea",
]
# A DocBook title page's metadata (docbook-xsl writes each as a classed element inside `div.titlepage`): the release,
# copyright, legal notice, authors and revision history. Alone on a book's or FAQ's first page it became a chunk of
# its own that embeds as little more than the book's title, and so matched any question naming the program: valgrind's
# "Release 3.19.0 11 Apr 2022 / Copyright ... / Email: ..." led four of its 34 questions (docs/retrieval.md, session
# 12). The title and an abstract stay.
_TITLEPAGE_NAMES = (
    "releaseinfo",
    "pubdate",
    "copyright",
    "legalnotice",
    "author",
    "authorgroup",
    "editor",
    "othercredit",
    "corpauthor",
    "revhistory",
)
_TITLEPAGE_METADATA = ", ".join(f"div.titlepage .{name}" for name in _TITLEPAGE_NAMES)
_JUNK_ROLES = {"navigation", "search", "banner", "contentinfo", "complementary", "menu", "menubar", "toolbar"}
# Class or id tokens that name page chrome in the generators we measured (Sphinx, mdBook, texinfo, DocBook,
# help centres). Matched as whole tokens, so `navigation` does not hit `navigation-guide` prose containers.
_JUNK_NAMES = {
    "sphinxsidebar",
    "sphinxsidebarwrapper",
    "related",
    "footer",
    "header",
    "breadcrumb",
    "breadcrumbs",
    "nav-panel",
    "navheader",
    "navfooter",
    "navigation",
    "nav-chapters",
    "nav-wrapper",
    "mobile-nav-chapters",
    "menu-bar",
    "sidebar",
    "sidebar-scrollbox",
    "toc",
    "contents",
    "toctree-wrapper",
    "prev-next-area",
    "skip-link",
    "searchbox",
    "search",
    "search-wrapper",
    "rst-footer-buttons",
    "wy-nav-side",
    "headerlink",
    "site-header",
    "site-footer",
    "cookie-banner",
    "feedback",
    "article-votes",
    "related-articles",
    "edit-this-page",
    "copy-button",
    "copybtn",
}
# Anchors that only carry a permalink symbol.
# A label is a few words: "**attach-stmt:**", "**Example:**".
_LABEL_WORDS = 4
_PERMALINK = re.compile(r"^[\s¶#§🔗]*$")
_WORD = re.compile(r"\w+")
# Words of a link that moves through a document rather than naming a topic (_link_bar).
_MOVE_WORDS = {"previous", "prev", "next", "up", "top", "home", "contents", "index", "back", "forward", "first", "last"}
_MOVE_FILLERS = {"table", "of", "the", "chapter", "section", "page", "go", "to"}
# A menu table is links with at most a few group labels between them ("— Indices —").
_MENU_LINK_SHARE = 0.8
# An index page: this many links at least, and this share of its text in them (is_link_index).
_INDEX_MIN_LINKS = 40
_INDEX_LINK_SHARE = 0.9
_CONTENT_SELECTORS = ["[role=main]", "main", "article", "div.body", "div.document", "#content", "div.content"]
_CODE_TAGS = {"code", "tt", "kbd", "samp", "var"}
_HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
_RECURSION_LIMIT = 20_000
_ANCHOR_ID = re.compile(r"^[A-Za-z][\w.:-]*$")
# `bup-midx - create a ...`, `git-add, git-stage - add ...` (the names, then " - " or an en/em dash).
_NAME_LINE = re.compile(r"^[\w.+-]+(?:, ?[\w.+-]+)* +[-\u2013\u2014] +\S")
_LANG = re.compile(r"(?:highlight|language|lang)-([\w+#.-]+)")
# Blank lines at either end of a <pre>, spaces and tabs included: yodl pads every example with "\n\n" before and
# "\n  \n" after it (zsh's FAQ), which quoted as a line of spaces at the end of each code block. Lines with text
# keep their indentation.
_EDGE_BLANK_LINES = re.compile(r"\A(?:[ \t]*\n)+|(?:\n[ \t]*)+\Z")


# What holds a link's sentence (see _sentence_of): the paragraph, list item, cell or term around it.
_LINK_BLOCKS = {"p", "li", "dd", "dt", "td", "th", "blockquote", "pre", "caption", *_HEADINGS}
# A sentence ends at . ! or ? before a space and a capital, a backtick, a bracket or a quote.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z`(\"'])")
_SENTENCE_CHARS = 300


@dataclass(frozen=True)
class PageLink:
    """A link of a page's content (chrome already out) as written: its href, its text and the sentence around it."""

    href: str
    text: str
    sentence: str


@dataclass(frozen=True)
class HtmlPage:
    """What an HTML page gives an article: its `<meta>` fields, candidate titles and a Markdown body."""

    meta: dict[str, str]
    h1: str
    title_tag: str
    body: str
    # A man page's NAME line ("bup-midx - create a multi-index file"): says what the page is for, where its
    # <title> and header say "bup-midx(1) Bup 0.33.7".
    name_line: str = ""
    # Nearly all of the page's text is links to other places (a term index, a site map): see is_link_index.
    link_index: bool = False
    # Every link of the content with text, and every id with the id of its section's heading (see page_fragments).
    links: tuple[PageLink, ...] = ()
    fragments: tuple[tuple[str, str], ...] = ()


def parse_page(html: str) -> HtmlPage:
    """Read metadata and convert the page's content (not its chrome) to Markdown."""
    soup = _soup(html)
    meta = {
        str(tag.get("name")).lower(): str(tag.get("content") or "") for tag in soup.find_all("meta") if tag.get("name")
    }
    title_tag = soup.find("title")
    root = _content_root(soup)
    _prepare(root, soup)
    h1 = root.find("h1") or soup.find("h1")
    name_line = _name_line(root, keep="title" in meta)
    link_index = is_link_index(root)
    # Read before the conversion, which edits terms in place; reading changes nothing the body is made of.
    links = page_links(root)
    fragments = page_fragments(root)
    body = _convert(root)
    return HtmlPage(
        meta=meta,
        h1=_one_line(h1.get_text(" ")) if h1 else "",
        title_tag=_one_line(title_tag.get_text(" ")) if title_tag else "",
        body=tidy(body.splitlines()),
        name_line=name_line,
        link_index=link_index,
        links=links,
        fragments=fragments,
    )


def page_links(root: Tag) -> tuple[PageLink, ...]:
    """The links of a page's content (chrome, permalinks and navigation bars already out) that have text, with the
    sentence around each: what the page says about the page it links to (deflect.ingest.links keeps those to other
    pages of the KB)."""
    out = []
    for a in (a for a in _tags(root, "a") if a.get("href") is not None):
        href = str(a["href"]).strip()
        text = _one_line(a.get_text(" "))
        if href and text and not _PERMALINK.match(text):
            out.append(PageLink(href, text, _sentence_of(a, text)))
    return tuple(out)


def _sentence_of(a: Tag, text: str) -> str:
    """The sentence holding the link text in the enclosing paragraph, list item, cell or term (its first
    _SENTENCE_CHARS characters when no one sentence holds it; the link text alone outside any such block)."""
    block: Tag | None = a
    while block is not None and block.name not in _LINK_BLOCKS:
        block = block.parent
    if block is None:
        return text
    whole = _one_line(block.get_text(" "))
    return next((s for s in _SENTENCE_END.split(whole) if text in s), whole[:_SENTENCE_CHARS])


def page_fragments(root: Tag) -> tuple[tuple[str, str], ...]:
    """Every id of a page's content (`id`, or `name` of an `<a>`) with the id its section's heading gets in the body
    (`{#id}`, see _anchor_of), "" before the first heading. An id belongs to the section of the first text after it,
    so an empty anchor just before a heading (`<a name="x"></a><h2>`, a Sphinx `<section id>`) is that heading's. A
    heading the body gives no id (SQLite's `<h1 id="_platform_configuration">`, an id the body's anchors do not take;
    `<a name="busy"></a>` swallowed by the paragraph before `<h3>(5) SQLITE_BUSY</h3>`) is named by its words
    (blocks.heading_key): 1,121 of SQLite's 3,116 links with a fragment landed in such sections."""
    out: dict[str, str] = {}
    pending: list[str] = []
    current = ""

    def settle() -> None:
        for ident in pending:
            out.setdefault(ident, current)
        pending.clear()

    for node in root.descendants:
        if isinstance(node, Tag):
            if node.name in _HEADINGS and node.get_text(strip=True):
                current = _anchor_of(node) or heading_key(node.get_text(" "))
                settle()
            ident = node.get("id") or (node.get("name") if node.name == "a" else None)
            if ident and str(ident).strip():
                pending.append(str(ident).strip())
        elif isinstance(node, NavigableString) and not isinstance(node, PreformattedString) and node.strip():
            settle()
    settle()
    return tuple(out.items())


def is_link_index(root: Tag) -> bool:
    """Whether a page's content (chrome already out) is an index of links: a term or keyword index, a site map, a
    list of every function. Each entry only names a place described on another page, so as an article it answered
    nothing and its chunks, dense with every option and keyword name, outranked the pages they point to (zsh's six
    indexes: 373 chunks, cited in place of the Options chapter). Measured on seven manuals' pages (docs/retrieval.md,
    session 9): indexes have 0.92-1.00 of their text in links, content pages at most 0.82."""
    links = [a for a in _tags(root, "a") if a.get("href") is not None]
    return len(links) >= _INDEX_MIN_LINKS and _mostly_links(root, links, _INDEX_LINK_SHARE)


def _mostly_links(el: Tag, links: list[Tag], share: float) -> bool:
    """Whether the text of `links` is at least `share` of `el`'s text (whitespace aside); never for no text."""
    total = len("".join(el.get_text().split()))
    linked = sum(len("".join(a.get_text().split())) for a in links)
    return total > 0 and linked >= share * total


def _name_line(root: Tag, keep: bool) -> str:
    """The line under a man page's NAME heading when it reads `command - what it does` (pandoc, man2html): the
    page's title then, and its NAME section goes unless `keep` (the page states its title), or it would be a chunk
    that only repeats the title (measured on bup: docs/retrieval.md)."""
    heading = _man_heading(root, "NAME")
    if heading is None:
        return ""
    line = heading.find_next_sibling(True)
    text = _one_line(line.get_text()) if isinstance(line, Tag) and line.name == "p" else ""
    if not _NAME_LINE.match(text):
        return ""
    if not keep:
        _drop_section(heading)
    return text


def _man_heading(root: Tag, name: str) -> Tag | None:
    """The first heading that reads exactly `name` (man pages' section names are upper case)."""
    return next((h for h in _tags(root, *_HEADINGS) if _one_line(h.get_text(" ")) == name), None)


def _drop_section(heading: Tag) -> None:
    """A heading and what follows it up to the next heading of its level or above."""
    level = int(heading.name[1])
    for el in list(heading.find_next_siblings(True)):
        if el.name in _HEADINGS and int(el.name[1]) <= level:
            break
        el.decompose()
    heading.decompose()


def fragment_to_markdown(html: str) -> str:
    """A piece of HTML inside a Markdown file (a table, a list, a comment) as Markdown, by the same rules."""
    soup = _soup(f"<body>{html}</body>")
    root = soup.body or soup
    _prepare(root, soup)
    return tidy(_convert(root).splitlines()) if root.get_text(strip=True) else ""


def _prepare(root: Tag, soup: BeautifulSoup) -> None:
    """What a page and a fragment both go through before conversion: chrome out, DocBook FAQ tables unwrapped,
    header rows marked (one function, so HTML inside Markdown follows the same rules as an HTML page)."""
    _strip_chrome(root)
    _drop_orphan_labels(root)
    _unwrap_qanda_tables(root, soup)
    _label_admonitions(root, soup)
    _literal_layouts(root, soup)
    _mark_table_headers(root)


def _label_admonitions(root: Tag, soup: BeautifulSoup) -> None:
    """Sphinx writes a note as `<div class="admonition warning"><p class="admonition-title">Warning</p><p>...`:
    converted as is, "Warning" was a paragraph of its own and the text it labels, quoted alone, lost it. The label
    leads the note's first paragraph instead ("**Warning:** Options ..."); before anything else (a list, code) it
    stays a paragraph of its own, ending in a colon, which keeps it with what it introduces."""
    found = _has_class(root, "p", "admonition-title")
    for title in root.select("div.admonition > p.admonition-title") if found else []:
        label = " ".join(title.get_text().split()).rstrip(":")
        if not label:
            continue
        strong = soup.new_tag("strong")
        strong.string = f"{label}:"
        after = title.find_next_sibling()
        if after is not None and after.name == "p":
            after.insert(0, " ")
            after.insert(0, strong)
            title.decompose()
        else:
            title.clear()
            title.append(strong)


# A plain-text heading's underline: a line of one repeated punctuation character (README and NEWS files).
_UNDERLINE = re.compile(r"^\s*([~=\-^*#+])\1{2,}\s*$")
# A line that starts an item of a plain-text list: "- x", "* x", "o x", "(1) x", "1. x", "1) x".
_ITEM_START = re.compile(r"^\s*(?:[-*o]\s|\(?\d{1,3}[.)]\s)")


def _literal_layouts(root: Tag, soup: BeautifulSoup) -> None:
    """DocBook puts whole plain-text files (README, NEWS, AUTHORS) in a `div.literallayout`, one `<br>` per line.
    Converted as is, every line was a paragraph line and a heading's underline (`~~~~~~`) was a line of its own,
    which Markdown reads as a code fence that swallows the rest of the page. Rebuilt the way the text file reads:
    an underlined line is a heading (levels by the order the underline characters first appear, as in reST), a
    block of lines indented deeper than the file's prose is code kept verbatim, and prose lines are one paragraph
    per block (a list item starts its own)."""
    for layout in _with_class(_tags(root, "div"), "literallayout"):
        for br in layout.find_all("br"):
            br.replace_with("\x00")  # a line break, whether or not the source also has a newline after the tag
        text = layout.get_text().replace("\x00\n", "\n").replace("\x00", "\n")
        lines = [line.replace("\xa0", " ").rstrip() for line in text.split("\n")]
        holder = soup.new_tag("div")
        for tag in _layout_tags(lines, soup):
            holder.append(tag)
        layout.replace_with(holder)


def _layout_tags(lines: list[str], soup: BeautifulSoup) -> list[Tag]:
    """The headings, paragraphs and code blocks of a plain text's lines (see _literal_layouts)."""
    prose = [_indent(line) for line in lines if line.strip() and not _UNDERLINE.match(line)]
    base = min(prose, default=0)
    levels: dict[str, int] = {}
    built: list[Tag] = []
    block: list[str] = []

    def flush() -> None:
        if not block:
            return
        if all(_indent(line) > base for line in block):
            pre = soup.new_tag("pre")
            cut = min(_indent(line) for line in block)
            pre.string = "\n".join(line[cut:] for line in block)
            built.append(pre)
        else:
            for item in _items(block):
                para = soup.new_tag("p")
                para.string = " ".join(line.strip() for line in item)
                built.append(para)
        block.clear()

    for i, line in enumerate(lines):
        underline = _UNDERLINE.match(line)
        following = _UNDERLINE.match(lines[i + 1]) if i + 1 < len(lines) else None
        if following and line.strip() and not underline:
            flush()
            level = levels.setdefault(following.group(1), min(2 + len(levels), 4))
            heading = soup.new_tag(f"h{level}")
            heading.string = line.strip()
            built.append(heading)
        elif underline or not line.strip():
            flush()  # an underline (its heading is out already) or a blank line ends the block
        else:
            block.append(line)
    flush()
    return built


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _items(block: list[str]) -> list[list[str]]:
    """Prose lines grouped into paragraphs: a line that starts a list item starts a new one."""
    items: list[list[str]] = []
    for line in block:
        if not items or _ITEM_START.match(line):
            items.append([line])
        else:
            items[-1].append(line)
    return items


def _soup(html: str) -> BeautifulSoup:
    # lxml closes <dt>/<dd>/<p> the HTML way (html.parser nests them). XHTML exports start with an XML prologue;
    # they are still HTML to us, so bs4's advice to parse them as XML is silenced.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)
        return BeautifulSoup(html, "lxml")


def _convert(root: Tag) -> str:
    # markdownify recurses once per nesting level; man2html pages nest unclosed <dl>s hundreds deep.
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, _RECURSION_LIMIT))
    try:
        return _Converter().convert_soup(root)
    finally:
        sys.setrecursionlimit(limit)


def _content_root(soup: BeautifulSoup) -> Tag:
    for selector in _CONTENT_SELECTORS:
        found = soup.select_one(selector)
        if found is not None and found.get_text(strip=True):
            return found
    return soup.body or soup


def _strip_chrome(root: Tag) -> None:
    # Every tag, listed once: each pass below skips the ones an earlier pass decomposed, which is what a fresh
    # find_all would have left out (bs4's find_all costs more than this whole pass, and there were seven).
    every = _tags(root)
    for el in every:
        if el.name in _JUNK_TAGS and not _gone(el):
            el.decompose()
    for el in every:
        if not _gone(el) and _is_chrome(el):
            el.decompose()
    for el in every:
        # A <header> holding the article's H1 is part of the article; any other is site chrome.
        if el.name == "header" and not _gone(el) and el.find(["h1", "h2"]) is None:
            el.decompose()
    classes = {str(c) for el in every if not _gone(el) for c in el.get("class") or ()}
    if classes & {"author", "date"}:
        for el in root.select("header#title-block-header p.author, header#title-block-header p.date"):
            el.decompose()  # pandoc's title block: who wrote the page and when is not knowledge a customer asks for
    if classes & set(_TITLEPAGE_NAMES):
        for el in root.select(_TITLEPAGE_METADATA):
            if not _gone(el):
                el.decompose()
    for table in every:
        # DocBook's previous/up/next bar is a table on every page, marked only by its summary.
        if (
            table.name == "table"
            and not _gone(table)
            and str(table.get("summary") or "").lower().startswith("navigation")
        ):
            table.decompose()
    for el in every:
        if el.name in {"table", "ul", "ol"} and not _gone(el) and (_link_bar(el) or _menu_table(el)):
            el.decompose()
    for a in (el for el in every if el.name == "a"):
        if not _gone(a) and _PERMALINK.match(a.get_text()) and str(a.get("href") or "").startswith("#"):
            a.decompose()


def _gone(el: Tag) -> bool:
    """Whether `el` was decomposed. Not bs4's `decomposed`: it reads an attribute a live tag does not have, which bs4
    turns into a search of the tag's whole subtree for a child tag of that name (a third of the parse time)."""
    return bool(vars(el).get("_decomposed", False))


def _tags(root: Tag, *names: str) -> list[Tag]:
    """The tags inside `root` named one of `names` (any, when none), in document order: find_all without bs4's
    general matching machinery, which cost most of the parse on pages of thousands of tags."""
    wanted = set(names)
    return [el for el in root.descendants if isinstance(el, Tag) and (not wanted or el.name in wanted)]


def _with_class(tags: list[Tag], cls: str) -> list[Tag]:
    return [el for el in tags if cls in (el.get("class") or ())]


def _has_class(root: Tag, name: str, cls: str) -> bool:
    """Whether `root` or a tag inside it is a `name` with class `cls` (a cheap test before a CSS select, which
    soupsieve runs slowly over a whole page)."""
    return any(cls in (el.get("class") or ()) for el in [root, *_tags(root, name)] if el.name == name)


def _link_bar(el: Tag) -> bool:
    """A table or list of nothing but links that move through the document: texinfo's `[ << ] [ < ] [ Up ] [ > ]
    [Top] [Contents] [Index] [ ? ]` table above every section (361 on zsh's manual, one chunk in eight), yodl's
    "Table of Contents / Previous Chapter / Next Chapter" list. Judged by the links' words, not by a class name,
    since each generator names (or does not name) its bar its own way; a list of links to topics is content."""
    links = el.find_all("a")
    # The link texts first: they rule out nearly every list of content at once, and are cheap to read.
    if len(links) < 2 or not all(_moves(a.get_text(" ")) for a in links):
        return False
    return not _WORD.search(_text_outside_links(el))


def _moves(text: str) -> bool:
    """A link text that says where in the document it goes ("Next Chapter", "<<", "Up"), not what it is about."""
    words = _WORD.findall(text.lower())
    return all(w in _MOVE_WORDS or w in _MOVE_FILLERS for w in words) and (
        not words or any(w in _MOVE_WORDS for w in words)
    )


def _menu_table(el: Tag) -> bool:
    """A table named as page chrome or a menu whose text is nearly all links: texinfo's menu of a chapter's
    sections (`<table class="menu">`), which repeats the headings below it. A table named so that holds prose is
    still content (a class name alone never drops a table)."""
    if el.name != "table":
        return False
    names = {str(c).lower() for c in (el.get("class") or [])} | {str(el.get("id") or "").lower()}
    if not names & (_JUNK_NAMES | {"menu"}):
        return False
    return _mostly_links(el, el.find_all("a"), _MENU_LINK_SHARE)


def _text_outside_links(el: Tag) -> str:
    if el.find_parent("a") is not None:
        return ""  # every string in it is inside that link
    # The strings inside its links, gathered once (asking each string for its parents was quadratic on big lists).
    inside = {id(s) for a in el.find_all("a") for s in a.find_all(string=True)}
    return " ".join(s for s in el.find_all(string=True) if id(s) not in inside)


def _drop_orphan_labels(root: Tag) -> None:
    """A label paragraph ("**attach-stmt:**") whose figure was dropped as chrome introduces nothing: SQLite's
    statement pages open with a column of them, one per syntax diagram (an SVG), which diluted the first chunk of
    each. A label followed by text, code or a list stays: it says what comes next. Last first: a diagram may hold
    the labels of its parts' diagrams, and is empty only once they are gone."""
    for p in reversed(_tags(root, "p")):
        if _gone(p):
            continue
        text = p.get_text(" ", strip=True)
        if not text.endswith(":") or len(text.split()) > _LABEL_WORDS or not _all_emphasis(p):
            continue
        after = p.next_sibling
        while after is not None and not (isinstance(after, Tag) or str(after).strip()):
            after = after.next_sibling
        if after is None or (isinstance(after, Tag) and not after.get_text(strip=True)):
            if isinstance(after, Tag):
                after.decompose()
            p.decompose()


def _all_emphasis(p: Tag) -> bool:
    """Whether every piece of the paragraph's text is inside <b>/<strong> (a label, not a sentence)."""
    pieces = [s for s in p.find_all(string=True) if s.strip()]
    return bool(pieces) and all(s.find_parent(["b", "strong"]) is not None for s in pieces)


def _unwrap_qanda_tables(root: Tag, soup: BeautifulSoup) -> None:
    """DocBook lays an FAQ (a `qandaset`) out as a table: a number cell and a question cell per `tr.question`,
    the answer in the second cell of the `tr.answer` below it. As a pipe table every answer became one cell of
    run-on text; here each question becomes a heading one level below the FAQ's own, and its answer the section
    under it, so a chunk is one question with its answer and a citation opens that question."""
    for toc in root.select("div.qandaset > dl") if _has_class(root, "div", "qandaset") else []:
        toc.decompose()  # the FAQ's own list of questions, each a link to the question below
    for table in _tags(root, "table"):
        if _gone(table) or table.find("tr", class_="question") is None:
            continue
        out = soup.new_tag("div")
        level = _heading_level_before(table) + 1
        for row in table.find_all("tr"):
            classes = set(row.get("class") or [])
            cells = row.find_all("td", recursive=False)
            if "qandadiv" in classes:
                heading = row.find(_HEADINGS)
                if heading is not None:
                    level = min(int(heading.name[1]) + 1, 6)
                    out.append(heading.extract())
            elif "question" in classes and cells:
                # A question quoting an error message holds it in a <pre>: the heading is the words, the
                # message goes under it, verbatim.
                quoted = [pre.extract() for pre in cells[-1].find_all("pre")]
                question = soup.new_tag(f"h{min(level, 6)}")
                question.string = _one_line(cells[-1].get_text(" "))
                anchor = row.find("a", attrs={"name": True})
                if anchor is not None:
                    question["id"] = str(anchor["name"])
                out.append(question)
                for pre in quoted:
                    out.append(pre)
            elif "answer" in classes and cells:
                for child in list(cells[-1].contents):
                    out.append(child.extract())
        table.replace_with(out)


def _heading_level_before(el: Tag) -> int:
    """The level of the last heading before `el` in the document (1 when there is none)."""
    previous = el.find_previous(_HEADINGS)
    return int(previous.name[1]) if isinstance(previous, Tag) else 1


def _mark_table_headers(root: Tag) -> None:
    """A table without <th> gets its first row as header only when every cell of that row has text.

    Help-centre tables often label columns with plain <td>s; Sphinx option tables start with a group row
    ("positional arguments" and empty cells), which must not become every row's header."""
    for table in _tags(root, "table"):
        if table.find("th") is not None:
            continue
        first = table.find("tr")
        cells = first.find_all("td", recursive=False) if first is not None else []
        if len(cells) > 1 and all(c.get_text(strip=True) for c in cells) and len(table.find_all("tr")) > 1:
            for cell in cells:
                cell.name = "th"


def _is_chrome(el: Tag) -> bool:
    if str(el.get("role") or "").lower() in _JUNK_ROLES:
        return True
    names = {str(c).lower() for c in (el.get("class") or [])}
    names.add(str(el.get("id") or "").lower())
    if not names & _JUNK_NAMES:
        return False
    # Links are judged by their text (permalinks); headings and what is inside them are always content.
    if el.name in _HEADINGS or el.name in {"pre", "code", "table", "a"}:
        return False
    return not any(parent.name in _HEADINGS for parent in el.parents)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _language(el: Tag) -> str:
    for node in (el, el.find("code"), el.parent, el.parent.parent if el.parent else None):
        if isinstance(node, Tag):
            for cls in node.get("class") or []:
                match = _LANG.match(str(cls))
                if match and match.group(1) not in {"default", "none", "text"}:
                    return match.group(1)
    # docutils writes `.. code:: bash` as <pre class="code bash literal-block">.
    classes = [str(c) for c in el.get("class") or []]
    if classes[:1] == ["code"] and "literal-block" in classes:
        return next((c for c in classes[1:] if c != "literal-block"), "")
    return ""


def code_span(text: str) -> str:
    text = " ".join(text.split())
    if not text:
        return ""
    runs = re.findall(r"`+", text)
    delim = "`" * (max((len(r) for r in runs), default=0) + 1)
    pad = " " if runs else ""
    return f"{delim}{pad}{text}{pad}{delim}"


def _is_code_term(dt: Tag) -> bool:
    """A Sphinx signature or option, or a term whose every character sits in code: one code span."""
    classes = {str(c) for c in dt.get("class") or []}
    if "sig" in classes or "option-list" in classes:
        return True
    total, coded = _code_share(dt, inside=False)
    return total > 0 and coded == total


def _code_share(el: Tag, inside: bool) -> tuple[int, int]:
    """(non-space characters, of which inside code) under `el`, in one pass."""
    total = coded = 0
    for child in el.children:
        if isinstance(child, Tag):
            code = inside or child.name in _CODE_TAGS or "pre" in (child.get("class") or [])
            t, c = _code_share(child, code)
            total, coded = total + t, coded + c
        else:
            n = len("".join(str(child).split()))
            total += n
            coded += n if inside else 0
    return total, coded


class _Converter(MarkdownConverter):
    """markdownify with our choices for code, definition lists, tables and links."""

    def __init__(self) -> None:
        super().__init__(
            heading_style="atx",
            bullets="-",
            escape_asterisks=False,
            escape_underscores=False,
            escape_misc=False,
            table_infer_header=False,
            strip_document="strip",
            wrap=True,
            wrap_width=None,
        )

    def convert_a(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        # Link targets are noise to embeddings and readers of a quoted passage; the link text stays.
        return text

    def convert_pre(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        code = _EDGE_BLANK_LINES.sub("", el.get_text())
        if not code.strip():
            return ""
        return f"\n\n{fence(code, _language(el))}\n\n"

    def convert_code(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        if "pre" in parent_tags or "_noformat" in parent_tags:
            return text
        return code_span(el.get_text())

    convert_kbd = convert_code
    convert_samp = convert_code
    convert_tt = convert_code

    def convert_span(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        # Sphinx marks literal words `<span class="pre">`; outside <code> they are still code.
        if "pre" in (el.get("class") or []) and not (parent_tags & (_CODE_TAGS | {"pre", "_noformat", "dt"})):
            return code_span(el.get_text())
        return text

    def process_tag(self, node: Tag, parent_tags: set[str] | None = None) -> str:
        # A <dl> converts its own children (term and description separately): letting markdownify convert them
        # first as well would do the work twice per nesting level, 2^depth on man2html's nested lists.
        if node.name == "dl":
            return self._dl(node, parent_tags or set())
        return str(super().process_tag(node, parent_tags))  # type: ignore[misc]

    def _dl(self, el: Tag, parent_tags: set[str]) -> str:
        items: list[str] = []
        terms: list[str] = []
        for child in el.find_all(["dt", "dd"], recursive=False):
            if child.name == "dt":
                term = self._term(child, parent_tags)
                if term:
                    terms.append(term)
                continue
            description = self.process_tag(child, parent_tags=parent_tags | {"dd"}).strip()
            items.append(_definition(terms, description))
            terms = []
        if terms:
            items.append(_definition(terms, ""))
        body = "\n".join(i for i in items if i)
        if not body:
            return ""
        return "\n" + body.rstrip() if "li" in parent_tags or "dd" in parent_tags else f"\n\n{body}\n\n"

    def _term(self, dt: Tag, parent_tags: set[str]) -> str:
        for a in dt.find_all("a"):
            if _PERMALINK.match(a.get_text()):
                a.decompose()
        for strong in dt.find_all(["strong", "b"]):
            strong.unwrap()  # the term is bold already
        for colon in dt.find_all("span", class_="colon"):
            colon.decompose()  # docutils ends a field list's name with one; the item adds its own
        if _is_code_term(dt):
            return code_span(dt.get_text())
        return " ".join(self.process_tag(dt, parent_tags=parent_tags | {"_inline", "dt"}).split())

    def convert_dt(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        return text  # only reached for a <dt> outside any <dl>

    def convert_dd(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        return text

    def convert_td(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        return _cell(el, text)

    convert_th = convert_td

    def convert_hN(self, n: int, el: Tag, text: str, parent_tags: set[str]) -> str:  # noqa: N802 (markdownify's name)
        heading = str(super().convert_hN(n, el, text, parent_tags))  # type: ignore[misc]
        anchor = _anchor_of(el)
        if not anchor or "_inline" in parent_tags or not heading.strip():
            return heading
        # `{#id}` (Pandoc's heading attribute) lets a chunk's citation open this heading: url#id.
        return heading.rstrip("\n") + f" {{#{anchor}}}\n\n"

    def convert_hr(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        return "\n\n"


def _anchor_of(heading: Tag) -> str:
    """The id a link to this heading uses: its own, else that of the section it opens (Sphinx), else an empty named
    anchor at its start (DocBook: `<h2><a name="manual-core.whatdoes"></a>2.1. What ...</h2>`) or just before it
    (SQLite, yodl, man2html: `<a name="syntax"></a><h2>`, an anchor alone in the paragraph before the heading)."""
    ident = str(heading.get("id") or "")
    parent = heading.parent
    if not ident and isinstance(parent, Tag) and parent.name in {"section", "div"}:
        first = parent.find(_HEADINGS)
        if first is heading:
            ident = str(parent.get("id") or "")
    if not ident:
        ident = _named_anchor(heading.find(True), last=False) or _named_anchor(heading.find_previous_sibling(True))
    return ident if _ANCHOR_ID.match(ident) else ""


def _named_anchor(el: Tag | None, last: bool = True) -> str:
    """The name or id of an anchor with no text that `el` is or holds (the last one, or the first), else ""."""
    if el is None or el.get_text().strip():
        return ""
    found = [a for a in [el, *el.find_all(["a", "span"])] if a.name in {"a", "span"} and (a.get("name") or a.get("id"))]
    if not found:
        return ""
    anchor = found[-1] if last else found[0]
    return str(anchor.get("id") or anchor.get("name") or "")


def _cell(el: Tag, text: str) -> str:
    span = str(el.get("colspan") or "1")
    colspan = max(1, min(50, int(span))) if span.isdigit() else 1
    content = " ".join(text.split()).replace("|", "\\|")
    return " " + content + " |" * colspan


def _definition(terms: list[str], description: str) -> str:
    """`- **TERM**: first paragraph`, further paragraphs indented as the same list item."""
    if not terms and not description:
        return ""
    head = "- **" + ", ".join(terms) + "**" if terms else "-"
    first, _, rest = description.partition("\n")
    if first.startswith(("```", "- ", "|", "> ")) or re.match(r"\d+\. ", first):
        first, rest = "", description  # a description that opens with a block starts on its own line
    line = f"{head}: {first}" if terms and first else f"{head} {first}".rstrip()
    if terms and not first and rest.strip():
        line = head + ":"
    if not rest.strip():
        return line
    indented = "\n".join(("  " + r) if r.strip() else "" for r in rest.rstrip().splitlines())
    return f"{line}\n{indented}"
