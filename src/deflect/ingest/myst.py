"""MyST (Sphinx's Markdown) as plain Markdown: roles, directive fences, targets and definition lists.

CommonMark reads MyST's extensions as text, so a customer would be quoted "{ref}`proxies <proxy>`" and a
```` ```{note} ```` block as code. Rewritten here, with the meanings sphinx.py gives rst:
- a role `{name}`text`` is its text, code for the roles that name something typed (`{option}`, `{file}`...);
  `{ref}` to a `(label)=` target of the same file reads as the heading under it;
- a directive fence ```` ```{name} args ```` (or a colon fence, `:::{name} args`) loses its `:option:` lines:
  `{code-block} LANG` is a code block in LANG, an admonition is its content led by its label ("**Note:** ..."), a
  version note a short paragraph, an object description a definition, a wrapper its content (a tab's title as a
  label), `{toctree}`-like ones nothing, `{eval-rst}` is read as reStructuredText, and any other its content (a
  shell session kept verbatim);
- `(label)=` target lines go; a definition list (`Term` then `: definition`) becomes `- **Term**: definition`.
Only text with MyST syntax is touched (a role, a directive fence or a target line): plain Markdown comes back as is.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from markdown_it import MarkdownIt
from markdown_it.token import Token

from deflect.ingest import sphinx
from deflect.ingest.blocks import fence
from deflect.ingest.html import code_span

_MD = MarkdownIt("commonmark").enable("table")
_ROLE = re.compile(r"(?<![`\\]){(?P<name>[A-Za-z][\w:+.-]*)}(?P<ticks>`+)(?!`)(?P<text>.+?)(?<!`)(?P=ticks)(?!`)")
# A role, or an inline code span (which is skipped whole, so a role written inside code stays as written).
_ROLE_OR_CODE = re.compile(_ROLE.pattern + r"|(?P<code>(?P<code_ticks>`+)(?!`).+?(?<!`)(?P=code_ticks)(?!`))")
_DIRECTIVE_INFO = re.compile(r"^\{(?P<name>[A-Za-z][\w:+.-]*)\}\s*(?P<args>.*)$")
# MyST's colon fences (`:::{note}` ... `:::`), whose content is Markdown.
_COLON_OPEN = re.compile(r"^(?P<indent>[ \t]*)(?P<colons>:{3,})\{(?P<name>[A-Za-z][\w:+.-]*)\}(?P<args>.*)$")
_COLON_CLOSE = re.compile(r"^[ \t]*(?P<colons>:{3,})[ \t]*$")
_TARGET = re.compile(r"^\s*\((?P<label>[^()\s]+)\)=\s*$")
_OPTION = re.compile(r"^:[\w-]+:")
_HEADING = re.compile(r"^#{1,6}\s+(?P<text>.+?)\s*#*\s*$")
_DEFINITION = re.compile(r"^: {1,3}(?P<text>\S.*)$")
# The start of a block a label cannot share a line with.
_BLOCK_START = re.compile(r"^(```|~~~|[-*+] |\d+[.)] |\||#|>)")


def has_myst(markdown: str) -> bool:
    """A role, a directive fence or a `(label)=` target line outside code: syntax CommonMark would show as text."""
    if "{" not in markdown and ")=" not in markdown:
        return False  # no role, fence or target can be there: spares the parse
    lines = markdown.splitlines()
    verbatim, fences = _code(markdown, len(lines))
    if any(_DIRECTIVE_INFO.match(token.info.strip()) for token in fences):
        return True
    return any(
        not verbatim[i] and (_TARGET.match(line) or _COLON_OPEN.match(line) or _has_role(line))
        for i, line in enumerate(lines)
    )


def _has_role(line: str) -> bool:
    return any(match.group("code") is None for match in _ROLE_OR_CODE.finditer(line))


def _code(markdown: str, count: int) -> tuple[list[bool], list[Token]]:
    """Which of the text's lines are code (fenced or indented), and its fenced code blocks."""
    verbatim = [False] * count
    fences: list[Token] = []
    for token in _MD.parse(markdown):
        if token.map is None or token.type not in {"fence", "code_block"}:
            continue
        start, end = token.map
        verbatim[start:end] = [True] * (end - start)
        if token.type == "fence":
            fences.append(token)
    return verbatim, fences


