"""'This solved it' in the customer widget, in Debian's headless Chromium on another origin: each page suggested
under a low-confidence hand-off has a button that withdraws the visitor's own escalation, by keyboard too; the
hand-off text gives way to the server's message; "None of these helped" keeps the escalation; once an agent has
started, the visitor is told it is with a person and nothing changes."""

from __future__ import annotations

from typing import Any

import pytest
from tests.web.conftest import Live, axe_violations, shot
from tests.web.test_widget_browser import UNSURE, ask, open_widget

from deflect.domain.escalation import Escalation, State

pytestmark = pytest.mark.browser


def handed_off(page: Any, live: Live) -> tuple[Any, Any, Escalation]:
    """The widget, the hand-off bubble with pages that may help, and the stored escalation it names."""
    widget = open_widget(page, f"{live.site}/shop.html")
    bubble = ask(widget, UNSURE)
    text = bubble.locator(".answer").inner_text()
    stored = live.service.desk.get("esc_" + text.rsplit("esc_", 1)[1].split()[0].strip("."))
    assert stored.reasons == ["low_confidence"] and stored.state is State.ESCALATED
    return widget, bubble, stored


def test_this_solved_it_by_keyboard_withdraws_the_escalation_and_says_so(page: Any, live: Live) -> None:
    widget, bubble, stored = handed_off(page, live)
    shown = [s for s in stored.sources if s.shown]
    buttons = bubble.get_by_role("button", name="This solved it")
    assert buttons.count() == len(shown)  # one per suggested page, named after its page for screen readers
    last = shown[-1]
    chosen = bubble.get_by_role("button", name=f"This solved it: {last.title}", exact=False).last
    shot(page, "widget-self-serve-offered", full_page=False)

    chosen.focus()
    page.keyboard.press("Enter")
    widget.locator(".msg.handoff.solved[data-self-served]").wait_for()

    after = live.service.desk.get(stored.id)
    assert after.state is State.SELF_SERVED and after.self_served_page == last.source_id
    assert after.requester is not None and after.requester.startswith("widget:wid_test:session:")
    answer = bubble.locator(".answer").inner_text()
    assert stored.id in answer and "nobody will contact you" in answer
    assert "reply" not in answer  # the promise of a reply is gone with the escalation
    assert bubble.get_by_role("button").count() == 0  # every choice put away
    assert bubble.get_by_role("list", name="Pages that may help").get_by_role("link").count() == len(shown)
    focused = page.evaluate("() => document.querySelector('deflect-widget').shadowRoot.activeElement.textContent")
    assert stored.id in focused  # focus moved to the outcome, so a keyboard or screen-reader user hears it
    assert axe_violations(page, "deflect-widget") == []
    shot(page, "widget-self-served", full_page=False)
    assert page.js_errors == []


def test_none_of_these_helped_keeps_the_escalation(page: Any, live: Live) -> None:
    widget, bubble, stored = handed_off(page, live)

    bubble.get_by_role("button", name="None of these helped").click()

    bubble.get_by_text("OK, your request stays with our team.").wait_for()
    # The page choices are put away; the (anonymous) visitor may still leave an address for the reply.
    assert [b.inner_text() for b in bubble.get_by_role("button").all()] == ["Share my email"]
    assert stored.id in bubble.locator(".answer").inner_text()  # the hand-off stands
    assert live.service.desk.get(stored.id).state is State.ESCALATED
    assert page.js_errors == []


def test_something_else_solved_it_records_other(page: Any, live: Live) -> None:
    widget, bubble, stored = handed_off(page, live)

    bubble.get_by_role("button", name="Something else solved it").click()

    widget.locator(".msg.handoff.solved[data-self-served='other']").wait_for()
    assert live.service.desk.get(stored.id).self_served_page == "other"


def test_once_an_agent_started_the_visitor_is_told_and_nothing_changes(page: Any, live: Live) -> None:
    widget, bubble, stored = handed_off(page, live)
    for action in ("claim", "start"):
        live.service.desk.act(stored.id, action, "agent-ana")

    bubble.get_by_role("button", name="This solved it").first.click()

    alert = bubble.get_by_role("alert")
    alert.wait_for()
    assert "already with a person" in alert.inner_text()
    assert live.service.desk.get(stored.id).state is State.STARTED
    assert "solved" not in (bubble.get_attribute("class") or "")
    assert page.js_errors == []


def test_the_agent_panel_shows_which_page_solved_a_withdrawn_escalation(page: Any, live: Live) -> None:
    from tests.web.test_panel_browser import open_panel

    from deflect.domain.models import Audience

    result = live.service.ask(UNSURE, Audience.CUSTOMER, requester="customer:panel-test")
    assert result.escalation_id is not None and result.suggested
    open_panel(page, live)
    item = page.locator("#queue > li", has_text=result.escalation_id)
    item.wait_for()  # the agent's queue, loaded before the customer clicked
    page_id = result.suggested[0].source_id
    live.service.desk.self_serve(result.escalation_id, "customer:panel-test", page_id)

    item.get_by_role("button", name=f"Resolve {result.escalation_id}").click()

    packet = page.locator("#packet")
    packet.get_by_text("Solved by the customer with").wait_for()
    assert page_id in packet.inner_text() and "self served" in packet.inner_text()
    assert page.js_errors == []
