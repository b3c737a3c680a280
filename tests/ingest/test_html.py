"""HTML manual pages to Markdown that keeps structure: each construct on a real-shaped page written by us.

The pages imitate the markup of the generators manuals come from (Sphinx, mdBook, texinfo, man2html, help
centres); their text is ours.
"""

from __future__ import annotations

import re

import pytest

from deflect.ingest.chunking import Chunker
from deflect.ingest.html import parse_page
from deflect.ingest.sources import NotAnArticle, parse_html, parse_markdown

SPHINX_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>kettle brew &#8212; Kettle 2.1 documentation</title>
<link rel="stylesheet" href="_static/pygments.css"></head>
<body>
<div class="related" role="navigation" aria-label="related navigation"><h3>Navigation</h3><ul>
<li class="right"><a href="genindex.html" title="General Index">index</a></li>
<li class="right"><a href="kettle-pour.html" title="kettle pour">next</a> |</li>
<li class="right"><a href="kettle-fill.html" title="kettle fill">previous</a> |</li>
<li class="nav-item nav-item-0"><a href="index.html">Kettle 2.1 documentation</a> &#187;</li></ul></div>
<div class="document"><div class="documentwrapper"><div class="bodywrapper"><div class="body" role="main">
<section id="kettle-brew"><h1>kettle brew<a class="headerlink" href="#kettle-brew" title="Permalink">¶</a></h1>
<p>Brews a pot. Before the first brew, run <code class="docutils literal notranslate"><span class="pre">kettle</span>
<span class="pre">add</span> <span class="pre">.kettlerc</span></code> once.</p>
<section id="examples"><h2>Examples<a class="headerlink" href="#examples" title="Permalink">¶</a></h2>
<p>A first brew, then a check:</p>
<div class="highlight-console notranslate"><div class="highlight"><pre><span></span><span
class="gp">$ </span>kettle brew --strength 3 ./pot
<span class="go">brewing ./pot (strength 3)</span>
<span class="gp">$ </span>kettle status

<span class="go">    idle</span>
</pre></div></div>
</section>
<section id="options"><h2>Options<a class="headerlink" href="#options" title="Permalink">¶</a></h2>
<dl class="std option">
<dt class="sig sig-object std" id="cmdoption-kettle-brew-strength">
<span class="sig-name descname"><span class="pre">--strength</span></span><span
class="sig-prename descclassname"> <span class="pre">&lt;level&gt;</span></span><a class="headerlink"
href="#cmdoption-kettle-brew-strength" title="Link to this definition">¶</a></dt>
<dd><p>Brew at this strength, from 1 (weak) to 5.</p>
<p>Levels above 3 need a <code class="docutils literal notranslate"><span class="pre">--timer</span></code>.</p>
</dd></dl>
<dl class="std option">
<dt class="sig sig-object std" id="cmdoption-kettle-brew-q"><span class="sig-name descname"><span
class="pre">-q</span></span><span class="sig-prename descclassname"></span></dt>
<dt class="sig sig-object std" id="cmdoption-kettle-brew-quiet"><span class="sig-name descname"><span
class="pre">--quiet</span></span><span class="sig-prename descclassname"></span></dt>
<dd><p>Say nothing while brewing.</p></dd></dl>
</section>
<section id="limits"><h2>Limits</h2>
<table class="docutils align-default"><thead><tr class="row-odd"><th class="head"><p>Pot</p></th>
<th class="head"><p>Most cups</p></th></tr></thead>
<tbody><tr class="row-even"><td><p>small</p></td><td><p>4</p></td></tr>
<tr class="row-odd"><td><p>large | family</p></td><td><p>12</p></td></tr></tbody></table>
</section></section>
<div class="clearer"></div></div></div></div>
<div class="sphinxsidebar" role="navigation" aria-label="main navigation"><div class="sphinxsidebarwrapper">
<h3>Table of Contents</h3><ul><li><a href="#">kettle brew</a></li></ul>
<div id="searchbox" role="search"><h3 id="searchlabel">Quick search</h3><form class="search" action="search.html">
<input type="text" name="q"><input type="submit" value="Go"></form></div></div></div>
<div class="clearer"></div></div>
<div class="footer" role="contentinfo">&#169; Copyright 2026, the Kettle authors. Created using Sphinx.</div>
</body></html>
"""

MDBOOK_PAGE = """<!DOCTYPE HTML><html lang="en"><head><title>Descaling - The Kettle Book</title></head>
<body><div id="body-container">
<nav id="sidebar" class="sidebar" aria-label="Table of contents"><div class="sidebar-scrollbox">
<ol class="chapter"><li class="chapter-item"><a href="intro.html">Introduction</a></li></ol></div></nav>
<div id="page-wrapper" class="page-wrapper"><div class="page">
<div id="menu-bar" class="menu-bar"><h1 class="menu-title">The Kettle Book</h1>
<div class="right-buttons"><a href="print.html" title="Print this book">Print</a></div></div>
<div id="search-wrapper" class="hidden"><form id="searchbar-outer" class="searchbar-outer">
<input type="search" id="searchbar" placeholder="Search this book ..."></form></div>
<div id="content" class="content"><main>
<h1 id="descaling"><a class="header" href="#descaling">Descaling</a></h1>
<p>Descale every month in hard-water areas.</p>
<ol start="3"><li>Empty the kettle.<ol><li>Unplug it first.</li><li>Let it cool.</li></ol></li>
<li>Fill it with the descaler.</li></ol>
<pre><code class="language-toml">[descale]
interval = "30d"
</code></pre>
</main>
<nav class="nav-wrapper" aria-label="Page navigation">
<a rel="prev" href="filling.html" class="mobile-nav-chapters previous" title="Previous chapter">Previous chapter</a>
<a rel="next" href="pouring.html" class="mobile-nav-chapters next" title="Next chapter">Next chapter</a></nav>
</div></div></div></div></body></html>
"""

TEXINFO_PAGE = """<!DOCTYPE html><html><head><title>Invoking kettle (Kettle Manual)</title>
<meta name="description" content="Invoking kettle (Kettle Manual)"></head>
<body lang="en"><div class="chapter-level-extent" id="Invoking">
<div class="nav-panel"><p>Next: <a href="Pouring.html" accesskey="n" rel="next">Pouring</a>, Previous:
<a href="Filling.html" accesskey="p" rel="prev">Filling</a>, Up: <a href="index.html" accesskey="u" rel="up">Top</a>
 &nbsp; [<a href="Concept-Index.html" title="Index" rel="index">Index</a>]</p></div><hr>