def myst_to_markdown(markdown: str, rst: Callable[[str], str] | None = None) -> str:
    """MyST as plain Markdown (see the module docstring); `rst` turns an `{eval-rst}` block's reStructuredText
    into Markdown (without it, the block is dropped). Text without MyST syntax is returned unchanged."""
    if not has_myst(markdown):
        return markdown
    return _rewrite(_colon_fences(markdown), _labels(markdown), rst)


def _colon_fences(markdown: str) -> str:
    """Colon fences as backtick fences of the same directive, so one reading serves both: longer than any
    backtick run in the text, and an outer fence (more colons) longer than the fences inside it."""
    lines = markdown.splitlines()
    verbatim, _ = _code(markdown, len(lines))
    base = max(3, max((len(run) for run in re.findall(r"`+", markdown)), default=0) + 1)
    out: list[str] = []
    open_fences: list[tuple[int, str]] = []  # (colons, indent) of each fence still open, innermost last
    for i, line in enumerate(lines):
        opening = None if verbatim[i] else _COLON_OPEN.match(line)
        closing = None if verbatim[i] or opening else _COLON_CLOSE.match(line)
        if opening:
            colons = len(opening.group("colons"))
            open_fences.append((colons, opening.group("indent")))
            ticks = "`" * (base + colons - 3)
            out.append(f"{opening.group('indent')}{ticks}{{{opening.group('name')}}}{opening.group('args')}")
        elif closing and open_fences and len(closing.group("colons")) >= open_fences[-1][0]:
            colons, indent = open_fences.pop()
            out.append(indent + "`" * (base + colons - 3))
        else:
            out.append(line)
    return "\n".join(out) + ("\n" if markdown.endswith("\n") else "")


def _rewrite(markdown: str, labels: dict[str, str], rst: Callable[[str], str] | None) -> str:
    lines = markdown.splitlines()
    verbatim, fences = _code(markdown, len(lines))
    replacements: list[tuple[int, int, list[str]]] = []
    for token in fences:
        assert token.map is not None
        start, end = token.map
        info = _DIRECTIVE_INFO.match(token.info.strip())
        indent = lines[start][: len(lines[start]) - len(lines[start].lstrip())]
        if info is None or indent.strip():
            continue
        rendered = _directive(info.group("name"), info.group("args").strip(), token.content, labels, rst)
        replacements.append((start, end, [(indent + line) if line else "" for line in rendered.splitlines()]))
    replaced = {start: (end, new) for start, end, new in replacements}
    out: list[tuple[str, bool]] = []  # (line, verbatim)
    i = 0
    while i < len(lines):
        if i in replaced:
            end, new = replaced[i]
            # A blank line on each side, so the block stands alone, unless the text has one there already.
            before = [("", False)] if out and out[-1][0].strip() else []
            after = [("", False)] if end < len(lines) and lines[end].strip() else []
            out.extend([*before, *((line, True) for line in new), *after])
            i = end
            continue
        if verbatim[i]:
            out.append((lines[i], True))
        elif not _TARGET.match(lines[i]):
            out.append((_roles(lines[i], labels), False))
        i += 1
    text = "\n".join(_definitions(out))
    return text + ("\n" if markdown.endswith("\n") else "")


def _labels(markdown: str) -> dict[str, str]:
    """`(label)=` followed by a heading: the label reads as the heading's text (as Sphinx shows a `{ref}`)."""
    lines = markdown.splitlines()
    out: dict[str, str] = {}
    for i, line in enumerate(lines):
        target = _TARGET.match(line)
        if target is None:
            continue
        following = next((next_line for next_line in lines[i + 1 :] if next_line.strip()), "")
        heading = _HEADING.match(following)
        if heading:
            out[target.group("label").lower()] = heading.group("text")
    return out


