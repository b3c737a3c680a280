"""Moved pages' stubs (a refresh to another page) are skipped, with a reason; pages read where they are stay.

The stubs imitate texinfo's per-node redirection files, SQLite's renamed page and a reST page that has moved
(Sphinx sites); their text is ours.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from deflect.ingest.redirects import redirect_target
from deflect.ingest.sources import parse_paths

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
        (REST_STUB, ".rst", "installing.rst", "../getting-started/"),
        (MYST_STUB, ".md", "old.md", "brew.html"),
    ],
    ids=["texinfo", "bare-url", "single-quoted", "rest-meta", "myst-meta"],
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
    ids=["plain-page", "reload", "reload-self-anchor", "quoted-in-body", "rest-example-in-code", "rest-field-alone"],
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