<h2 class="chapter" id="Invoking-kettle">2 Invoking kettle</h2>
<dl class="table">
<dt><code class="code">-t <var class="var">minutes</var></code></dt>
<dt><code class="code">--timer=<var class="var">minutes</var></code></dt>
<dd><p>Switch off after <var class="var">minutes</var>.</p></dd>
<dt><samp class="option">--dry</samp></dt><dd><p>Heat without water (not recommended).</p></dd>
</dl>
<div class="example"><pre class="example-preformatted">kettle -t 5
kettle --timer=5
</pre></div>
<hr><div class="nav-panel"><p>Next: <a href="Pouring.html">Pouring</a></p></div></div></body></html>
"""

MAN2HTML_PAGE = """<HTML><HEAD><TITLE>Manpage of KETTLE</TITLE></HEAD><BODY>
<H1>KETTLE</H1>Section: User Commands (1)<BR><A HREF="#index">Index</A><HR>
<A NAME="lbAB">&nbsp;</A><H2>OPTIONS</H2>
<DL COMPACT>
<DT><B>-w</B><DD>Warm only; never boil.
<DT><B>-s</B> <I>size</I><DD>Use a pot of <I>size</I> cups.
</DL>
<HR><A NAME="index">&nbsp;</A><H2>Index</H2><DL><DT><A HREF="#lbAB">OPTIONS</A><DD></DL>
</BODY></HTML>
"""

HELP_CENTRE_PAGE = """<html><head><title>Resetting the kettle | Kettle Help Center</title></head><body>
<header class="site-header"><a href="/">Kettle Help Center</a><form role="search"><input name="q"></form></header>
<nav class="breadcrumbs"><ol><li><a href="/">Help</a></li><li><a href="/kettle">Kettle</a></li></ol></nav>
<main><article><header><h1>Resetting the kettle</h1></header>
<p>Hold <kbd>Power</kbd> for ten seconds.</p>
<table><tr><td>Light</td><td>Meaning</td></tr><tr><td>red</td><td>too hot</td></tr></table>
<div class="article-votes">Was this article helpful? <button>Yes</button><button>No</button></div>
</article></main>
<aside class="related-articles"><h3>Related articles</h3><ul><li>Descaling</li></ul></aside>
<footer class="site-footer">© Kettle Inc. Privacy · Terms</footer></body></html>
"""


def body(html: str) -> str:
    return parse_page(html).body


def lines(html: str) -> list[str]:
    return body(html).splitlines()


# --- code ---------------------------------------------------------------------------------------------------


def test_blank_lines_around_a_code_block_go_and_its_indented_lines_stay() -> None:
    # Yodl pads each example with blank lines, the last one of spaces (zsh's FAQ); our text.
    html = "<body><p>In <code>.kettlerc</code>:</p><pre>\n\n    brew() {\n\n\tkettle on\n    }\n  \n</pre></body>"

    assert "```\n    brew() {\n\n\tkettle on\n    }\n```" in body(html)


def test_a_shell_session_stays_a_fenced_block_with_its_exact_lines() -> None:
    text = body(SPHINX_PAGE)

    session = "$ kettle brew --strength 3 ./pot\nbrewing ./pot (strength 3)\n$ kettle status\n\n    idle"
    assert f"```console\n{session}\n```" in text


def test_a_pre_code_block_keeps_its_language_and_lines() -> None:
    assert '```toml\n[descale]\ninterval = "30d"\n```' in body(MDBOOK_PAGE)
    assert "```\nkettle -t 5\nkettle --timer=5\n```" in body(TEXINFO_PAGE)


def test_a_code_block_containing_a_fence_gets_a_longer_fence() -> None:
    html = "<main><pre>Write:\n```\ncode\n```\n</pre></main>"

    assert "````\nWrite:\n```\ncode\n```\n````" in body(html)


def test_inline_code_is_kept_exactly_as_written() -> None:
    text = body(SPHINX_PAGE)

    assert "run `kettle add .kettlerc` once." in text  # no "kettle add.kettlerc"
    assert "need a `--timer`." in text
    assert "Hold `Power` for ten seconds." in body(HELP_CENTRE_PAGE)


@pytest.mark.parametrize(
    ("code", "expected"),
    [("git add .gitignore", "`git add .gitignore`"), ("a ( b ) , c", "`a ( b ) , c`"), ("x`y", "`` x`y ``")],
    ids=["space-before-dot", "spaces-around-punctuation", "backtick-inside"],
)
def test_inline_code_text_is_not_normalised(code: str, expected: str) -> None:
    assert expected in body(f"<main><p>Type <code>{code}</code> now.</p></main>")


# --- definition lists ---------------------------------------------------------------------------------------


def test_a_sphinx_option_keeps_its_term_with_its_description() -> None:
    text = body(SPHINX_PAGE)

    assert "- **`--strength <level>`**: Brew at this strength, from 1 (weak) to 5." in text
    # The second paragraph continues the same list item.
    assert "- **`--strength <level>`**: Brew at this strength, from 1 (weak) to 5.\n\n  Levels above 3" in text
    assert "- **`-q`, `--quiet`**: Say nothing while brewing." in text


def test_a_field_list_name_keeps_one_colon() -> None:
    # Sphinx and docutils end a field name with <span class="colon">:</span>; the item adds its own.
    html = (
        '<main><dl class="field-list simple"><dt class="field-odd">Default<span class="colon">:</span></dt>'
        '<dd class="field-odd"><p>medium</p></dd></dl></main>'
    )

    assert "- **Default**: medium" in lines(html)


def test_a_docutils_code_block_keeps_its_language() -> None:
    assert "```bash\nbrew --now\n```" in body('<main><pre class="code bash literal-block">brew --now</pre></main>')


def test_texinfo_and_man_page_options_keep_term_and_description() -> None:
    assert "- **`-t minutes`, `--timer=minutes`**: Switch off after minutes." in lines(TEXINFO_PAGE)
    assert "- **`--dry`**: Heat without water (not recommended)." in lines(TEXINFO_PAGE)
    man = lines(MAN2HTML_PAGE)
    assert "- **-w**: Warm only; never boil." in man
    assert "- **-s *size***: Use a pot of *size* cups." in man


def test_a_description_opening_with_a_code_block_starts_on_its_own_line() -> None:
    html = "<main><dl><dt>Example</dt><dd><pre>kettle brew\n</pre></dd></dl></main>"

    assert "- **Example**:\n  ```\n  kettle brew\n  ```" in body(html)


# --- tables and lists ---------------------------------------------------------------------------------------


def test_a_table_becomes_a_pipe_table_with_its_header_row() -> None:
    text = body(SPHINX_PAGE)

    assert "| Pot | Most cups |\n| --- | --- |\n| small | 4 |\n| large \\| family | 12 |" in text


def test_a_table_without_th_uses_its_first_row_as_header() -> None:
    assert "| Light | Meaning |\n| --- | --- |\n| red | too hot |" in body(HELP_CENTRE_PAGE)


def test_numbered_and_nested_lists_keep_numbers_and_nesting() -> None:
    text = body(MDBOOK_PAGE)

    assert "3. Empty the kettle.\n   1. Unplug it first.\n   2. Let it cool.\n4. Fill it with the descaler." in text


# --- chrome -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("page", "chrome"),
    [
        (SPHINX_PAGE, ["¶", "Navigation", "previous", "next", "Quick search", "Table of Contents", "Copyright"]),
        (MDBOOK_PAGE, ["Introduction", "Print", "Search this book", "Previous chapter", "Next chapter"]),
        (TEXINFO_PAGE, ["Next:", "Previous:", "Up:", "Index"]),
        (HELP_CENTRE_PAGE, ["Kettle Help Center", "Help\n", "Related articles", "helpful", "Privacy"]),
    ],
    ids=["sphinx", "mdbook", "texinfo", "help-centre"],
)
def test_navigation_headers_footers_and_permalinks_are_stripped(page: str, chrome: list[str]) -> None:
    text = body(page)

    assert [c for c in chrome if re.search(re.escape(c), text)] == []


# Texinfo 6's split HTML (texi2any): a navigation table above every section and a menu table of the chapter's
# sections; our text.
TEXINFO6_PAGE = """<html><head><title>4 Care (Kettle Manual)</title></head><body lang="en">
<div class="chapter" id="Care">
<table class="header" cellpadding="1" cellspacing="1" border="0"><tr>
<td valign="middle" align="left">[<a href="Pouring.html#Pouring" title="Beginning of this chapter"> &lt;&lt; </a>]</td>
<td valign="middle" align="left">[<a href="Pouring.html#Spills" title="Previous section"> &lt; </a>]</td>
<td valign="middle" align="left">[<a href="index.html" title="Up section"> Up </a>]</td>
<td valign="middle" align="left"> &nbsp; </td>
<td valign="middle" align="left">[<a href="index.html" title="Cover (top) of document">Top</a>]</td>
<td valign="middle" align="left">[<a href="kettle_toc.html#SEC_Contents" title="Table of contents">Contents</a>]</td>
<td valign="middle" align="left">[<a href="kettle_abt.html#SEC_About" title="About (help)"> ? </a>]</td>
</tr></table>
<h1 class="chapter">4 Care</h1>
<table class="menu" border="0" cellspacing="0">
<tr><td align="left" valign="top"><a href="#Descaling">4.1 Descaling</a></td><td>&nbsp;&nbsp;</td><td></td></tr>
<tr><td align="left" valign="top"><a href="#Storing">4.2 Storing</a></td><td>&nbsp;&nbsp;</td><td></td></tr>
<tr><th colspan="3" align="left" valign="top"><pre class="menu-comment">Other</pre></th></tr>
<tr><td align="left" valign="top"><a href="#Recycling">4.3 Recycling the old kettle</a></td><td></td><td></td></tr>
</table>
<div class="section" id="Descaling"><h2 class="section">4.1 Descaling</h2>
<p>Run <code>kettle descale</code> once a month.</p></div></div></body></html>
"""
# Yodl's chapter pages (an FAQ): the same three links above and below each chapter; our text.
YODL_PAGE = """<html><head><title> Kettle Frequently-Asked Questions </title></head><body>
<hr><ul>
    <li> <a href="FAQ.html">Table of Contents</a>
    <li> <a href="FAQ02.html">Previous Chapter</a>
    <li> <a href="FAQ04.html">Next Chapter</a>
