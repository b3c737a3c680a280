"""The excerpt a customer was shown with a low-confidence hand-off, in the agent panel's escalation view in Debian's
headless Chromium: under the page it was quoted from, rendered by the panel's DOM-building Markdown renderer (never
as HTML: the test kb's export article carries raw HTML and a javascript: link, and a view tampered in transit carries
worse), only when the packet has one, accessible by axe-core's WCAG 2 A/AA rules."""

from __future__ import annotations

import json
from typing import Any

import pytest
from tests.web.conftest import Live, axe_violations, shot
from tests.web.test_panel_browser import UNSURE, open_panel
from tests.web.test_widget_excerpt_browser import HOSTILE, assert_hostile_as_text, assert_quoted_as_markdown

from deflect.domain.models import Audience

pytestmark = pytest.mark.browser


def customer_escalation(live: Live) -> str:
    """A customer's low-confidence escalation whose first suggested page was quoted to them."""
    result = live.service.ask(UNSURE, Audience.CUSTOMER)
    assert result.escalation_id and result.suggested and result.suggested[0].excerpt
    return result.escalation_id


def open_from_queue(page: Any, escalation_id: str) -> Any:
    page.get_by_role("button", name=f"Resolve {escalation_id}").click()
    packet = page.locator("#packet")
    packet.locator("dd", has_text=escalation_id).wait_for()
    return packet


def test_the_packet_shows_the_excerpt_under_its_page_as_markdown_and_passes_axe(page: Any, live: Live) -> None:
    escalation_id = customer_escalation(live)
    quoted = [s for s in live.service.desk.get(escalation_id).sources if s.excerpt]
    assert len(quoted) == 1
    open_panel(page, live)
    packet = open_from_queue(page, escalation_id)

    figure = packet.locator("figure.shown-excerpt")
    assert figure.count() == 1
    assert "Shown to the customer" in packet.locator("h3").all_text_contents()
    caption = figure.locator("figcaption")
    assert caption.inner_text() == f"Quoted from {quoted[0].title}"
    assert caption.locator("a").get_attribute("href") == quoted[0].url
    assert_quoted_as_markdown(figure.locator("blockquote.excerpt"), quoted[0].excerpt)  # as the widget renders it
    shot(page, "panel-excerpt")
    page.set_viewport_size({"width": 360, "height": 800})
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 360  # no sideways scrolling in a sidebar
    assert axe_violations(page) == []
    assert page.evaluate("() => window.__pwned") is None
    assert page.js_errors == []


def test_a_hostile_excerpt_and_title_render_as_text_and_never_run(page: Any, live: Live) -> None:
    """deflect's real escalation view with the quoted source's excerpt and title replaced in transit."""
    escalation_id = customer_escalation(live)

    def tamper(route: Any) -> None:
        response = route.fetch()
        view = response.json()
        for source in view["escalation"]["sources"]:
            if source["excerpt"]:
                source.update(excerpt=HOSTILE, title='<img src=x onerror="window.pwned=4">', url="javascript:alert(5)")
        route.fulfill(response=response, body=json.dumps(view))

    page.route(f"**/v1/escalations/{escalation_id}", tamper)
    open_panel(page, live)
    packet = open_from_queue(page, escalation_id)

    figure = packet.locator("figure.shown-excerpt")
    figure.wait_for()
    assert figure.locator("figcaption").inner_text() == 'Quoted from <img src=x onerror="window.pwned=4">'
    assert figure.locator("figcaption a").count() == 0  # a javascript: url is no link
    assert figure.locator("img, script").count() == 0
    assert_hostile_as_text(figure.locator("blockquote.excerpt"))
    assert page.evaluate("() => window.pwned") is None
    assert axe_violations(page) == []
    assert page.js_errors == []
