"""Files that are pages but hold no article are skipped, with a reason: moved pages' stubs (a refresh to another
page) and indexes of links (a term index, a site map); pages read where they are, and pages with many links among
their prose, stay.

The stubs imitate texinfo's per-node redirection files, SQLite's renamed page and a reST page that has moved (Sphinx
sites); the indexes texinfo's and Sphinx's; their text is ours.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from deflect.domain.models import IngestReport
from deflect.ingest.chunking import Chunker
from deflect.ingest.pipeline import Ingestor
from deflect.ingest.redirects import redirect_target
from deflect.ingest.sources import LINK_INDEX, NotAnArticle, parse_html, parse_paths
from deflect.testing import HashEmbedder, InMemoryIndex

TEXINFO_STUB = """<!DOCTYPE html><html><!-- This file redirects to the location of a node or anchor -->
<head><title>Descaling (kettle)</title><meta name="description" content="Descaling (kettle)">
<style type="text/css">div.example {margin-left: 3.2em}</style>
<meta http-equiv="Refresh" content="0; url=Care.html#Descaling"></head>
<body lang="en"><p>The node you are looking for is at <a href="Care.html#Descaling">Descaling</a>.</p></body></html>
"""
BARE_URL_STUB = """<html><head><meta http-equiv="refresh" content="0; ./pour.html"></head>
<body>Redirect to <a href="pour.html">./pour.html</a></body></html>"""
REST_STUB = """:orphan:

.. meta::

  :http-equiv=refresh: 3; url=../getting-started/

This page has moved
===================

You will be sent on in 3 seconds; if not, follow :doc:`getting-started`.
"""
MYST_STUB = "```{meta}\n:http-equiv=refresh: 0; url=brew.html\n```\n\n# Moved\n\nSee the brewing page.\n"
PAGE = """<html><head><title>Care</title></head><body><h1>Care</h1>
<h2 id="Descaling">Descaling</h2><p>Run <code>kettle descale</code> once a month.</p></body></html>"""


@pytest.mark.parametrize(
    ("text", "suffix", "name", "target"),
    [
        (TEXINFO_STUB, ".html", "Descaling.html", "Care.html#Descaling"),
        (BARE_URL_STUB, ".html", "old.html", "./pour.html"),
        ('<head><meta content="5;URL=\'next.html\'" http-equiv="REFRESH"></head>', ".html", "a.html", "next.html"),
        ('<HTML><HEAD><META HTTP-EQUIV="Refresh" CONTENT="0; URL=new.htm"></HEAD><BODY>', ".htm", "a.htm", "new.htm"),
        (REST_STUB, ".rst", "installing.rst", "../getting-started/"),
        (MYST_STUB, ".md", "old.md", "brew.html"),
    ],
    ids=["texinfo", "bare-url", "single-quoted", "upper-case", "rest-meta", "myst-meta"],
)
def test_a_refresh_to_another_page_is_a_redirect(text: str, suffix: str, name: str, target: str) -> None:
    assert redirect_target(text, suffix, name) == target


@pytest.mark.parametrize(
    ("text", "suffix", "name"),
    [
        (PAGE, ".html", "Care.html"),
        ('<head><meta http-equiv="refresh" content="30"></head><body>Live status</body>', ".html", "s.html"),
        ('<head><meta http-equiv="refresh" content="60; url=status.html#now"></head>', ".html", "status.html"),
        ('<body><pre>&lt;meta http-equiv="refresh" content="0; url=x.html"&gt;</pre>', ".html", "a.html"),
        ("To move a page::\n\n    .. meta::\n       :http-equiv=refresh: 0; url=new.html\n", ".rst", "howto.rst"),
        ("Quote a field:\n\n    :http-equiv=refresh: 0; url=new.html\n", ".rst", "howto.rst"),
    ],
    ids=[
        "plain-page",
        "reload",
        "reload-self-anchor",
        "quoted-in-body",
        "rest-example-in-code",
        "rest-field-alone",
    ],
)
def test_a_page_read_where_it_is_is_not_a_redirect(text: str, suffix: str, name: str) -> None:
    assert redirect_target(text, suffix, name) == ""


def test_an_ingest_skips_moved_pages_with_one_reason_and_keeps_the_page_they_point_to(tmp_path: Path) -> None:
    (tmp_path / "Care.html").write_text(PAGE, encoding="utf-8")
    (tmp_path / "Descaling.html").write_text(TEXINFO_STUB, encoding="utf-8")
    (tmp_path / "old.html").write_text(BARE_URL_STUB, encoding="utf-8")
    (tmp_path / "installing.rst").write_text(REST_STUB, encoding="utf-8")
    parsed = parse_paths([tmp_path], tmp_path, "sig")
    assert [d.origin for d in parsed.docs] == ["Care.html"]
    assert not parsed.errors
    assert sorted(s.path for s in parsed.skipped) == ["Descaling.html", "installing.rst", "old.html"]
    assert len({s.reason for s in parsed.skipped}) == 1  # the report groups them
    assert "redirect" in parsed.skipped[0].reason


def texinfo_index(entries: int) -> str:
    rows = "".join(
        f'<tr><td></td><td valign="top"><a href="Care.html#index-term{i}"><code>TERM_{i}</code></a></td>'
        f'<td>&nbsp;</td><td valign="top"><a href="Care.html#Descaling">4.{i % 7} Descaling</a></td></tr>'
        for i in range(entries)
    )
    return f"""<html><head><title>Options Index (kettle)</title></head><body><div class="unnumbered" id="Options-Index">
