"""reStructuredText (Sphinx sources included) to an HTML page with docutils, for html.py to turn into Markdown.

rst states its structure (option lists, definition and field lists, grid and simple tables, literal blocks,
`code-block` with its language, admonitions), so docutils parses it and the HTML rules every page follows keep it.
Sphinx's roles and directives are unknown to docutils; they are given the meaning sphinx.py states, so their text
stays and their markup goes. Any other unknown role is its text, any other unknown directive its content.

Offline and inert: docutils reads no configuration file, no included file (`include`, `literalinclude`,
`csv-table :file:`), no image and nothing on the network; `raw` content (HTML in a knowledge file is not trusted)
is dropped. Problems docutils reports (a dangling reference, a bad table) never reach the text: the reference keeps
its words, the rest of the file still parses. A file docutils cannot parse at all raises RstError (the caller reads
it as plain text then).

A field list before anything else in the file is Sphinx's file-wide metadata, not text: its `title`, `url`,
`audience`, `product`, `tags` and `updated` fields are the article's, as front matter is for Markdown.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable
from functools import cache
from html import escape
from typing import Any, ClassVar

from docutils import nodes, utils
from docutils.core import publish_doctree, publish_from_doctree
from docutils.frontend import get_default_settings
from docutils.languages import get_language
from docutils.parsers.rst import Directive, Parser, directives, roles
from docutils.parsers.rst.directives.body import CodeBlock
from docutils.statemachine import StringList
from docutils.transforms import Transform
from docutils.writers.html5_polyglot import HTMLTranslator, Writer

from deflect.ingest import sphinx

SETTINGS: dict[str, Any] = {
    "_disable_config": True,  # no docutils.conf from the working directory, /etc or home
    "file_insertion_enabled": False,  # `include`, `raw :file:`, `csv-table :file:/:url:` read nothing
    "raw_enabled": False,  # raw HTML in a knowledge file is not trusted
    "embed_stylesheet": False,
    "stylesheet_path": "",
    "image_loading": "link",
    "report_level": 5,  # no system message reaches the text
    "halt_level": 5,  # and none stops the parse
    "warning_stream": False,
    "traceback": True,  # a crash raises (docutils would print it and exit the process otherwise)
    "doctitle_xform": False,  # the title stays the page's first heading (<h1>), as in an HTML page
    "docinfo_xform": False,
    "sectsubtitle_xform": False,
    "initial_header_level": 1,
    "syntax_highlight": "none",  # the code's text, without Pygments' markup
    "math_output": "LaTeX",  # formulas as their LaTeX source: MathML's markup would be dropped, its letters kept
    "smart_quotes": False,  # quotes stay as written: they may be inside commands
    "output_encoding": "unicode",
    "input_encoding": "unicode",
}
# Fields of the leading field list (Sphinx's file-wide metadata) that are an article's fields.
META_FIELDS = ("title", "url", "audience", "product", "tags", "updated")
# Directives docutils knows that Sphinx documents mean otherwise, or that must never read or run anything.
# (docutils' `code`, alias `code-block`/`sourcecode`, refuses Sphinx's options; `class` is Python's in Sphinx.)
_OVERRIDDEN = sphinx.CODE_DIRECTIVES | {"class", "raw", "include"}
_DIRECTIVE_NAME = re.compile(r"^[ \t]*\.\.[ \t]+([A-Za-z0-9][\w.+:-]*?)::(?=\s|$)", re.M)
_ROLE_NAME = re.compile(r"(?<![\w`]):(\w(?:[\w.+:-]*?\w)?):`")
_LABEL_REF = "deflect-label-ref"
_ASIDE = re.compile(r"<(/?)aside(?=[\s>])")


class RstError(Exception):
    """docutils could not parse the text at all."""


def rst_to_html(text: str) -> str:
    """An rst document as an HTML page: `<meta>` from its file-wide metadata, the document in `<main>`."""
    for name in sorted(set(_DIRECTIVE_NAME.findall(text))):
        _register(name.lower())
    for name in sorted(set(_ROLE_NAME.findall(text))):
        _register_role(name.lower())
    writer = _Writer()
    try:
        # Two steps: publish_parts would build its own rst parser from a name and skip this one's transforms.
        document = publish_doctree(text, parser=_SphinxParser(), settings_overrides=SETTINGS)
        publish_from_doctree(document, writer=writer, settings_overrides=SETTINGS)
    except SystemExit as exc:  # docutils exits on what it deems fatal; here that is "cannot parse"
        raise RstError(f"docutils stopped ({exc.code})") from None
    except Exception as exc:  # noqa: BLE001 (docutils raises many types on input it cannot handle)
        raise RstError(f"{type(exc).__name__}: {exc}") from None
    # docutils writes admonitions, topics and footnotes as <aside>, which pages use for sidebars (html.py drops
    # it). Raw HTML is disabled and text is escaped, so every <aside> here is docutils' own.
    body = _ASIDE.sub(r"<\1div", str(writer.parts["body"]))
    return f"<html><head>{writer.parts['meta']}</head><body><main>{body}</main></body></html>"


@cache
def _register(name: str) -> None:
    """Give a directive named in a document its Sphinx meaning (sphinx.py), unless docutils' own is kept.

    docutils looks directives up in a process-wide registry and has no per-parse hook for unknown ones, so each
    name is registered once; the same name always gets the same meaning, whatever was parsed before."""
    if _docutils_knows(name) and name not in _OVERRIDDEN:
        return
    kind = sphinx.directive_kind(name)
    directives.register_directive(name, _DIRECTIVES[kind])


def _docutils_knows(name: str) -> bool:
    document = utils.new_document("<rst>", get_default_settings(Parser))
    document.reporter.report_level = 5
    found, _messages = directives.directive(name, get_language("en", document.reporter), document)
    return found is not None


class _AnyOption(defaultdict[str, Callable[[str | None], Any]]):
    """Sphinx directives take options docutils never heard of (`:linenos:`, `:caption:`); each is accepted as
    text, `class` and `name` as docutils reads them. (Never empty: docutils reads no options for a falsy spec.)"""

    def __init__(self) -> None:
        super().__init__(lambda: directives.unchanged)
        self.update({"class": directives.class_option, "name": directives.unchanged})


class _Code(CodeBlock):
    """`code-block`/`sourcecode`/`code` with Sphinx's options (`:linenos:`, `:caption:`: accepted, not shown); the
    language is the first argument."""

    option_spec = _AnyOption()


class _Content(Directive):
    """An unknown directive: its content as body text (a shell session as a literal block), its arguments
    dropped (they are options of a renderer we do not have)."""

    has_content = True
    optional_arguments = 1
    final_argument_whitespace = True
    option_spec = _AnyOption()

    def run(self) -> list[nodes.Node]:
        lines = self._lines()
        if not lines:
            return []
        if sphinx.is_session(list(lines)):
            code = "\n".join(lines)
            return [nodes.literal_block(code, code)]
        holder = nodes.container()
        self.state.nested_parse(lines, self.content_offset, holder)
        return list(holder.children)

    def _lines(self) -> StringList:
        """The content, after the lines written under the directive's first line without a blank line between
        (docutils reads those as its argument; `.. productionlist::` and many others are written so)."""
        written = self.arguments[0].split("\n") if self.arguments else []
        on_directive_line = self.block_text.split("\n", 1)[0].partition("::")[2].strip()
        lines = StringList(written[1:] if on_directive_line else written, source="")
        lines.extend(self.content)
        return lines


class _Wrapper(_Content):
    """Tabs, `only`, `container`-like wrappers: the content kept, a tab's title as a label ("Windows:")."""

    def run(self) -> list[nodes.Node]:
        content = super().run()
        if content and self.arguments and sphinx.local_name(self.name) in sphinx.TITLED_WRAPPERS:
            title = " ".join(self.arguments[0].split("\n")[0].split())
            label = nodes.paragraph("", "", nodes.strong(title, f"{title}:"))
            return [label, *content]
        return content


