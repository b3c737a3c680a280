"""deflect's PDF reading (pypdf with its line positions, ingest/pdf.py) against pdfminer.six on real PDFs whose
HTML edition is also installed.

    .venv/bin/python benchmarks/pdf_extractors.py /usr/share/doc/bash/bash.pdf:/usr/share/doc/bash/bash.html ...

Score: the share of extracted words (3+ letters) that the same manual's HTML also contains; words broken by
extraction ("e xecuting") or by hyphenation at a line end ("dynam- ically") fall out of it. pdfminer.six is measured
only when importable. Nothing is written.
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

from deflect.ingest.html import parse_page
from deflect.ingest.pdf import pdf_to_markdown, read_pdf

WORD = re.compile(r"[A-Za-z]{3,}")
LIGATURES = str.maketrans({"ﬀ": "ff", "ﬁ": "fi", "ﬂ": "fl", "ﬃ": "ffi", "ﬄ": "ffl"})


def main(pairs: list[str]) -> None:
    for pair in pairs:
        pdf, html = pair.split(":", 1)
        vocab = {w.lower() for w in WORD.findall(parse_page(Path(html).read_text(encoding="utf-8")).body)}
        t0 = time.perf_counter()
        content = read_pdf(Path(pdf).read_bytes())
        pages = content.pages
        results = [("deflect", pdf_to_markdown(content), time.perf_counter() - t0)]
        try:
            from pdfminer.high_level import extract_text

            t0 = time.perf_counter()
            results.append(("pdfminer.six", extract_text(pdf), time.perf_counter() - t0))
        except ImportError:
            pass
        for name, text, seconds in results:
            words = [w.lower() for w in WORD.findall(text.translate(LIGATURES))]
            known = sum(w in vocab for w in words) / max(1, len(words))
            head = f"{Path(pdf).name:14} {name:13} pages {len(pages):4}"
            print(f"{head} words {len(words):7} known {known:.3f} {seconds:6.1f} s")


if __name__ == "__main__":
    main(sys.argv[1:])