</ul><hr>
<h1>Chapter 3: Getting things to work</h1>
<h2>3.1: Why does the kettle click twice?</h2><p>The thermostat settles; see <a href="FAQ02.html">2.1</a>.</p>
<hr><ul><li> <a href="FAQ.html">Table of Contents</a><li> <a href="FAQ02.html">Previous Chapter</a></ul>
</body></html>
"""


@pytest.mark.parametrize(
    ("page", "chrome"),
    [
        (TEXINFO6_PAGE, ["<<", "[", "Up", "Top", "Contents", "4.2 Storing", "Recycling", "Other"]),
        (YODL_PAGE, ["Table of Contents", "Previous Chapter", "Next Chapter"]),
    ],
    ids=["texinfo-6", "yodl"],
)
def test_link_bars_and_menu_tables_are_stripped_and_the_content_stays(page: str, chrome: list[str]) -> None:
    text = body(page)

    assert [c for c in chrome if c in text] == []
    assert "`kettle descale` once a month" in text or "thermostat settles; see 2.1" in text


@pytest.mark.parametrize(
    "html",
    [
        # Links to topics (plugins, monitor commands) are content, whatever else the list holds.
        '<main><p>Plugin managers:</p><ul><li><a href="a">Brewer</a></li><li><a href="b">Steeper</a></li></ul></main>',
        # A bar with a link to a topic is not only navigation.
        '<main><ul><li><a href="a">Previous</a></li><li><a href="b">Descaling the kettle</a></li></ul></main>',
        # Text outside the links: a sentence, not a bar.
        '<main><p>x</p><ul><li>Go <a href="a">up</a> and <a href="b">back</a> when done</li></ul></main>',
        # A table named like chrome that holds prose, and a menu whose entries are described.
        '<main><table class="header"><tr><td><a href="a">Index</a></td><td>lists every term</td></tr></table></main>',
        '<main><table class="menu"><tr><td><a href="#d">Descaling</a></td><td>Removing the white crust '
        'from the element, monthly</td></tr><tr><td><a href="#s">Storing</a></td><td>Keeping it dry</td></tr>'
        "</table></main>",
    ],
    ids=["topic-links", "mixed-bar", "sentence", "named-table-with-prose", "described-menu"],
)
def test_lists_and_tables_of_links_that_say_something_stay(html: str) -> None:
    link_texts = re.findall(r">([^<>]+)</a>", html)

    assert all(t in body(html) for t in link_texts)


def test_stripping_chrome_keeps_every_heading_of_the_content() -> None:
    headings = [line for line in lines(SPHINX_PAGE) if line.startswith("#")]

    # Section ids ride along as Pandoc heading attributes, so a citation can open the heading.
    assert headings == [
        "# kettle brew {#kettle-brew}",
        "## Examples {#examples}",
        "## Options {#options}",
        "## Limits {#limits}",
    ]
    assert lines(HELP_CENTRE_PAGE)[0] == "# Resetting the kettle"  # an article's own <header> holds its H1
    assert "# Descaling {#descaling}" in lines(MDBOOK_PAGE)
    assert "## 2 Invoking kettle {#Invoking-kettle}" in lines(TEXINFO_PAGE)


@pytest.mark.parametrize(
    ("html", "heading"),
    [
        # DocBook: the anchor opens the heading.
        (
            '<body><div class="titlepage"><h2 class="title"><a name="care.descale"></a>4.1. Descaling</h2></div>'
            "<p>Monthly.</p></body>",
            "## 4.1. Descaling {#care.descale}",
        ),
        # SQLite: the anchor just before the heading.
        (
            '<body><p>x</p><hr /><a name="descale"></a>\n<h2>Descaling</h2><p>Monthly.</p></body>',
            "## Descaling {#descale}",
        ),
        # yodl: the anchor alone in an unclosed paragraph before the heading.
        (
            '<body><h1>Care</h1>\n<p>\n<a name="l19"></a>\n<h2 >4.1: Why descale?</h2><p>Scale.</p></body>',
            "## 4.1: Why descale? {#l19}",
        ),
        # man2html: a named anchor holding a no-break space.
        ('<BODY><A NAME="lbAB">&nbsp;</A><H2>OPTIONS</H2><P>None.</P></BODY>', "## OPTIONS {#lbAB}"),
        # Text before the heading is not its anchor, whatever it holds.
        ('<body><p>See <a name="fig1">figure 1</a>.</p><h2>Descaling</h2><p>Monthly.</p></body>', "## Descaling"),
    ],
    ids=["docbook-inside", "sqlite-before", "yodl-paragraph", "man2html-nbsp", "text-before"],
)
def test_a_heading_takes_the_named_anchor_that_opens_it(html: str, heading: str) -> None:
    assert heading in lines(html)


def test_titles_come_from_the_first_heading_and_the_title_tag() -> None:
    page = parse_page(SPHINX_PAGE)

    assert page.h1 == "kettle brew"
    assert page.title_tag == "kettle brew — Kettle 2.1 documentation"


def test_deeply_nested_unclosed_lists_convert_quickly_and_completely() -> None:
    items = "".join(f"<DT><B>-{i}</B><DD>Option number {i}." for i in range(600))
    text = body(f"<HTML><BODY><H2>OPTIONS</H2><DL COMPACT>{items}</DL></BODY></HTML>")

    assert "- **-0**: Option number 0." in text
    assert "- **-599**: Option number 599." in text


def test_a_table_whose_first_row_is_a_group_label_gets_an_empty_header_row() -> None:
    html = (
        "<main><table><tr><td><strong>options</strong></td><td></td></tr>"
        "<tr><td><code>-n</code></td><td>do nothing</td></tr></table></main>"
    )

    assert "|  |  |\n| --- | --- |\n| **options** |  |\n| `-n` | do nothing |" in body(html)


def test_blank_lines_inside_a_code_block_stay_as_they_are() -> None:
    assert "```\nfirst\n\n\n\nlast\n```" in body("<main><pre>first\n\n\n\nlast</pre></main>")


def test_an_xhtml_export_with_an_xml_prologue_parses_as_html_without_warnings() -> None:
    xhtml = (
        '<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE html>\n<html xmlns="http://www.w3.org/1999/xhtml">'
        "<head><title>Kettle</title></head><body><h1>Kettle</h1><p>Use <code>kettle on</code>.</p></body></html>"
    )

    assert body(xhtml) == "# Kettle\n\nUse `kettle on`.\n"


DOCBOOK_FAQ = """<html><head><title>Kettle Frequently Asked Questions</title></head><body>
<div class="book"><div class="titlepage"><h1 class="title">Kettle Frequently Asked Questions</h1></div>
<div class="qandaset"><dl><dt>1. <a href="#faq.basics">Basics</a></dt>
<dd>1.1. <a href="#faq.descale">How do I descale the kettle?</a></dd></dl>
<table width="100%" summary="Q and A Div" cellpadding="2" cellspacing="2" border="0">
<tr class="qandadiv"><td align="left" valign="top" colspan="2">
<a name="faq.basics"></a><h3 class="title"><a name="faq.basics"></a>1. Basics</h3></td></tr>
<tr class="toc" colspan="2"><td align="left" valign="top" colspan="2">1.1. <a href="#faq.descale">How do I
descale the kettle?</a><br></td></tr>
<tr><td colspan="2"> </td></tr>
<tr class="question"><td align="left" valign="top"><a name="faq.descale"></a><b>1.1.</b></td>
<td align="left" valign="top"><b>How do I descale the kettle?</b></td></tr>
<tr class="answer"><td align="left" valign="top"><a name="a-descale"></a></td>
<td align="left" valign="top"><p>Boil half a litre of water with two spoons of citric acid.</p>
<pre class="screen">kettle descale --acid citric</pre><p>Rinse twice afterwards.</p></td></tr>
<tr><td colspan="2"> </td></tr>
<tr class="question"><td align="left" valign="top"><a name="faq.noise"></a><b>1.2.</b></td>
<td align="left" valign="top"><b>Why does my kettle print this?</b>
<pre class="screen">E42: element too hot</pre></td></tr>
<tr class="answer"><td align="left" valign="top"></td>
<td align="left" valign="top"><p>Scale on the element. See the question above.</p></td></tr>
</table></div></div></body></html>"""


def test_a_docbook_faq_table_becomes_one_heading_per_question_with_its_answer_below() -> None:
    body = parse_page(DOCBOOK_FAQ).body

    assert "|" not in body  # no pipe table of run-on answers
    assert "### 1. Basics" in body
    descale = body.index("#### How do I descale the kettle? {#faq.descale}")
    noise = body.index("#### Why does my kettle print this? {#faq.noise}\n\n```\nE42: element too hot\n```")
    answer = body[descale:noise]
    assert "Boil half a litre of water with two spoons of citric acid." in answer
    assert "```\nkettle descale --acid citric\n```" in answer
    assert "Rinse twice afterwards." in answer
    assert body.count("How do I descale the kettle?") == 1  # the FAQ's own list of questions is not kept


def test_a_docbook_navigation_table_is_dropped() -> None:
    page = DOCBOOK_FAQ.replace(
        "<body>",
        '<body><div><table class="nav" width="100%" summary="Navigation header"><tr>'
        '<td><a accesskey="p" href="a.html">Prev</a></td><th align="center">Kettle FAQ</th>'
        '<td><a accesskey="n" href="b.html">Next</a></td></tr></table></div>',
    )

    body = parse_page(page).body

    assert "Prev" not in body and "Next" not in body and "Kettle FAQ" not in body


PANDOC_MAN_PAGE = """<!DOCTYPE html>
<html><head><meta name="generator" content="pandoc" /><title>kettle-brew(1) Kettle 2.1</title></head>
<body>
<header id="title-block-header">
<h1 class="title">kettle-brew(1) Kettle 2.1</h1>
<p class="author">Ada Example <a href="mailto:ada@example.org" class="email">ada@example.org</a></p>
<p class="date">2025-01-01</p>
</header>
<h1 id="name">NAME</h1>
<p>kettle-brew - brew a pot of tea with the <code>--strong</code> option when needed</p>
<h1 id="synopsis">SYNOPSIS</h1>
<p>kettle brew [--strong] <em>pot</em></p>
</body></html>"""


def test_a_pandoc_title_block_keeps_its_title_but_not_its_author_and_date() -> None:
    doc = parse_html(PANDOC_MAN_PAGE.replace("NAME", "SUMMARY"), "kettle-brew.1.html", "sig")

    assert doc.title == "kettle-brew(1) Kettle 2.1"
    assert "Ada Example" not in doc.body and "2025-01-01" not in doc.body
    # What is left of the title block is the H1 that repeats the title: no chunk of its own, no heading path.
    assert [c.heading_path for c in Chunker(200, 30).chunk(doc)] == ["SUMMARY", "SYNOPSIS"]


DOCBOOK_BOOK_PAGE = """<!DOCTYPE html>
<html><head><meta name="generator" content="DocBook XSL Stylesheets"><title>Kettle Guide</title></head>
<body><div class="book"><div class="titlepage"><div>
<div><h1 class="title"><a name="guide"></a>Kettle Guide</h1></div>
<div><h2 class="subtitle">Brewing with a kettle</h2></div>
<div><div class="author"><h3 class="author">Ada Example</h3></div></div>
<div><p class="releaseinfo">Release 2.1 01 Jan 2025</p></div>
<div><p class="copyright">Copyright &#169; 2020-2025
<a class="ulink" href="https://example.org">Kettle makers</a></p></div>
<div><div class="legalnotice"><a name="guide-legal"></a>
<p>Email: <a href="mailto:ada@example.org">ada@example.org</a></p></div></div>
<div><div class="abstract"><p>This guide shows how to brew a pot with <code>kettle brew</code>.</p></div></div>
</div><hr></div>
<div class="chapter"><div class="titlepage"><div><div><h2 class="title"><a name="guide.start"></a>1. Starting</h2>
</div></div></div>
<p>Fill the kettle first.</p></div>
</div></body></html>"""


def test_a_docbook_title_page_keeps_its_title_and_abstract_but_not_its_release_copyright_and_authors() -> None:
    doc = parse_html(DOCBOOK_BOOK_PAGE, "guide.html", "sig")

    assert doc.title == "Kettle Guide"
    for metadata in ("Release 2.1", "Copyright", "Kettle makers", "ada@example.org", "Ada Example"):
        assert metadata not in doc.body
    assert "Brewing with a kettle" in doc.body  # a subtitle says what the book is about
    assert "how to brew a pot with `kettle brew`" in doc.body
    assert "1. Starting" in doc.body and "Fill the kettle first." in doc.body


def test_a_docbook_cover_page_of_nothing_but_title_page_metadata_has_no_text_to_index() -> None:
    # A book's cover page: its title page and a table of contents (chrome). Its metadata was one chunk that embedded
    # as the book's title and matched any question naming the program.
    cover = re.sub(
        r'<div><div class="abstract">.*?</div></div>|<div class="chapter">.*?</div></div></div>\n<p>.*?</p></div>',
        "",
        DOCBOOK_BOOK_PAGE,
        flags=re.S,
    )

    with pytest.raises(NotAnArticle, match="no text besides headings"):
        parse_html(cover, "guide.html", "sig")


def test_a_man_page_is_titled_by_its_name_line_which_then_has_no_chunk_of_its_own() -> None:
    # "kettle-brew(1) Kettle 2.1" says nothing a question asks about; the NAME line says what the command does.
    doc = parse_html(PANDOC_MAN_PAGE, "kettle-brew.1.html", "sig")

    assert doc.title == "kettle-brew - brew a pot of tea with the --strong option when needed"
    assert "title: man page NAME line" in doc.inferred
    chunks = Chunker(200, 30).chunk(doc)
    assert [c.heading_path for c in chunks] == ["SYNOPSIS"]
    assert chunks[0].embed_text.startswith(doc.title)


def test_a_stated_title_keeps_the_name_section_and_other_pages_keep_their_name_headings() -> None:
    stated = PANDOC_MAN_PAGE.replace("<head>", '<head><meta name="title" content="Brewing" />')
    not_a_name_line = PANDOC_MAN_PAGE.replace("kettle-brew - brew", "Brewing explained: brew")

    assert "# NAME" in parse_html(stated, "kettle-brew.1.html", "sig").body
    doc = parse_html(not_a_name_line, "kettle-brew.1.html", "sig")
    assert doc.title == "kettle-brew(1) Kettle 2.1"
    assert "Brewing explained: brew" in doc.body


def test_a_docbook_faq_table_inside_markdown_is_unwrapped_as_in_an_html_page() -> None:
    # A Markdown article may paste a DocBook FAQ's table as raw HTML; it must not become a pipe table either.
    table = DOCBOOK_FAQ[DOCBOOK_FAQ.index("<table") : DOCBOOK_FAQ.index("</table>") + len("</table>")]

    body = parse_markdown(f"# Kettle FAQ\n\n{table}\n\nMore questions go to the forum.\n", "faq.md", "sig").body

    assert "|" not in body
    assert "#### How do I descale the kettle? {#faq.descale}" in body
    assert "```\nkettle descale --acid citric\n```" in body
    assert body.rstrip().endswith("More questions go to the forum.")


SPHINX_ADMONITIONS = """<html><head><title>kettle logging</title></head><body><div class="body" role="main">
<section id="logging"><h1>kettle logging</h1>
<p>Kettle logs to standard error.</p>
<div class="admonition warning">
<p class="admonition-title">Warning</p>
<p>Options <code class="docutils literal notranslate"><span class="pre">--quiet</span></code> and
<code class="docutils literal notranslate"><span class="pre">--silent</span></code> hide the boil alarm.</p>
<p>Use them only when someone watches the kettle.</p>
</div>
<div class="admonition note">
<p class="admonition-title">Note</p>
<div class="highlight-console notranslate"><div class="highlight"><pre>$ kettle log --tail</pre></div></div>
</div>
</section></div></body></html>
"""


def test_a_sphinx_admonition_label_leads_the_paragraph_it_labels() -> None:
    body = parse_page(SPHINX_ADMONITIONS).body

    assert "**Warning:** Options `--quiet` and `--silent` hide the boil alarm." in body
    assert "\nWarning\n" not in f"\n{body}\n"
    assert "Use them only when someone watches the kettle." in body  # the note's other paragraphs stay


def test_an_admonition_label_before_code_stays_with_the_code_it_introduces() -> None:
    body = parse_page(SPHINX_ADMONITIONS).body

    assert "**Note:**\n\n```" in body and "$ kettle log --tail" in body
    doc = parse_html(SPHINX_ADMONITIONS, "kettle-logging.html", "sig")
    chunks = Chunker(30, 5).chunk(doc)
    holder = next(c for c in chunks if "**Note:**" in c.quotable)
    assert "kettle log --tail" in holder.quotable  # a label ending in a colon is never left at a chunk's end


DOCBOOK_TEXT_FILE = """<html><head><title>3. README_BREWERS</title></head><body><div class="chapter">
<div class="titlepage"><h1 class="title"><a name="readme"></a>3. README_BREWERS</h1></div>
<div class="literallayout"><p><br>
Brewing&nbsp;without&nbsp;installing<br>
~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~<br>
Set KETTLE_HOME to the source tree, which must be an absolute<br>
path, then start the kettle in place. Eg:<br>
<br>
&nbsp;&nbsp;KETTLE_HOME=/srv/kettle ./kettle brew --strong<br>
<br>
Cleaning up<br>
~~~~~~~~~~~<br>
(1) Empty the pot<br>
&nbsp;&nbsp;&nbsp;&nbsp;into the sink.<br>
(2) Rinse it.<br>
<br>
Old notes<br>
=========<br>
Nothing here yet.<br>
</p></div></div></body></html>"""


def test_a_docbook_plain_text_file_keeps_its_headings_code_and_paragraphs() -> None:
    body = parse_page(DOCBOOK_TEXT_FILE).body

    assert "## Brewing without installing" in body  # an underlined line is a heading, the underline is gone
    assert "## Cleaning up" in body and "### Old notes" in body  # levels by the order the characters appear
    assert "~~~" not in body and "===" not in body
    assert "```\nKETTLE_HOME=/srv/kettle ./kettle brew --strong\n```" in body  # deeper-indented: code, verbatim
    assert (
        "Set KETTLE_HOME to the source tree, which must be an absolute path, then start the kettle in place. Eg:"
        in body
    )
    assert "(1) Empty the pot into the sink.\n\n(2) Rinse it." in body  # each item its own paragraph, lines joined


def test_a_plain_text_underline_never_opens_a_code_fence_that_swallows_the_page() -> None:
    chunks = Chunker(200, 30).chunk(parse_html(DOCBOOK_TEXT_FILE, "readme.html", "sig"))

    paths = [c.heading_path for c in chunks]
    assert any(p.endswith("Cleaning up") for p in paths) and any(p.endswith("Old notes") for p in paths)
    assert all("```" not in c.text or "KETTLE_HOME=" in c.text for c in chunks)


def test_a_label_whose_figure_was_dropped_goes_with_it_and_a_label_before_content_stays() -> None:
    # SQLite's statement pages: one bold label per syntax diagram (an SVG, dropped), then the prose.
    html = (
        "<main><h1>1. Overview</h1>"
        "<p><b><a href='syntax/attach-stmt.html'>attach-stmt:</a></b><button>hide</button></p>"
        "<div class='imgcontainer'><svg><text>ATTACH</text><text>DATABASE</text></svg>"
        # The diagrams of a statement's parts sit inside its own diagram's container.
        "<p><b>expr:</b></p><div><img src='expr.gif'></div></div>"
        "<p>The ATTACH statement adds another database file to the connection.</p>"
        "<p><strong>Example:</strong></p><pre>ATTACH 'other.db' AS other;</pre>"
        "<p><b>Note:</b></p><p>Attached files share the connection's limits.</p>"
        "<p><b>See also:</b></p></main>"
    )

    text = body(html)

    assert "attach-stmt" not in text and "expr:" not in text and "See also" not in text
    assert "The ATTACH statement adds another database file" in text
    assert "**Example:**\n\n```\nATTACH 'other.db' AS other;\n```" in text
    assert "**Note:**" in text and "Attached files share" in text
