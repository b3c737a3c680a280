"""The excerpt under the first page suggested with a low-confidence hand-off, in the customer widget in Debian's
headless Chromium on another origin: passages quoted from that page, rendered by the widget's DOM-building Markdown
renderer (never as HTML: the test kb's export article carries raw HTML and a javascript: link, and a reply tampered
in transit carries worse), accessible by axe-core's WCAG 2 A/AA rules."""

from __future__ import annotations

from typing import Any

import pytest
from tests.web.conftest import Live, axe_violations, shot
from tests.web.test_widget_browser import UNSURE, ask, open_widget, tamper_done

pytestmark = pytest.mark.browser

HOSTILE = (
    "**Exporting > Links**\n\n"
    '<img src=x onerror="window.pwned=1"> and <script>window.pwned=2</script> stay text.\n\n'
    "A [bad link](javascript:window.pwned=3) and a [good one](https://help.example/ok). [1]"
)


def excerpt_of(bubble: Any) -> Any:
    return bubble.get_by_role("list", name="Pages that may help").locator("li").first.locator("blockquote.excerpt")


def assert_quoted_as_markdown(excerpt: Any, text: str) -> None:
    """The export article's excerpt as rendered (also by the agent panel: test_panel_excerpt_browser.py)."""
    shown = excerpt.inner_text()
    # The heading label renders bold and the passage as text; the [1] markers (this page) are left out.
    label = text.split("\n\n", 1)[0].strip("*")
    assert excerpt.locator("strong").first.inner_text() == label
    assert "expires after 24 hours" in shown and "[1]" not in shown
    # The kb's own raw HTML and javascript: link are quoted as what they are, and run nothing.
    assert excerpt.locator("img, script").count() == 0
    assert all(
        (a.get_attribute("href") or "").startswith(("http:", "https:", "mailto:")) for a in excerpt.locator("a").all()
    )


def assert_hostile_as_text(excerpt: Any) -> None:
    """HOSTILE as rendered: its markup as characters, its javascript: link as text, its https link kept."""
    shown = excerpt.inner_text()
    assert '<img src=x onerror="window.pwned=1">' in shown and "<script>window.pwned=2</script>" in shown
    assert excerpt.locator("img, script").count() == 0
    assert excerpt.locator("strong").inner_text() == "Exporting > Links"
    links = excerpt.locator("a")
    assert links.count() == 1 and links.get_attribute("href") == "https://help.example/ok"
    assert "bad link" in shown  # kept as text, without the link


def test_the_first_page_shows_its_excerpt_as_markdown_and_passes_axe(page: Any, live: Live) -> None:
    widget = open_widget(page, f"{live.site}/shop.html")
    bubble = ask(widget, UNSURE)
    text = bubble.locator(".answer").inner_text()
    stored = live.service.desk.get("esc_" + text.rsplit("esc_", 1)[1].split()[0].strip("."))
    quoted = [s for s in stored.sources if s.excerpt]
    assert len(quoted) == 1 and quoted[0].shown, "the packet keeps what the customer was shown, from one page"

    excerpt = excerpt_of(bubble)
    assert excerpt.count() == 1 and excerpt.get_attribute("aria-label") == "Quoted from this page"
    assert_quoted_as_markdown(excerpt, quoted[0].excerpt)
    assert bubble.locator("blockquote.excerpt").count() == 1  # the other pages stay pointers
    assert bubble.get_by_role("button", name="This solved it").count() == len([s for s in stored.sources if s.shown])
    assert axe_violations(page, "deflect-widget") == []
    shot(page, "widget-excerpt", full_page=False)
    assert page.evaluate("() => window.__pwned") is None
    assert page.js_errors == []


def test_a_hostile_excerpt_renders_as_text_and_never_runs(page: Any, live: Live) -> None:
    """deflect's real reply with the first page's excerpt replaced in transit (what a poisoned page could quote)."""

    def hostile(data: dict[str, Any]) -> dict[str, Any]:
        data["suggested"][0]["excerpt"] = HOSTILE
        return data

    tamper_done(page, hostile)
    widget = open_widget(page, f"{live.site}/shop.html")
    bubble = ask(widget, UNSURE)

    excerpt = excerpt_of(bubble)
    excerpt.wait_for()
    assert_hostile_as_text(excerpt)
    assert page.evaluate("() => window.pwned") is None
    assert axe_violations(page, "deflect-widget") == []
    assert page.js_errors == []