<h1 class="unnumbered">Options Index</h1>
<table class="index-vr" border="0"><tr><td></td><th align="left">Index Entry</th><td>&nbsp;</td>
<th align="left"> Section</th></tr>{rows}</table></div></body></html>"""


SPHINX_GENINDEX = (
    """<html><head><title>Index &#8212; Kettle 2.1 documentation</title></head><body>
<div class="body" role="main"><h1 id="index">Index</h1>
<div class="genindex-jumpbox"><a href="#A"><strong>A</strong></a> | <a href="#B"><strong>B</strong></a></div>
<h2 id="A">A</h2><table style="width: 100%" class="indextable genindextable"><tr><td style="width: 33%">
<ul>"""
    + "".join(
        f'<li><a href="cmds/brew.html#opt-{i}">--option-{i}</a>, <a href="cmds/pour.html#opt-{i}">[1]</a></li>'
        for i in range(60)
    )
    + "</ul></td></tr></table></div></body></html>"
)

# An API page: every name links to its own page, but the prose around them is most of the text.
API_PAGE = (
    """<html><head><title>Kettle handle</title></head><body><main><h1>Kettle handle</h1>"""
    + "".join(
        f'<p>Call <a href="f{i}.html">kettle_op_{i}</a> to change setting {i} of the handle; it returns an error code '
        f"when the kettle is busy, and the previous value otherwise.</p>"
        for i in range(60)
    )
    + "</main></body></html>"
)


@pytest.mark.parametrize("page", [texinfo_index(120), SPHINX_GENINDEX], ids=["texinfo-index", "sphinx-genindex"])
def test_an_index_of_links_is_not_an_article(page: str) -> None:
    with pytest.raises(NotAnArticle) as skipped:
        parse_html(page, "Options-Index.html", "sig")

    assert skipped.value.reason == LINK_INDEX


@pytest.mark.parametrize("page", [API_PAGE, texinfo_index(15), PAGE], ids=["api-page", "short-index", "plain-page"])
def test_pages_with_links_among_their_text_or_few_links_stay_articles(page: str) -> None:
    assert parse_html(page, "page.html", "sig").body


def test_an_ingest_skips_an_index_with_its_reason_and_indexes_the_rest(tmp_path: Path) -> None:
    (tmp_path / "Care.html").write_text(PAGE, encoding="utf-8")
    (tmp_path / "Options-Index.html").write_text(texinfo_index(120), encoding="utf-8")
    parsed = parse_paths([tmp_path], tmp_path, "sig")

    assert [d.origin for d in parsed.docs] == ["Care.html"]
    assert [(s.path, s.reason) for s in parsed.skipped] == [("Options-Index.html", LINK_INDEX)]
    assert not parsed.errors
    assert parsed.origins == {"Care.html"}


@pytest.mark.parametrize("memo", [False, True], ids=["no memo", "memo"])
@pytest.mark.parametrize("becomes", ["redirect", "index"])
def test_a_page_that_becomes_a_redirect_or_an_index_leaves_the_index_at_the_next_ingest(
    tmp_path: Path, memo: bool, becomes: str
) -> None:
    # A page indexed once and later replaced by a stub or an index of links must not keep answering from its old text.
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "Care.html").write_text(PAGE, encoding="utf-8")
    (kb / "Descaling.html").write_text(PAGE.replace("Care", "Descaling"), encoding="utf-8")
    index = InMemoryIndex()
    memo_file = tmp_path / "data" / "parse-memo.json" if memo else None

    def ingest() -> IngestReport:
        return Ingestor(index, HashEmbedder(), Chunker(200, 30), memo_file=memo_file).ingest_paths([kb], kb)

    ingest()
    assert {c.source_id for c in index.chunks()} == {"doc:Care", "doc:Descaling"}

    (kb / "Descaling.html").write_text(TEXINFO_STUB if becomes == "redirect" else texinfo_index(120), encoding="utf-8")
    report = ingest()

    assert {c.source_id for c in index.chunks()} == {"doc:Care"}
    assert report.deleted >= 1
