"""A paragraph's lines joined into Markdown: monospaced runs as code spans, line-end breaks mended."""

from __future__ import annotations

import re

from deflect.ingest.html import code_span
from deflect.ingest.pdf.lines import Layout, Line

_OPTION_FRAGMENT = re.compile(r"(?:^|\s)(--?|--?[A-Za-z0-9][\w.-]*-)$")
_HYPHENATED = re.compile(r"([A-Za-z]+)-$")
_LEADING_WORD = re.compile(r"^([a-z]+)")
_BLOCK_START = re.compile(r"^(#{1,6}\s|>|[-+*]\s|[-=_*]{3,}\s*$|\||`{3,}|~{3,})")


def paragraph(lines: list[Line], layout: Layout) -> str:
    """Lines joined into one paragraph: monospaced runs as code spans, line-end breaks mended (package docstring)."""
    pieces: list[tuple[str, bool]] = []  # (text, mono), adjacent pieces of one kind merged
    for n, line in enumerate(lines):
        runs = [(r.text, r.mono) for r in line.runs]
        if n and pieces:
            text, mono = pieces[-1]
            pieces[-1] = (text.rstrip(), mono)
            first = runs[0][0].lstrip()
            runs[0] = (first, runs[0][1])
            glue = _glue(pieces[-1][0], first, mono, layout)
            if glue == "dehyphenate":
                pieces[-1] = (pieces[-1][0][:-1], mono)
            elif glue:
                pieces.append((glue, mono and runs[0][1]))
        for text, mono in runs:
            if pieces and (pieces[-1][1] == mono or not text.strip()):
                pieces[-1] = (pieces[-1][0] + text, pieces[-1][1])
            else:
                pieces.append((text, mono))
    out = "".join(_code_span(t) if m else escape(t) for t, m in pieces)
    out = " ".join(out.split())
    return "\\" + out if _BLOCK_START.match(out) else out


def option_fragment(text: str) -> bool:
    """Whether the text ends in an option broken at a line end (`--`, `--unw-stack-`)."""
    return bool(_OPTION_FRAGMENT.search(text))


def _glue(before: str, after: str, mono: bool, layout: Layout) -> str:
    """What joins a line ending in `before` to the next, starting with `after`: "" (nothing), " ", or
    "dehyphenate" (drop the hyphen, join the word halves)."""
    if not before.endswith("-"):
        return " "
    if mono or _OPTION_FRAGMENT.search(before):
        return ""  # `--` / `--unw-stack-` at a line end: the option goes on at the next line's start
    head = _HYPHENATED.search(before)
    tail = _LEADING_WORD.match(after)
    if head and tail:
        whole = (head.group(1) + tail.group(1)).lower()
        if whole in layout.words and f"{head.group(1)}-{tail.group(1)}".lower() not in layout.words:
            return "dehyphenate"
    return ""


def _code_span(text: str) -> str:
    """A monospaced run as inline code, keeping the space around it that separates it from the prose."""
    if not text.strip():
        return text
    lead = " " if text[:1].isspace() else ""
    trail = " " if text[-1:].isspace() else ""
    return f"{lead}{code_span(text)}{trail}"


def render_term(text: str) -> str:
    """An option-like or code term (`-x`, `--depth <depth>`, `NAME <S>`) is code; `<S>` must not read as a tag."""
    if text.startswith("-") or "<" in text or "*" in text or "_" in text:
        return code_span(text)
    return text


def escape(text: str) -> str:
    """Prose that Markdown must not read as emphasis, code or HTML."""
    return re.sub(r"([\\`*<\[\]])", r"\\\1", text)