class _Dropped(_Content):
    """A directive that names files or builds navigation (`toctree`, `literalinclude`): nothing to read."""

    def run(self) -> list[nodes.Node]:
        return []


class _Admonition(_Content):
    """A Sphinx admonition docutils lacks (`seealso`, `todo`): a titled admonition like docutils' own."""

    def run(self) -> list[nodes.Node]:
        node = nodes.admonition(classes=["admonition", sphinx.local_name(self.name)])
        node += nodes.title("", sphinx.ADMONITIONS.get(sphinx.local_name(self.name), self.name.title()))
        lines = StringList([self.arguments[0]], source="") if self.arguments else StringList()
        lines.extend(self.content)
        self.state.nested_parse(lines, self.content_offset, node)
        return [node]


class _Version(_Content):
    """`versionadded:: 2.5 text`: "New in version 2.5: text", one short paragraph (more if the note has more)."""

    required_arguments = 1

    def run(self) -> list[nodes.Node]:
        label = sphinx.version_label(self.name, self.arguments[0])
        rest = " ".join(self.arguments[1:]).strip()
        lines = StringList([rest], source="") if rest else StringList()
        lines.extend(self.content)
        holder = nodes.container()
        self.state.nested_parse(lines, self.content_offset, holder)
        first = holder.children[0] if holder.children else None
        if isinstance(first, nodes.paragraph):
            first.insert(0, nodes.emphasis(label, f"{label}:"))
            first.insert(1, nodes.Text(" "))
            return list(holder.children)
        return [nodes.paragraph("", "", nodes.emphasis(label, f"{label}.")), *holder.children]


