"""Links to other pages of the KB are kept at parse time (target, fragment, text, sentence); the body is untouched.

The pages are shaped like a generated HTML manual (a menu outside `<nav>`, named anchors before headings, a Sphinx
`<section id>`) and like the sample kb's Markdown articles, for a made-up `frob` tool.
"""

from __future__ import annotations

from pathlib import Path

from deflect.ingest.chunking import Chunker
from deflect.ingest.html import parse_page
from deflect.ingest.links import markdown_links, navigation
from deflect.ingest.memo import ParseMemo
from deflect.ingest.sources import parse_html, parse_markdown, parse_paths

MENU = "<div class='menu'><a href='index.html'>Home</a> <a href='download.html'>Download</a></div>"


def page(body: str, menu: str = MENU) -> str:
    return f"<html><head><title>Frob</title></head><body><div class='body'>{menu}{body}</div></body></html>"


LOCKING = page(
    """<h1>Locking</h1>
<p>Frob waits for a lock. You can change how long from a script with the
<a href="api/timeout.html#set">frob_set_timeout()</a> call. See also <a href="https://example.org/x">elsewhere</a>,
<a href="mailto:help@frob.example">mail us</a> and <a href="#retry">retrying</a>.</p>
<a name="retry"></a><h2>Retrying</h2>
<p id="p-retry">A busy <a href="../img/lock.png">diagram</a> retries.</p>
<h2>Notes</h2>
<p id="in-notes">Nothing else. <a href="config.html">Configuration</a></p>"""
)


def test_a_link_to_another_page_keeps_target_fragment_text_and_sentence() -> None:
    doc = parse_html(LOCKING, "guide/locking.html", "sig")
    kept = {(k.target, k.fragment, k.text) for k in doc.links}
    assert ("doc:guide/api/timeout", "set", "frob_set_timeout()") in kept
    link = next(k for k in doc.links if k.text == "frob_set_timeout()")
    assert link.sentence == "You can change how long from a script with the frob_set_timeout() call."
    assert ("doc:guide/config", "", "Configuration") in kept


def test_external_mail_same_page_and_non_article_links_are_dropped() -> None:
    texts = {k.text for k in parse_html(LOCKING, "guide/locking.html", "sig").links}
    assert not texts & {"elsewhere", "mail us", "retrying", "diagram"}


def test_reading_links_leaves_the_body_as_the_conversion_writes_it() -> None:
    body = parse_page(LOCKING).body
    assert "frob_set_timeout()" in body and "(api/timeout.html" not in body
    assert parse_html(LOCKING, "guide/locking.html", "sig").body == body.strip()


def test_every_id_maps_to_the_heading_id_of_its_section() -> None:
    fragments = dict(parse_page(LOCKING).fragments)
    # An empty named anchor just before a heading is that heading's; an id in its section lands there too.
    assert fragments["retry"] == "retry"
    assert fragments["p-retry"] == "retry"
    # A section whose heading has no id is named by its words.
    assert fragments["in-notes"] == "\x00notes"


def test_an_anchor_swallowed_by_the_paragraph_before_an_unnamed_heading_is_that_headings() -> None:
    # lxml keeps an unclosed <p> open over `<a name>`, so the heading has no id in the body (SQLite's result codes).
    html = page(
        "<h1 id='codes'>Result codes</h1><p>Each code in turn.\n<a name='busy'></a><h3>(5) FROB_BUSY</h3>"
        "<p>The database is busy.</p><h3 id='_odd'>(6) FROB_LOCKED</h3><p id='locked-text'>Locked.</p>",
        menu="",
    )
    doc = parse_html(html, "codes.html", "sig")
    chunks = Chunker(200, 0).chunk(doc)
    by_heading = {c.heading_path: c.fragments for c in chunks}
    assert "busy" in by_heading["(5) FROB_BUSY"]
    # An id the body's headings do not take (`_odd`) still names its section, by the heading's words.
    assert set(by_heading["(6) FROB_LOCKED"]) == {"_odd", "locked-text"}


def test_a_link_to_a_heading_with_no_text_of_its_own_lands_on_the_section_after_it() -> None:
    html = page("<h1 id='guide'>Guide</h1><h2 id='start'>Start</h2><p>Run frob.</p>", menu="")
    chunks = Chunker(200, 0).chunk(parse_html(html, "guide.html", "sig"))
    assert {"", "guide", "start"} <= set(chunks[0].fragments)


