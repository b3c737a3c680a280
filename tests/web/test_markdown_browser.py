"""src/deflect/web/static/markdown.js in the browser: Markdown answers (code fences, lists, tables, emphasis,
links, citation markers) rendered as DOM nodes, and hostile source text that never becomes live HTML."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from tests.web.conftest import Live

pytestmark = pytest.mark.browser

RENDER = """async (text) => {
    const m = await import('/static/deflect/markdown.js');
    const box = document.createElement('div');
    box.id = 'md-probe';
    box.append(m.renderMarkdown(text, { cite: (n) => { const s = document.createElement('sup');
        s.className = 'cite'; s.textContent = `[${n}]`; return s; } }));
    document.body.append(box);
    return box.innerHTML;
}"""

HOSTILE = [
    '<img src=x onerror="window.__pwned=1">',
    "<script>window.__pwned=2</script>",
    '<a href="javascript:window.__pwned=3">click</a>',
    "[click me](javascript:window.__pwned=4)",
    "[data](data:text/html,<script>window.__pwned=5</script>)",
    '<svg onload="window.__pwned=6"></svg>',
    '<iframe srcdoc="<script>parent.__pwned=7</script>"></iframe>',
    "**bold <img src=x onerror=window.__pwned=8>**",
    "| a | b |\n|---|---|\n| <img src=x onerror=window.__pwned=9> | `<script>` |",
    "```html\n<script>window.__pwned=10</script>\n```",
]


@pytest.fixture(scope="module")
def blank(browser: Any, live: Live) -> Iterator[Any]:
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{live.deflect}/panel")  # a page of deflect's origin, under the panel's CSP
    page.wait_for_selector("body[data-ready='1']")
    yield page
    context.close()


def render(page: Any, text: str) -> Any:
    page.evaluate("() => document.getElementById('md-probe')?.remove()")
    page.evaluate(RENDER, text)
    return page.locator("#md-probe")


def test_markdown_structures(blank: Any) -> None:
    text = (
        "## Steps\n\n1. Open **Settings**.\n2. Click `Export` [1].\n\n- one\n- two _items_\n\n"
        "| Plan | Seats |\n|:-----|------:|\n| Team | 10 |\n| Business | 50 |\n\n"
        "```bash\ncurl -s https://example.com | jq .\n```\n\n> quoted\n\nSee [the docs](https://help.example/x)."
    )
    box = render(blank, text)
    assert box.locator("h4").inner_text() == "Steps"
    assert box.locator("ol > li").count() == 2 and box.locator("ol strong").inner_text() == "Settings"
    assert box.locator("ol code").inner_text() == "Export" and box.locator("ol sup.cite").inner_text() == "[1]"
    assert box.locator("ul > li").count() == 2 and box.locator("ul em").inner_text() == "items"
    assert box.locator("table th").all_inner_texts() == ["Plan", "Seats"]
    assert box.locator("table tbody tr").count() == 2
    assert box.locator("table td.align-right").first.inner_text() == "10"
    assert box.locator("pre code.language-bash").inner_text() == "curl -s https://example.com | jq ."
    assert box.locator("blockquote").inner_text() == "quoted"
    link = box.locator("a")
    assert link.get_attribute("href") == "https://help.example/x" and link.get_attribute("rel") == "noopener noreferrer"


def test_a_block_quote_is_one_quote_of_markdown_blocks(blank: Any) -> None:
    # SQLite's docs quote their code examples: "> ```" lines are a fence inside the quote, not text per line.
    text = (
        'Open it:\n\n> ```c\n> rc = sqlite3_open("file.db", &db);\n>   if( rc ) return 1;\n> ```\n'
        "> Then **check** `rc`:\n> - one\n> - two\n>\n> a lazy\ncontinuation\n\nAfter."
    )
    box = render(blank, text)

    quote = box.locator(":scope > blockquote")
    assert quote.count() == 1
    code = quote.locator("pre code.language-c").inner_text()
    assert code == 'rc = sqlite3_open("file.db", &db);\n  if( rc ) return 1;'
    assert "```" not in quote.inner_text() and ">" not in quote.inner_text()
    assert quote.locator("p strong").inner_text() == "check" and quote.locator("p code").inner_text() == "rc"
    assert quote.locator("ul > li").all_inner_texts() == ["one", "two"]
    assert quote.locator(":scope > p").last.inner_text() == "a lazy continuation"
    assert box.locator(":scope > p").all_inner_texts() == ["Open it:", "After."]


def test_nested_quotes_nest_and_hostile_depth_stays_text(blank: Any) -> None:
    box = render(blank, "> outer\n>\n> > inner")
    assert box.locator("blockquote blockquote").inner_text() == "inner"

    box = render(blank, ">" * 5000 + " deep <img src=x onerror=window.__pwned=11>")
    blank.wait_for_timeout(50)
    assert box.locator("img").count() == 0 and "deep <img" in box.inner_text()
    assert blank.evaluate("() => window.__pwned === undefined")


def test_underscores_inside_a_word_are_text_not_emphasis(blank: Any) -> None:
    # CommonMark: `__` inside a word opens no emphasis (snake_case names, `window.__pwned` in a quoted page).
    box = render(blank, "Set snake__case__name or window.__pwned=1 and window.__pwned=2; __bold__ stays bold.")

    assert box.locator("strong").all_inner_texts() == ["bold"]
    assert "snake__case__name" in box.inner_text() and "window.__pwned=1 and window.__pwned=2" in box.inner_text()


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_is_shown_never_run(blank: Any, text: str) -> None:
    box = render(blank, text)
    blank.wait_for_timeout(50)  # an onerror/onload handler would have fired by now
    assert box.locator("img, script, svg, iframe, object, embed").count() == 0
    hrefs = box.locator("a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    assert all(h.startswith(("https:", "http:", "mailto:")) for h in hrefs)
    box.locator("a").evaluate_all("links => links.forEach(a => a.click())")
    assert blank.evaluate("() => window.__pwned === undefined")
    if "<" in text and not text.startswith("["):  # a link with an unsafe target keeps only its words
        assert "<" in box.inner_text()  # the markup's characters are still there for the reader


CALL = """async ([module, name, args]) => (await import(`/static/deflect/${module}`))[name](...args)"""


def call(page: Any, module: str, name: str, *args: Any) -> Any:
    """The result of one exported function of a served ES module, called in the page."""
    return page.evaluate(CALL, [module, name, list(args)])


@pytest.mark.parametrize(
    ("url", "base", "expected"),
    [
        ("/sources/esc:ESC-1", "https://deflect.example/", "https://deflect.example/sources/esc:ESC-1"),
        ("/sources/doc:a/b", "https://deflect.example/app/", "https://deflect.example/sources/doc:a/b"),
        ("https://help.example/x", "https://deflect.example/", "https://help.example/x"),
        ("/admin", "https://deflect.example/", None),  # only the source view is a relative link we make
        ("javascript:alert(1)", "https://deflect.example/", None),
        ("/sources/x", "", None),  # no address of deflect's to resolve against: no link
    ],
)
def test_citation_links_open_the_url_or_deflects_own_source_view(
    blank: Any, url: str, base: str, expected: str | None
) -> None:
    assert call(blank, "markdown.js", "citationHref", url, base) == expected


@pytest.mark.parametrize(
    ("origin", "allowed", "expected"),
    [
        ("https://desk.example", ["https://desk.example"], True),
        ("https://evil.example", ["https://desk.example"], False),
        ("https://acme.chatwoot.example", ["https://*.chatwoot.example"], True),
        ("https://a.b.chatwoot.example", ["https://*.chatwoot.example"], True),
        ("https://chatwoot.example", ["https://*.chatwoot.example"], False),  # the wildcard is for subdomains
        ("http://acme.chatwoot.example", ["https://*.chatwoot.example"], False),  # another scheme
        ("https://acme.chatwoot.example.evil", ["https://*.chatwoot.example"], False),
        ("https://evilchatwoot.example", ["https://*.chatwoot.example"], False),
        ("https://acme.chatwoot.example:8443", ["https://*.chatwoot.example:8443"], True),
        ("https://acme.chatwoot.example", [], False),
    ],
)
def test_chatwoot_messages_are_taken_from_the_origins_the_panel_setting_names(
    blank: Any, origin: str, allowed: list[str], expected: bool
) -> None:
    # hosts.js (Chatwoot posts with target "*") reads panel_origins as the CSP frame-ancestors does, wildcard included
    assert call(blank, "hosts.js", "originAllowed", origin, allowed) is expected


PLAIN = """async ([text, drop]) => {
    const m = await import('/static/deflect/markdown.js');
    return m.plainText(text, drop.length ? { cite: (n) => (drop.includes(n) ? "" : `[${n}]`) } : {});
}"""


def test_plain_text_is_what_a_customer_reads(blank: Any) -> None:
    text = (
        "## Turn off the greeting\n\n**Run** this in _fish_ [1]:\n\n```fish-docs-samples\nset -U fish_greeting\n"
        "echo **not bold** `kept` [2]\n```\n\n1. Open `config.fish`.\n- see [the docs](https://help.example/x) [2]\n"
        "> quoted __text__"
    )

    plain = blank.evaluate(PLAIN, [text, []])
    dropped = blank.evaluate(PLAIN, [text, [2]])

    assert plain == (
        "Turn off the greeting\n\nRun this in fish [1]:\n\nset -U fish_greeting\necho **not bold** `kept` [2]\n\n"
        "1. Open config.fish.\n- see the docs (https://help.example/x) [2]\nquoted text"
    )
    # A marker the caller has no source for is dropped from the prose, never from code.
    assert "echo **not bold** `kept` [2]" in dropped and "- see the docs (https://help.example/x)\n" in dropped