class _Object(_Content):
    """`.. option:: -v, --verbose` / `.. py:function:: run(args)`: each signature a term (code), the content its
    description, as Sphinx lays them out."""

    def run(self) -> list[nodes.Node]:
        signatures = [s.strip() for s in (self.arguments[0] if self.arguments else "").split("\n") if s.strip()]
        if not signatures:
            return super().run()
        item = nodes.definition_list_item()
        for signature in signatures:
            item += nodes.term(signature, signature, classes=["sig"])
        definition = nodes.definition()
        self.state.nested_parse(self.content, self.content_offset, definition)
        item += definition
        return [nodes.definition_list("", item)]


_DIRECTIVES: dict[sphinx.DirectiveKind, type[Directive]] = {
    "code": _Code,
    "admonition": _Admonition,
    "version": _Version,
    "object": _Object,
    "wrapper": _Wrapper,
    "dropped": _Dropped,
    "content": _Content,
}


def _role(name: str, rawtext: str, text: str, lineno: int, inliner: Any, options: Any = None, content: Any = None):  # type: ignore[no-untyped-def]
    """A Sphinx role (or an unknown one): its text, as code for the roles that name something typed. A `:ref:` to a
    label without a title is a reference docutils resolves: a label of this file reads as its section's title."""
    shown, code = sphinx.role_text(name, utils.unescape(text))
    if sphinx.local_name(name) == "ref" and shown == " ".join(utils.unescape(text).split()):
        reference = nodes.reference(rawtext, shown, refname=nodes.fully_normalize_name(shown), classes=[_LABEL_REF])
        inliner.document.note_refname(reference)
        return [reference], []
    node: nodes.Node = nodes.literal(rawtext, shown) if code else nodes.Text(shown)
    return [node], []


@cache
def _register_role(name: str) -> None:
    """Give a role named in a document its Sphinx meaning, unless docutils' own is kept (as for directives:
    docutils' role registry is process-wide; its inline parser cannot be subclassed, it reads its own class's
    attributes only)."""
    if name in _SPHINX_ROLES or not _docutils_knows_role(name):
        roles.register_local_role(name, _role)


def _docutils_knows_role(name: str) -> bool:
    document = utils.new_document("<rst>", get_default_settings(Parser))
    found, _messages = roles.role(name, get_language("en", document.reporter), 0, document.reporter)
    return found is not None


# Roles docutils knows under another meaning (`code` needs no language here; `pep`/`rfc` take Sphinx's anchors).
_SPHINX_ROLES = frozenset({"code", "pep", "rfc"})