def test_a_sphinx_section_id_and_a_label_before_it_belong_to_its_heading() -> None:
    html = page(
        "<section id='intro'><h1>Intro</h1><p>Start.</p><span id='opts-label'></span>"
        "<section id='options'><h2>Options</h2><dl><dt id='cmdoption-v'>-v</dt><dd>Verbose.</dd></dl>"
        "</section></section>",
        menu="",
    )
    fragments = dict(parse_page(html).fragments)
    assert fragments["intro"] == "intro"
    assert fragments["opts-label"] == "options"
    assert fragments["cmdoption-v"] == "options"


def test_chunks_say_which_fragments_land_on_their_section() -> None:
    doc = parse_html(LOCKING, "guide/locking.html", "sig")
    chunks = Chunker(200, 0).chunk(doc)
    by_heading = {c.heading_path: c.fragments for c in chunks}
    first = chunks[0]
    assert "" in first.fragments  # a link without a fragment lands on the page's first section
    assert set(by_heading["Retrying"]) == {"retry", "p-retry"}
    assert by_heading["Notes"] == ("in-notes",)
    assert all("" not in c.fragments for c in chunks[1:] if c.heading_path != first.heading_path)


def test_a_pair_on_half_a_folders_pages_is_navigation_and_dropped(tmp_path: Path) -> None:
    for name in ("a", "b", "c", "d"):
        extra = "<p>Tune it with <a href='config.html'>the settings</a> first.</p>" if name == "a" else ""
        (tmp_path / f"{name}.html").write_text(page(f"<h1>Page {name}</h1><p>About {name}.</p>{extra}"))
    parsed = parse_paths([tmp_path], tmp_path, "sig")
    links = {d.source_id: {k.text for k in d.links} for d in parsed.docs}
    assert links["doc:a"] == {"the settings"}
    assert all(not links[f"doc:{n}"] for n in "bcd")  # the menu (Home, Download) is on every page


def test_navigation_counts_per_folder_and_needs_three_pages() -> None:
    assert navigation({"a.html": frozenset({"x"}), "b.html": frozenset({"x"})}) == {}
    pages = {f"{n}.html": frozenset({"x"}) for n in "abc"} | {"sub/d.html": frozenset({"x"})}
    assert navigation(pages) == {"": frozenset({"x"})}


def test_navigation_is_counted_on_pages_the_memo_does_not_parse(tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    kb.mkdir()
    for name in "abcd":
        (kb / f"{name}.html").write_text(page(f"<h1>Page {name}</h1><p>About {name}.</p>"))
    memo = tmp_path / "memo.json"
    first = ParseMemo(memo, kb, "sig")
    parse_paths([kb], kb, "sig", memo=first)
    first.save()
    (kb / "a.html").write_text(page("<h1>Page a</h1><p>About a, changed.</p>"))
    again = parse_paths([kb], kb, "sig", memo=ParseMemo(memo, kb, "sig"))
    assert [d.source_id for d in again.docs] == ["doc:a"] and len(again.known) == 3
    assert not again.docs[0].links  # the menu is still navigation: the three unparsed pages were counted
    assert all(k.navigation for k in again.known)


def test_markdown_links_by_url_of_the_same_site_or_by_relative_path() -> None:
    text = """---
title: Rate limits
url: https://help.frob.example/api/rate-limits
---
Each key has a budget. See [Webhooks](https://help.frob.example/api/webhooks#retries) before polling.
Read [the blog](https://blog.example.org/post), [this page](https://help.frob.example/api/rate-limits/) or
[keys](keys.md).

```
[not a link](https://help.frob.example/api/code)
```
"""
    doc = parse_markdown(text, "api/rate-limits.md", "sig")
    kept = {(k.target, k.fragment, k.text) for k in doc.links}
    assert kept == {
        ("https://help.frob.example/api/webhooks", "retries", "Webhooks"),
        ("doc:api/keys", "", "keys"),
    }
    webhooks = next(k for k in doc.links if k.text == "Webhooks")
    assert webhooks.sentence == "See Webhooks before polling."


def test_markdown_without_a_url_keeps_only_relative_links() -> None:
    found = markdown_links("Go to [setup](https://help.frob.example/setup) or [keys](../keys.md).\n")
    assert [k.href for k in found] == ["https://help.frob.example/setup", "../keys.md"]
    text = "# Keys\n\nGo to [setup](https://help.frob.example/setup) or [keys](../keys.md).\n"
    doc = parse_markdown(text, "a/b.md", "s")
    assert [(k.target, k.text) for k in doc.links] == [("doc:keys", "keys")]


def test_a_changed_link_target_changes_the_content_hash_not_the_body() -> None:
    other = LOCKING.replace("config.html", "settings.html")
    a, b = parse_html(LOCKING, "guide/locking.html", "sig"), parse_html(other, "guide/locking.html", "sig")
    assert a.body == b.body and a.content_hash != b.content_hash