def _roles(line: str, labels: dict[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        if match.group("code"):
            return match.group(0)
        name, raw = match.group("name"), match.group("text")
        if sphinx.local_name(name) in {"file", "samp"}:
            raw = raw.replace("\\\\", "\\")  # Sphinx reads these roles' backslash escapes
        shown, code = sphinx.role_text(name, raw)
        if sphinx.local_name(name) == "ref" and shown.lower() in labels:
            shown = labels[shown.lower()]
        return code_span(shown) if code else shown

    return _ROLE_OR_CODE.sub(replace, line)


def _directive(name: str, args: str, content: str, labels: dict[str, str], rst: Callable[[str], str] | None) -> str:
    """One directive fence as Markdown ("" when it has nothing for a reader)."""
    lines = _without_options(content.splitlines())
    kind = sphinx.directive_kind(name)
    local = sphinx.local_name(name)
    if local == "eval-rst":
        return rst("\n".join(lines)).strip() if rst is not None else ""
    if kind == "code":
        return fence("\n".join(lines).strip("\n"), args.split()[0] if args else "")
    if kind == "dropped":
        return ""
    if kind == "content" and sphinx.is_session(lines):
        return fence("\n".join(lines).strip("\n"), "console")
    inner = _rewrite("\n".join(lines), labels, rst).strip() if lines else ""
    if kind == "admonition":
        label = args if local == "admonition" and args else sphinx.ADMONITIONS.get(local, local.title())
        return _labelled(label, inner)
    if kind == "version":
        version, _, rest = args.partition(" ")
        label = sphinx.version_label(local, version)
        text = " ".join(part for part in (rest.strip(), inner) if part)
        return f"*{label}:* {text}" if text else f"*{label}.*"
    if kind == "object":
        return _definition(args, inner)
    if kind == "wrapper" and args and inner and local in sphinx.TITLED_WRAPPERS:
        return _labelled(args, inner)
    return inner


def _without_options(lines: list[str]) -> list[str]:
    """Content without its leading `:key: value` lines or `---` YAML block (the directive's options)."""
    if lines and lines[0].strip() == "---":
        end = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), None)
        if end is not None:
            lines = lines[end + 1 :]
    i = 0
    while i < len(lines) and _OPTION.match(lines[i]):
        i += 1
    lines = lines[i:]
    while lines and not lines[0].strip():
        lines = lines[1:]
    return lines


def _labelled(label: str, inner: str) -> str:
    """A label ("**Note:** text") leads a first paragraph, or stands above a first block it cannot share a line
    with (html.py labels admonitions the same way)."""
    head = f"**{' '.join(label.split())}:**"
    if not inner:
        return head
    if _BLOCK_START.match(inner):
        return f"{head}\n\n{inner}"
    return f"{head} {inner}"


def _definition(signature: str, inner: str) -> str:
    """`- **`signature`**: description`, later paragraphs indented under the item."""
    head = f"- **{code_span(signature)}**:"
    if not inner:
        return head
    first, _, rest = inner.partition("\n")
    if _BLOCK_START.match(first):
        first, rest = "", inner
    indented = "\n".join(("  " + line) if line.strip() else "" for line in rest.splitlines())
    return "\n".join(part for part in (f"{head} {first}".rstrip(), indented) if part.strip())


def _definitions(lines: list[tuple[str, bool]]) -> list[str]:
    """MyST definition lists (`Term`, then `: definition`, continued by indented lines) as list items; code and
    rewritten directives are left alone."""
    out: list[str] = []
    terms: list[bool] = []  # whether out[i] may be a term: text after a blank line, not a block of its own
    for line, verbatim in lines:
        match = None if verbatim else _DEFINITION.match(line)
        if match and terms and terms[-1]:
            term, text = out[-1].strip(), match.group("text")
            if _BLOCK_START.match(text):  # a definition that opens with a list starts on its own line
                out[-1:] = [f"- **{term}**:", f"  {text}"]
                terms[-1:] = [False, False]
            else:
                out[-1] = f"- **{term}**: {text}"
                terms[-1] = False
            continue
        starts_block = not line.strip() or line.startswith((" ", "\t")) or bool(_BLOCK_START.match(line))
        after_blank = not out or not out[-1].strip()
        terms.append(not verbatim and not starts_block and after_blank)
        out.append(line)
    return out
