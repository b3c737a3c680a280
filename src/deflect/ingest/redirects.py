"""Pages that only send their reader to another page: a moved page's stub.

Documentation generators leave one behind for every old address: texinfo writes a small HTML file per node and
anchor (`Aliasing.html`: "The node you are looking for is at Aliasing", 144 of the 186 files of zsh's manual), Sphinx
sites and SQLite keep renamed pages as a `<meta http-equiv="refresh">` stub, and reST sources say the same with a
`.. meta::` field (pip's docs: 16 pages "This page has moved"). Indexed, each was an article whose title names a
topic (so it won title matches and the self-calibration's title probes) and whose body says nothing; the page it
points to is indexed anyway. A browser never shows such a page, whatever its body: it follows the refresh.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

# The head of an HTML page, or the top of a reST/MyST file, is where a refresh is declared.
HEAD_BYTES = 65_536
_META = re.compile(r"<meta\b[^>]*>", re.I)
_HEAD_END = re.compile(r"</head\s*>", re.I)
_HTTP_EQUIV = re.compile(r"""http-equiv\s*=\s*["']?refresh\b""", re.I)
_CONTENT = re.compile(r"""\bcontent\s*=\s*(?:"([^"]*)"|'([^']*)')""", re.I)
# reST's `.. meta::` directive (its fields indented under it) and MyST's fenced `{meta}` (fields up to the closing
# fence): `:http-equiv=refresh: 3; url=../getting-started/`. Only inside the directive: an article may quote one.
_DIRECTIVE = re.compile(
    r"^\.\. meta::[ \t]*\n((?:[ \t]*\n|[ \t]+\S.*\n?)*)"  # reST: the indented block under the directive
    r"|^(`{3,}|:{3,})\{meta\}[ \t]*\n(.*?)^\2",  # MyST: up to the closing fence
    re.M | re.S,
)
_FIELD = re.compile(r"^\s*:http-equiv=refresh:\s*(.+?)\s*$", re.I | re.M)
_URL = re.compile(r"^\s*url\s*=\s*", re.I)


def redirect_target(head: str, suffix: str, name: str) -> str:
    """Where the page (`head`: its first bytes as text; `suffix`: the parser's, `.html`/`.rst`/`.md`; `name`: its
    file name) sends its reader, or "" when it is read where it is. A refresh to the page itself (a reload) is not
    a redirect."""
    if suffix in {".html", ".htm", ".xhtml"}:
        head = _HEAD_END.split(head, 1)[0]
        values = [
            c.group(1) if c.group(1) is not None else c.group(2)
            for tag in _META.findall(head)
            if _HTTP_EQUIV.search(tag) and (c := _CONTENT.search(tag))
        ]
    else:
        values = [v for d in _DIRECTIVE.finditer(head) for v in _FIELD.findall(d.group(1) or d.group(3) or "")]
    for value in values:
        target = _target(value)
        if target and not _same_page(target, name):
            return target
    return ""


def _target(value: str) -> str:
    """`0; url=Shell-Grammar.html#Aliasing` or `0; ./cli.html` (HTML allows the URL without `url=`) -> the URL."""
    _, sep, rest = value.partition(";")
    if not sep:
        rest = value if not value.strip().replace(".", "").isdigit() else ""
    return _URL.sub("", rest).strip().strip("'\"").strip()


def _same_page(target: str, name: str) -> bool:
    path = urlsplit(target).path
    return not path or path.rstrip("/").rsplit("/", 1)[-1] == name
