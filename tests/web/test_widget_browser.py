"""The customer help widget in Debian's headless Chromium, embedded with one script tag in a page served from
another origin (tests/web/pages/shop.html on a second port): streamed public answers with citations, "That
helped", the hand-off to a person, refusal on a non-allowed origin, hostile page CSS, the 429 message, signed
visitor identity, and axe-core on the open widget."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from tests.conftest import CANARY
from tests.web.conftest import SECRET, Live, axe_violations, shot

pytestmark = pytest.mark.browser


def open_widget(page: Any, url: str) -> Any:
    page.goto(url)
    page.wait_for_selector("deflect-widget[data-ready='1']", state="attached")
    page.get_by_role("button", name="Shop help").click()
    return page.locator("deflect-widget")


def ask(widget: Any, question: str) -> Any:
    """Ask and wait for the reply bubble to finish; returns that bubble."""
    count = widget.locator(".msg.bot").count()
    widget.get_by_label("Your question").fill(question)
    widget.get_by_role("button", name="Send").click()
    bubble = widget.locator(".msg.bot").nth(count)
    bubble.locator(".answer[aria-busy='false']").wait_for()
    return bubble


def test_ask_answer_citations_and_that_helped(page: Any, live: Live) -> None:
    widget = open_widget(page, f"{live.site}/shop.html")
    assert widget.get_by_role("dialog", name="Shop help").is_visible()
    assert widget.locator("[role=log][aria-live=polite]").count() == 1
    bubble = ask(widget, "How do I reset my password?")
    assert "Forgot password" in bubble.inner_text()
    assert bubble.locator(".answer ol li").count() == 3
    source = bubble.locator("ol.sources a").first
    assert source.get_attribute("href") == "https://help.example/accounts/reset-password"
    shot(page, "widget-answer-full", full_page=False)
    bubble.get_by_role("button", name="That helped").click()
    bubble.get_by_text("Thanks! Glad that helped.").wait_for()
    assert live.service.feedback is not None
    votes = [v for v in live.service.feedback.list(limit=None) if v.actor == "widget:wid_test:anonymous"]
    assert votes and votes[0].helpful is True
    assert page.js_errors == []


def test_still_need_help_hands_off_to_a_person(page: Any, live: Live) -> None:
    widget = open_widget(page, f"{live.site}/shop.html")
    first = ask(widget, "How do I reset my password?")
    first.get_by_role("button", name="I still need help").click()
    handoff = widget.locator(".msg.bot.handoff")
    handoff.locator(".answer[aria-busy='false']").wait_for()
    text = handoff.inner_text()
    reference = text.rsplit("esc_", 1)[1].split()[0].strip(".")
    stored = live.service.desk.get(f"esc_{reference}")
    assert "human_requested" in stored.reasons and stored.audience.value == "customer"
    assert "How do I reset my password?" in stored.conversation  # the packet has what came before
    assert "hour" in text or "minute" in text  # the expected response time from the SLA
    shot(page, "widget-handoff-full", full_page=False)


# Escalated for low confidence alone with the hash embedder and the fake calibration: pages that may help are offered.
UNSURE = "How long does the export link last?"


def test_pages_that_may_help_are_listed_as_links_under_the_hand_off(page: Any, live: Live) -> None:
    widget = open_widget(page, f"{live.site}/shop.html")
    bubble = ask(widget, UNSURE)
    assert "handoff" in (bubble.get_attribute("class") or "")
    text = bubble.locator(".answer").inner_text()
    # The first page comes quoted (test_widget_excerpt_browser.py), which the hand-off's last paragraph announces.
    assert text.rstrip().endswith(live.service.desk.config.messages.suggestions_excerpt)
    reference = "esc_" + text.rsplit("esc_", 1)[1].split()[0].strip(".")
    stored = live.service.desk.get(reference)
    assert stored.reasons == ["low_confidence"]
    shown = [s for s in stored.sources if s.shown]
    assert shown, "the packet records the pages the customer was shown"
    links = bubble.get_by_role("list", name="Pages that may help").get_by_role("link")
    assert links.count() == len(shown)
    for link, source in zip(links.all(), shown, strict=True):
        assert link.inner_text().startswith(source.title)
        # A page with its own url opens there; one without (a resolved escalation) opens deflect's source view.
        expected = source.url or f"{live.deflect}/sources/{source.source_id}"
        assert link.get_attribute("href") == expected
        assert link.get_attribute("rel") == "noopener noreferrer"
    assert not bubble.get_by_role("button", name="That helped").count()  # a hand-off, not an answer to rate
    shot(page, "widget-suggested", full_page=False)
    assert page.js_errors == []


def tamper_done(page: Any, change: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    """Rewrite the `done` event of every widget ask stream in transit (deflect's real reply, then `change`)."""

    def tamper(route: Any) -> None:
        response = route.fetch()
        blocks = response.text().split("\n\n")
        for i, block in enumerate(blocks):
            if block.startswith("event: done\n"):
                data = json.loads(block.split("data: ", 1)[1])
                blocks[i] = "event: done\ndata: " + json.dumps(change(data))
        route.fulfill(response=response, body="\n\n".join(blocks))

    page.route("**/widget/v1/*/ask/stream", tamper)


def test_a_follow_up_after_an_answer_is_not_taken_for_the_customers_frustration(page: Any, live: Live) -> None:
    """`conversation` is the customer's earlier messages: the widget must not send deflect's answers as theirs.
    Here the answer (replaced in transit) reads negative, as answers do ("if it fails, try again"); sent back as the
    customer's, it made a calm follow-up with "again" the second negative message, escalated for frustration."""
    answer = "If the reset link does not work or has failed, request it again [1]."
    tamper_done(page, lambda data: data | {"answer": answer} if data["decision"] == "answer" else data)
    sent: list[Any] = []
    page.on("request", lambda r: sent.append(r.post_data_json) if r.url.endswith("/ask/stream") else None)
    widget = open_widget(page, f"{live.site}/shop.html")
    first = ask(widget, "How do I reset my password?")
    assert first.get_attribute("data-decision") == "answer" and "failed" in first.inner_text()

    second = ask(widget, "And how do I reset it again?")

    reference = second.inner_text().rsplit("esc_", 1)[1].split()[0].strip(".") if "esc_" in second.inner_text() else ""
    reasons = live.service.desk.get(f"esc_{reference}").reasons if reference else []
    assert "frustration" not in reasons, (second.get_attribute("data-decision"), reasons)
    assert "frustrating" not in second.inner_text()
    assert sent[-1]["conversation"] == ["How do I reset my password?"]
    assert page.js_errors == []


def test_hostile_suggested_pages_render_as_text_and_never_as_script_links(page: Any, live: Live) -> None:
    """deflect's real reply, with its `suggested` list replaced in transit by hostile titles and urls (what a
    poisoned knowledge source could put there): the widget must show text, and link only http(s) or its own path."""
    hostile = [
        {
            "source_id": "a",
            "title": '<img src=x onerror="window.__pwned=1">',
            "url": "javascript:window.__pwned=2",
            "heading": "<script>window.__pwned=3</script>",
        },
        {
            "source_id": "b",
            "title": "Data page",
            "url": "data:text/html,<script>window.__pwned=4</script>",
            "heading": "",
        },
        {"source_id": "c", "title": "Fine page", "url": "https://help.example/fine", "heading": "Intro"},
    ]

    tamper_done(page, lambda data: data | {"suggested": hostile})
    widget = open_widget(page, f"{live.site}/shop.html")
    bubble = ask(widget, UNSURE)

    items = bubble.get_by_role("list", name="Pages that may help").get_by_role("listitem")
    assert items.count() == 3
    label = items.nth(0).inner_text().removesuffix("This solved it").strip()  # each page has its button
    assert label == '<img src=x onerror="window.__pwned=1"> > <script>window.__pwned=3</script>'
    assert items.nth(0).get_by_role("link").count() == 0 and items.nth(1).get_by_role("link").count() == 0
    assert items.nth(2).get_by_role("link").get_attribute("href") == "https://help.example/fine"
    assert bubble.locator(".suggested img, .suggested script").count() == 0
    assert page.evaluate("() => window.__pwned") is None
    assert page.js_errors == []


def test_widget_only_ever_shows_public_content(page: Any, live: Live) -> None:
    widget = open_widget(page, f"{live.site}/shop.html")
    for question in ["Who can apply account credits in the admin tool?", "Who approves a refund above the limit?"]:
        ask(widget, question)
    assert CANARY not in widget.inner_text()
    assert "Applying account credits" not in widget.inner_text()


def test_refused_on_an_origin_the_widget_id_does_not_allow(page: Any, live: Live) -> None:
    decisions_before = len(live.service.desk.store.audit(kind="decision"))
    widget = open_widget(page, f"{live.other_site}/shop.html")  # localhost:PORT, not 127.0.0.1:PORT
    bubble = ask(widget, "How do I reset my password?")
    assert "error" in (bubble.get_attribute("class") or "")
    assert "Forgot password" not in bubble.inner_text()
    # The CORS preflight was refused, so the browser never sent the question: nothing was decided or stored.
    assert len(live.service.desk.store.audit(kind="decision")) == decisions_before


def test_hostile_page_css_does_not_change_the_widget(browser: Any, live: Live) -> None:
    def styles(url: str) -> dict[str, Any]:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        widget = open_widget(page, url)
        probe = """els => els.map(e => { const s = getComputedStyle(e);
            return [s.color, s.fontSize, s.fontFamily, s.backgroundColor, s.display, s.padding, s.opacity,
                    s.textTransform, s.letterSpacing]; })"""
        found = {
            "host": page.evaluate(
                "() => { const s = getComputedStyle(document.querySelector('deflect-widget'));"
                " return [s.position, s.right, s.bottom, s.fontSize, s.zIndex]; }"
            ),
            "controls": widget.locator("button, input, header, .log").evaluate_all(probe),
            "box": widget.locator(".panel").bounding_box(),
        }
        if "hostile" in url:
            # The page's own rules do apply to the page, so equal widget styles mean the widget kept them out.
            assert page.evaluate("() => getComputedStyle(document.querySelector('h1')).fontSize") == "40px"
            shot(page, "widget-hostile-page", full_page=False)
        context.close()
        return found

    assert styles(f"{live.site}/hostile.html") == styles(f"{live.site}/shop.html")


def test_rate_limit_message_is_shown(page: Any, live: Live) -> None:
    widget = open_widget(page, f"{live.site}/shop.html")
    while time.time() % 60 > 40:  # the limit's window is the clock minute: the asks must not straddle two of them
        time.sleep(1)
    for _ in range(live.settings.widget_rate_per_session):
        ask(widget, "How do I reset my password?")
    bubble = ask(widget, "How do I reset my password?")
    alert = bubble.get_by_role("alert")
    assert "Please try again in" in alert.inner_text()


def test_identified_visitor_is_the_customer_on_the_escalation(page: Any, live: Live) -> None:
    token = jwt.encode(
        {"sub": "cust-7", "exp": int(time.time()) + 300, "name": "Rui Costa", "tier": "enterprise"}, SECRET, "HS256"
    )
    widget = open_widget(page, f"{live.site}/shop.html")
    page.evaluate("token => window.Deflect.identify(token)", token)
    bubble = ask(widget, "Please connect me to a person about my contract.")
    reference = "esc_" + bubble.inner_text().rsplit("esc_", 1)[1].split()[0].strip(".")
    stored = live.service.desk.get(reference)
    assert stored.customer_id == "wid_test:cust-7" and stored.customer_tier == "enterprise"
    assert stored.customer_name == "Rui Costa"


def test_keyboard_and_accessibility_at_360px(browser: Any, live: Live) -> None:
    context = browser.new_context(viewport={"width": 360, "height": 740})
    page = context.new_page()
    page.goto(f"{live.site}/shop.html")
    page.wait_for_selector("deflect-widget[data-ready='1']", state="attached")
    widget = page.locator("deflect-widget")
    launcher = widget.get_by_role("button", name="Shop help")
    launcher.focus()
    page.keyboard.press("Enter")
    assert launcher.get_attribute("aria-expanded") == "true"
    assert page.evaluate("() => document.querySelector('deflect-widget').shadowRoot.activeElement.id") == "deflect-q"
    page.keyboard.type("How do I reset my password?")
    page.keyboard.press("Enter")
    widget.locator(".msg.bot .answer[aria-busy='false']").last.wait_for()
    box = widget.locator(".panel").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 360  # fits a phone screen
    shot(page, "widget-answer-360", full_page=False)
    assert axe_violations(page, "deflect-widget") == []
    page.keyboard.press("Escape")
    assert launcher.get_attribute("aria-expanded") == "false"
    focused = page.evaluate("() => document.querySelector('deflect-widget').shadowRoot.activeElement.className")
    assert focused == "launcher"
    context.close()


def test_an_identified_visitor_sees_their_requests_on_another_device(browser: Any, live: Live) -> None:
    token = jwt.encode({"sub": "cust-travel", "exp": int(time.time()) + 300}, SECRET, "HS256")
    laptop = browser.new_context()
    page = laptop.new_page()
    widget = open_widget(page, f"{live.site}/shop.html")
    page.evaluate("token => window.Deflect.identify(token)", token)
    bubble = ask(widget, "Please connect me to a person about my invoice address.")
    reference = "esc_" + bubble.inner_text().rsplit("esc_", 1)[1].split()[0].strip(".")
    laptop.close()

    phone = browser.new_context(viewport={"width": 360, "height": 740})  # no storage shared with the laptop
    page = phone.new_page()
    widget = open_widget(page, f"{live.site}/shop.html")
    assert widget.locator("details.requests").is_hidden()  # anonymous: no history
    page.evaluate("token => window.Deflect.identify(token)", token)
    requests = widget.locator("details.requests")
    requests.locator("summary").click()
    assert "Your requests (1)" in requests.locator("summary").inner_text()
    assert reference in requests.inner_text() and "with our team" in requests.inner_text()
    shot(page, "widget-requests-360", full_page=False)
    phone.close()


def test_an_anonymous_hand_off_says_how_a_reply_comes_takes_an_email_and_survives_a_reload(
    page: Any, live: Live
) -> None:
    """Nobody can reply in a chat the visitor closes: the hand-off says so, offers an optional email field whose
    address the packet keeps for the agent, and the reference stays on the page across a reload of the tab."""
    widget = open_widget(page, f"{live.site}/shop.html")
    widget.get_by_role("button", name="Talk to a person").click()
    bubble = widget.locator(".msg.bot.handoff").first
    bubble.locator(".answer[aria-busy='false']").wait_for()
    text = bubble.locator(".answer").inner_text()
    reference = "esc_" + text.rsplit("esc_", 1)[1].split()[0].strip(".")
    assert "ask you here" not in text and "cannot reply in this chat" in text
    assert bubble.get_by_label("Your email address, for our reply (optional)").count() == 1
    shot(page, "widget-handoff-contact", full_page=False)
    assert axe_violations(page, "deflect-widget") == []

    page.reload()  # the tab still knows the reference, and the address may be left now
    page.wait_for_selector("deflect-widget[data-ready='1']", state="attached")
    page.get_by_role("button", name="Shop help").click()
    pending = widget.locator(".msg.pending")
    assert reference in pending.inner_text()
    pending.get_by_label("Your email address, for our reply (optional)").fill("kim.rivera@example.com")
    pending.get_by_role("button", name="Share my email").click()
    pending.get_by_text("Thanks: we will reply to kim.rivera@example.com.").wait_for()

    assert live.service.desk.get(reference).contact_email == "kim.rivera@example.com"
    page.reload()
    page.wait_for_selector("deflect-widget[data-ready='1']", state="attached")
    assert "we will reply to kim.rivera@example.com" in widget.locator(".msg.pending").inner_text()
    assert widget.locator("form.contact").count() == 0
    assert page.js_errors == []