class _Unmarked(Transform):
    """What docutils could not resolve (a reference to a target defined in another file, an undefined
    substitution) keeps its words, without the markup; the leading field list becomes `<meta>`."""

    default_priority = 880  # after references are resolved (DanglingReferences is 850)

    _REFERENCE = re.compile(r"^(?::[\w:+.-]+:)?`(?P<text>.*?)(?:\s*<[^<>]*>)?`(?::[\w:+.-]+:)?_{0,2}$", re.S)
    _WORD = re.compile(r"^(?P<text>[\w.+-]+)__?$")
    _SUBSTITUTION = re.compile(r"^\|(?P<text>[^|]+)\|_{0,2}$")
    _FOOTNOTE = re.compile(r"^\[[^\]]+\]_$")
    _PATTERNS: ClassVar = (_REFERENCE, _WORD, _SUBSTITUTION)

    def apply(self, **kwargs: Any) -> None:
        for node in list(self.document.findall(nodes.problematic)):
            node.parent.replace(node, nodes.Text(self._words(node.astext())))
        for reference in list(self.document.findall(nodes.reference)):
            if _LABEL_REF in reference["classes"]:
                self._titled(reference)
        for message in list(self.document.findall(nodes.system_message)):
            self._kept_table(message)
        for note in list(self.document.findall(lambda n: isinstance(n, nodes.footnote | nodes.citation))):
            self._inline_label(note)
        self._metadata()

    def _inline_label(self, note: nodes.Element) -> None:
        """A footnote or citation as its text led by its label ("[1] First footnote."), not a label alone."""
        children = list(note.children)
        label = children.pop(0).astext() if children and isinstance(children[0], nodes.label) else ""
        if label and children and isinstance(children[0], nodes.paragraph):
            children[0].insert(0, nodes.Text(f"[{label}] "))
        elif label:
            children.insert(0, nodes.paragraph("", f"[{label}]"))
        note.parent.replace(note, [child.deepcopy() for child in children])

    def _titled(self, reference: nodes.reference) -> None:
        """`:ref:`label`` to a section of this file: the section's title, as Sphinx shows it."""
        target = self.document.ids.get(reference.get("refid", ""))
        if isinstance(target, nodes.section) and target.children and isinstance(target[0], nodes.title):
            reference.children = []
            reference += nodes.Text(target[0].astext())

    def _kept_table(self, message: nodes.system_message) -> None:
        """A table docutils cannot read (a cell over a column edge) stays as drawn, verbatim: its rows still say
        what it says, where dropping it would lose them."""
        source = next(iter(message.findall(nodes.literal_block)), None)
        if source is not None and message.children[0].astext().startswith("Malformed table"):
            message.parent.replace(message, nodes.literal_block(source.astext(), source.astext()))

    def _words(self, raw: str) -> str:
        if self._FOOTNOTE.match(raw):
            return ""
        for pattern in self._PATTERNS:
            match = pattern.match(raw)
            if match:
                return " ".join(match.group("text").split())
        return raw

    def _metadata(self) -> None:
        first = next(
            (
                child
                for child in self.document.children
                # What precedes the text without being text: comments, targets, `.. meta::`, docutils' notes.
                if not isinstance(child, nodes.Invisible | nodes.meta | nodes.decoration | nodes.system_message)
            ),
            None,
        )
        if not isinstance(first, nodes.field_list):
            return
        for field in first.findall(nodes.field):
            name = field[0].astext().strip().lower()
            if name in META_FIELDS:
                self.document.append(nodes.meta(name=name, content=" ".join(field[1].astext().split())))
        first.parent.remove(first)


class _SphinxParser(Parser):
    def get_transforms(self) -> list[type[Transform]]:
        return [*super().get_transforms(), _Unmarked]


class _Translator(HTMLTranslator):
    """docutils' HTML, with code inline as `<code>` (its `<span class="pre">` words would be split) and a
    sidebar directive as a plain block (a `sidebar` class is page chrome to html.py)."""

    def visit_literal(self, node: nodes.Element) -> None:
        self.body.append(f"<code>{escape(node.astext(), quote=False)}</code>")
        raise nodes.SkipNode

    def visit_sidebar(self, node: nodes.Element) -> None:
        self.body.append(self.starttag(node, "div", CLASS="rst-sidebar"))
        self.in_sidebar = True

    def depart_sidebar(self, node: nodes.Element) -> None:
        self.body.append("</div>\n")
        self.in_sidebar = False

    def visit_image(self, node: nodes.Element) -> None:
        raise nodes.SkipNode  # images are not text (html.py drops them too); their files are never opened


class _Writer(Writer):
    def __init__(self) -> None:
        super().__init__()
        self.translator_class = _Translator
