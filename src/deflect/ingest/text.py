"""Plain text (and the plain-text conventions of reStructuredText and AsciiDoc) to Markdown.

(`.rst` files are parsed by docutils, rst.py; this reading is their fallback when docutils cannot parse them.)

Plain text keeps its paragraphs and line breaks; what the common text conventions mark as structure becomes
Markdown structure:
- a line underlined (and optionally overlined) with = - ~ ^ * + # " ' ` : . _ becomes a heading, levels in
  order of first use (reStructuredText's rule); AsciiDoc's `= Title` / `== Section` lines become headings too;
- indented blocks after a blank line, and blocks between two `----` or `....` delimiter lines (AsciiDoc listing
  and literal blocks), become fenced code blocks with their exact lines;
- reStructuredText directive and comment lines (`.. note::`, `.. _label:`) are dropped, their content kept;
- an AsciiDoc labeled list entry (`term::` with its description on the line or indented below) becomes
  `- **term**: description`, an option-like term in backticks.
(PDFs: the pdf package.)
"""

from __future__ import annotations

import re

from deflect.ingest.blocks import fence, tidy

_UNDERLINE = re.compile(r"^([=\-~^*+#\"'`:._])\1{2,}\s*$")
_ASCIIDOC_HEADING = re.compile(r"^(={1,6}) (\S.*)$")
_DELIMITER = re.compile(r"^(-{4,}|\.{4,})\s*$")
_DIRECTIVE = re.compile(r"^\.\. (?:[\w:-]+::.*|_[^:]+:.*|\|[^|]+\|.*|\[[^\]]+\].*|\S.*)?$")
_LABEL = re.compile(r"^(\S(?:.*?\S)?)(?:::|;;)(?:\s+(.*))?$")
_INDENTED = re.compile(r"^(?: {2,}|\t)\S")


def text_to_markdown(text: str) -> str:
    """Plain text as Markdown (see the module docstring for the rules)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").expandtabs(8).splitlines()
    out: list[str] = []
    levels: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        prev_blank = i == 0 or not lines[i - 1].strip()
        # Overlined title: ===== / Title / =====
        if _UNDERLINE.match(line) and i + 2 < len(lines) and lines[i + 2].strip() == stripped and lines[i + 1].strip():
            out.extend(["", _heading(lines[i + 1].strip(), "over" + stripped[0], levels), ""])
            i += 3
            continue
        # Underlined title: Title / =====
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if (
            stripped
            and not _UNDERLINE.match(line)
            and _UNDERLINE.match(nxt)
            and len(nxt.strip()) >= max(3, int(len(stripped) * 0.6))
            and prev_blank
        ):
            out.extend(["", _heading(stripped, nxt.strip()[0], levels), ""])
            i += 2
            continue
        match = _ASCIIDOC_HEADING.match(line)
        if match and prev_blank:
            out.extend(["", "#" * len(match.group(1)) + " " + match.group(2).strip(), ""])
            i += 1
            continue
        if _DELIMITER.match(line) and prev_blank:
            end = next((j for j in range(i + 1, len(lines)) if lines[j].strip() == stripped), None)
            if end is not None:
                out.extend(["", fence("\n".join(lines[i + 1 : end])), ""])
                i = end + 1
                continue
        if stripped.startswith("..") and _DIRECTIVE.match(stripped) and prev_blank:
            i += 1
            continue
        entry = _labeled_entry(lines, i)
        if entry is not None:
            item, i = entry
            out.append(item)
            continue
        if _INDENTED.match(line) and prev_blank and _is_code_context(out):
            j = i
            while j < len(lines) and (not lines[j].strip() or _INDENTED.match(lines[j])):
                j += 1
            block = lines[i:j]
            while block and not block[-1].strip():
                block.pop()
            out.extend(["", fence(_dedent(block)), ""])
            i = j
            continue
        out.append(line.rstrip())
        i += 1
    return tidy(out)


def _is_code_context(out: list[str]) -> bool:
    """An indented block is code unless it continues a list item (whose text it then belongs to)."""
    previous = next((line for line in reversed(out) if line.strip()), "")
    return not re.match(r"^\s*([-*+]|\d+[.)])\s", previous)


def _labeled_entry(lines: list[str], i: int) -> tuple[str, int] | None:
    """An AsciiDoc labeled list entry at line i (terms `a::` on consecutive lines share the description that
    follows, on the last term's line or indented below) as one list item, and the index after it."""
    terms: list[str] = []
    j = i
    while j < len(lines) and (match := _LABEL.match(lines[j])):
        terms.append(match.group(1))
        j += 1
        if (match.group(2) or "").strip():
            description = [(match.group(2) or "").strip()]
            break
    else:
        description = []
    if not terms or (not description and not (j < len(lines) and _INDENTED.match(lines[j]))):
        return None
    while j < len(lines) and lines[j].strip() and (_INDENTED.match(lines[j]) or lines[j].strip() == "+"):
        if lines[j].strip() != "+":  # AsciiDoc's list continuation mark
            description.append(lines[j].strip())
        j += 1
    return f"- **{', '.join(_term(t) for t in terms)}**: " + " ".join(description), j


def _term(term: str) -> str:
    """An option-like term (`-x`, `--depth <depth>`) is code; `<depth>` must not read as an HTML tag."""
    return f"`{term}`" if term.startswith("-") or "<" in term else term


def _heading(text: str, style: str, levels: list[str]) -> str:
    if style not in levels:
        levels.append(style)
    return "#" * min(6, levels.index(style) + 1) + " " + text


def _dedent(block: list[str]) -> str:
    width = min(len(line) - len(line.lstrip()) for line in block if line.strip())
    return "\n".join(line[width:] for line in block)
