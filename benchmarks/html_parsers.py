"""Compare HTML-to-text candidates on real manual pages installed from Debian doc packages.

    .venv/bin/python benchmarks/html_parsers.py /usr/share/doc/borgbackup/html /usr/share/doc/python3.11/html ...

For every page and candidate it checks, against the page's own HTML (no hand labels):
- pre: share of <pre> blocks whose lines all come out, in order, as whole lines (line breaks kept);
- code: share of inline <code> texts found verbatim;
- dt: share of <dt> terms that come out on the same line as the start of their <dd>;
- table: share of tables whose header cells all come out on one line;
- chrome: share of pages with a permalink sign or a previous/next/quick-search line left in.
Candidates that are not installed (html2text, trafilatura) are skipped. Nothing is written.
"""

from __future__ import annotations

import re
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from bs4 import BeautifulSoup

from deflect.ingest.html import parse_page


def _current(html: str) -> str:
    """The parser before structure-keeping (headings, p, li, pre, td text joined by spaces)."""
    soup = BeautifulSoup(html, "html.parser")
    body = soup.find("main") or soup.find("article") or soup.body or soup
    for junk in body.find_all(["nav", "footer", "script", "style", "header", "aside", "form"]):
        junk.decompose()
    lines = []
    for el in body.find_all(["h1", "h2", "h3", "h4", "p", "li", "pre", "td"]):
        if el.find_parent(["li", "pre", "td"]) is not None and el.name != "pre":
            continue
        text = re.sub(r"\s+([.,;:!?)])", r"\1", " ".join(el.get_text(" ", strip=True).split()))
        if text:
            lines.append(text)
    return "\n".join(lines)


def _candidates() -> dict[str, Callable[[str], str]]:
    out: dict[str, Callable[[str], str]] = {
        "previous parser": _current,
        "deflect (markdownify+rules)": lambda h: parse_page(h).body,
    }
    try:
        import markdownify

        out["markdownify defaults"] = lambda h: markdownify.markdownify(h, heading_style="atx")
    except ImportError:
        pass
    try:
        import html2text

        def h2t(h: str) -> str:
            conv = html2text.HTML2Text()
            conv.body_width = 0
            return conv.handle(h)

        out["html2text"] = h2t
    except ImportError:
        pass
    try:
        import trafilatura

        out["trafilatura"] = lambda h: (
            trafilatura.extract(
                h, output_format="markdown", include_tables=True, include_formatting=True, favor_recall=True
            )
            or ""
        )
    except ImportError:
        pass
    return out


def _lines(text: str) -> list[str]:
    return [" ".join(line.split()) for line in text.splitlines() if line.strip()]


def _contains_run(haystack: list[str], needle: list[str]) -> bool:
    if not needle:
        return True
    n = len(needle)
    return any(all(needle[j] in haystack[i + j] for j in range(n)) for i in range(len(haystack) - n + 1))


def _checks(html: str) -> dict[str, list[object]]:
    soup = BeautifulSoup(html, "html.parser")
    root = soup.select_one("[role=main]") or soup.find("main") or soup.body or soup
    pres = [_lines(p.get_text()) for p in root.find_all("pre")]
    codes = [" ".join(c.get_text().split()) for c in root.find_all("code") if c.find_parent("pre") is None]
    dts = []
    for dt in root.find_all("dt"):
        dd = dt.find_next_sibling("dd")
        term = " ".join(dt.get_text().replace("¶", "").split())
        words = " ".join(dd.get_text().split()).split()[:3] if dd else []
        if term and words:
            dts.append((term, " ".join(words)))
    tables = []
    for table in root.find_all("table"):
        head = (
            [" ".join(c.get_text().split()) for c in table.find("tr").find_all(["th", "td"])]
            if table.find("tr")
            else []
        )
        if head and table.find("th") is not None:
            tables.append([h for h in head if h])
    return {"pre": pres, "code": [c for c in codes if c], "dt": dts, "table": tables}


_MARKS = re.compile(r"[`*\\]")
CHROME = re.compile(r"¶|^\W*(quick search|previous topic|next topic|previous:|next:|up:)", re.I | re.M)


def main(folders: list[str]) -> None:
    pages = []
    for folder in folders:
        files = sorted(
            p
            for p in Path(folder).rglob("*.htm*")
            if "_sources" not in p.parts and p.name not in {"search.html", "genindex.html"}
        )
        step = max(1, len(files) // 40)
        pages.extend(files[::step])
    cands = _candidates()
    score: dict[str, dict[str, list[int]]] = {name: defaultdict(lambda: [0, 0]) for name in cands}
    seconds: dict[str, float] = defaultdict(float)
    for page in pages:
        html = page.read_text(encoding="utf-8", errors="replace")
        checks = _checks(html)
        for name, fn in cands.items():
            t0 = time.perf_counter()
            try:
                out = fn(html)
            except RecursionError:  # markdownify on html.parser's deeply nested man2html lists
                out = ""
                score[name]["crashed"][0] += 1
            seconds[name] += time.perf_counter() - t0
            lines = _lines(out)
            flat = " ".join(out.split())
            s = score[name]
            for pre in checks["pre"]:
                s["pre"][1] += 1
                s["pre"][0] += _contains_run(lines, pre)
            for code in checks["code"]:
                s["code"][1] += 1
                s["code"][0] += code in flat
            # Terms and descriptions are compared without Markdown emphasis and code marks, for every candidate.
            plain = [_MARKS.sub("", line) for line in lines]
            for term, words in checks["dt"]:
                s["dt"][1] += 1
                s["dt"][0] += any(term.split()[0] in line and words in line for line in plain)
            for head in checks["table"]:
                s["table"][1] += 1
                s["table"][0] += any(all(h in line for h in head) for line in lines)
            s["chrome"][1] += 1
            s["chrome"][0] += bool(CHROME.search(out))
    print(f"{len(pages)} pages from {', '.join(folders)}")
    print(f"{'candidate':30} {'pre':>14} {'code':>14} {'dt':>14} {'table':>12} {'chrome left':>12} {'s':>6} crashed")
    for name in cands:
        s = score[name]
        cells = [
            f"{s[k][0]}/{s[k][1]} {s[k][0] / max(1, s[k][1]):.2f}" for k in ("pre", "code", "dt", "table", "chrome")
        ]
        print(
            f"{name:30} {cells[0]:>14} {cells[1]:>14} {cells[2]:>14} {cells[3]:>12} {cells[4]:>12} "
            f"{seconds[name]:6.1f} {s['crashed'][0]}"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
