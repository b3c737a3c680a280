"""The agent panel (/panel) standalone, in Debian's headless Chromium against a live deflect (tests/web/conftest.py):
streamed cited answers, internal sources marked with a warning before "Use", copy, feedback, escalation packet,
resolve feeding the knowledge loop, the queue, sanitised Markdown, keyboard use and an axe-core check."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from tests.web.conftest import Live, axe_violations, shot

from deflect.api.stream import pieces
from deflect.config import DEV_AGENT_KEY
from deflect.domain.escalation import Priority, State
from deflect.domain.models import Audience
from deflect.errors import IndexUnavailable
from deflect.testing.store_contract import T0, make_escalation

pytestmark = pytest.mark.browser

ANSWERABLE = "How do I reset my password?"
INTERNAL = "Who can apply account credits in the admin tool?"
# Retrieves the export article but under the test calibration's threshold: escalated for low confidence alone.
UNSURE = "Where do I find the export button?"


def open_panel(page: Any, live: Live, query: str = "") -> None:
    page.goto(f"{live.deflect}/panel{query}")
    page.wait_for_selector("body[data-ready='1']")
    page.get_by_label("Agent API key").fill(DEV_AGENT_KEY)
    page.get_by_role("button", name="Save key").click()


def ask(page: Any, question: str | None = None) -> None:
    if question is not None:
        page.get_by_label("Question", exact=True).fill(question)
    asked = int(page.evaluate("() => document.body.dataset.asked || 0"))
    page.get_by_role("button", name="Ask deflect").click()
    page.wait_for_selector(f"body[data-asked='{asked + 1}']")


def status(page: Any) -> str:
    return str(page.locator("#status").text_content())


def clipboard(page: Any) -> str:
    return str(page.evaluate("() => navigator.clipboard.readText()"))


def test_standalone_ask_streams_a_cited_answer(page: Any, live: Live) -> None:
    open_panel(page, live, "?q=How%20do%20I%20reset%20my%20password%3F")
    assert page.get_by_label("Question", exact=True).input_value() == ANSWERABLE
    ask(page)
    assert "Answered" in page.locator("#verdict").text_content()
    answer = page.locator("#answer")
    assert answer.get_attribute("aria-live") == "polite" and answer.get_attribute("aria-busy") == "false"
    assert answer.locator("ol li").count() == 3  # the numbered procedure, rendered as a list
    assert "Forgot password" in answer.inner_text()
    citation = page.locator("#citations li").first
    assert "Resetting your password" in citation.inner_text()
    assert citation.locator("a").get_attribute("href") == "https://help.example/accounts/reset-password"
    assert page.locator("#internal-warning").is_hidden()
    shot(page, "panel-answer-full")
    page.set_viewport_size({"width": 360, "height": 800})
    shot(page, "panel-answer-360")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 360  # no sideways scrolling
    assert axe_violations(page) == []
    assert page.js_errors == []


def test_the_answer_is_rendered_piece_by_piece_as_deltas_arrive(page: Any, live: Live) -> None:
    open_panel(page, live)
    ask(page, ANSWERABLE)
    # The panel re-renders the live region once per `delta` event (the extractive answer streams sentence by
    # sentence; each piece is shown as it is read, whatever the network batching).
    renders = int(page.locator("#answer").get_attribute("data-deltas"))
    done = live.service.ask(ANSWERABLE, Audience.AGENT)
    assert renders == len(pieces(done.answer)) and renders > 1


def test_internal_source_marked_and_use_warns_before_copying(page: Any, live: Live) -> None:
    open_panel(page, live)
    ask(page, INTERNAL)
    internal = page.locator("#citations li.internal")
    assert internal.count() >= 1 and "Internal" in internal.first.text_content()
    warning = page.locator("#internal-warning")
    assert warning.is_visible() and "do not send this to a customer" in warning.inner_text()
    page.evaluate("() => navigator.clipboard.writeText('untouched')")
    page.get_by_role("button", name="Use", exact=True).click()
    dialog = page.get_by_role("alertdialog")
    assert dialog.is_visible() and "Applying account credits" in dialog.inner_text()
    assert page.evaluate("() => document.activeElement.id") == "confirm-cancel"  # the safe choice has focus
    page.keyboard.press("Escape")
    assert dialog.is_hidden() and clipboard(page) == "untouched"
    page.get_by_role("button", name="Use", exact=True).click()
    page.get_by_role("button", name="Use anyway").click()
    page.wait_for_function("() => document.getElementById('status').textContent.includes('Copied')")
    copied = clipboard(page)
    assert "500 dollars" in copied
    assert "support.internal.example" not in copied  # internal links are not pasted as sources
    shot(page, "panel-internal-warning")
    page.set_viewport_size({"width": 360, "height": 800})
    shot(page, "panel-internal-warning-360")


def test_use_copies_a_public_answer_with_its_sources(page: Any, live: Live) -> None:
    open_panel(page, live)
    ask(page, ANSWERABLE)
    page.get_by_role("button", name="Use", exact=True).click()
    page.wait_for_function("() => document.getElementById('status').textContent.includes('Copied')")
    copied = clipboard(page)
    assert "Forgot password" in copied
    assert "[1] Resetting your password: https://help.example/accounts/reset-password" in copied
    # Using it is the agent's helpful vote (once), for the sources it cited
    answer_id = page.evaluate("() => document.body.dataset.answerId")
    page.wait_for_function("() => document.getElementById('status').textContent.includes('Counted as a helpful vote')")
    page.get_by_role("button", name="Use", exact=True).click()
    page.wait_for_function("() => !document.getElementById('status').textContent.includes('Counted')")
    assert live.service.feedback is not None
    votes = live.service.feedback.list(answer_id=answer_id)
    assert len(votes) == 1 and votes[0].helpful is True and votes[0].role == "agent"
    assert votes[0].source_ids and all(s.startswith(("doc:", "esc:")) for s in votes[0].source_ids)


FENCED = (
    "**Turn off the greeting**\n\nRun this once in a terminal [1]:\n\n```fish-docs-samples\nset -U fish_greeting\n"
    "echo $argv[2]\n```\n\n1. Open a new shell [2].\n2. Ask an admin for credits [3]."
)


def test_use_copies_plain_text_with_code_verbatim_and_a_link_for_a_source_without_a_url(page: Any, live: Live) -> None:
    """deflect's real answer stream, its text and sources replaced in transit by the walkthrough's: a fenced fish
    sample, a source with no url of its own (the API gives deflect's page for it, /sources/<id>) and an internal one."""
    extra = [
        {"n": 2, "source_id": "doc:fish/greeting.md", "title": "The greeting", "url": "/sources/doc:fish/greeting.md"},
        {"n": 3, "source_id": "doc:internal/credits.md", "title": "Credits", "url": "", "audience": "internal"},
    ]

    def tamper(route: Any) -> None:
        response = route.fetch()
        blocks = response.text().split("\n\n")
        for i, block in enumerate(blocks):
            name, _, data = block.partition("\ndata: ")
            if name == "event: citations":
                blocks[i] = f"{name}\ndata: " + json.dumps(
                    (d := json.loads(data)) | {"citations": d["citations"] + extra}
                )
            elif name == "event: delta":
                blocks[i] = f"{name}\ndata: " + json.dumps({"text": ""})
            elif name == "event: done":
                blocks[i] = f"{name}\ndata: " + json.dumps(json.loads(data) | {"answer": FENCED})
        route.fulfill(response=response, body="\n\n".join(blocks))

    page.route("**/v1/ask/stream", tamper)
    open_panel(page, live)
    ask(page, ANSWERABLE)
    page.get_by_role("button", name="Use", exact=True).click()
    page.get_by_role("button", name="Use anyway").click()  # it cites an internal source
    page.wait_for_function("() => document.getElementById('status').textContent.includes('Copied')")

    assert clipboard(page) == (
        "Turn off the greeting\n\nRun this once in a terminal [1]:\n\nset -U fish_greeting\necho $argv[2]\n\n"
        "1. Open a new shell [2].\n2. Ask an admin for credits.\n\n"
        "[1] Resetting your password: https://help.example/accounts/reset-password\n"
        f"[2] The greeting: {live.deflect}/sources/doc:fish/greeting.md"
    )


def test_use_after_choosing_not_helpful_casts_no_vote(page: Any, live: Live) -> None:
    open_panel(page, live)
    ask(page, ANSWERABLE)
    answer_id = page.evaluate("() => document.body.dataset.answerId")
    page.get_by_role("button", name="Not helpful").click()
    page.get_by_role("button", name="Use", exact=True).click()
    page.wait_for_function("() => document.getElementById('status').textContent.includes('Copied')")
    assert "Counted" not in page.evaluate("() => document.getElementById('status').textContent")
    assert live.service.feedback is not None
    assert live.service.feedback.list(answer_id=answer_id) == []


def test_feedback_is_stored_with_the_answer(page: Any, live: Live) -> None:
    open_panel(page, live)
    ask(page, ANSWERABLE)
    answer_id = page.evaluate("() => document.body.dataset.answerId")
    page.get_by_role("button", name="Not helpful").click()
    assert page.get_by_role("button", name="Not helpful").get_attribute("aria-pressed") == "true"
    page.get_by_label("Comment (optional)").fill("The customer uses single sign-on.")
    page.get_by_role("button", name="Send feedback").click()
    page.wait_for_function("() => document.getElementById('status').textContent.includes('Feedback stored')")
    assert live.service.feedback is not None
    votes = live.service.feedback.list(answer_id=answer_id)
    assert len(votes) == 1 and votes[0].helpful is False and votes[0].comment == "The customer uses single sign-on."


def test_escalate_shows_the_packet_with_checklist_priority_and_sla(page: Any, live: Live) -> None:
    open_panel(page, live)
    ask(page, ANSWERABLE)
    page.get_by_role("button", name="Escalate").click()
    packet = page.locator("#packet")
    packet.locator("dl").wait_for()
    text = packet.text_content()
    reference = packet.locator("dd").first.inner_text()
    assert reference.startswith("esc_")
    for label in ("Priority", "Tier", "Acknowledge by", "Resolve by", "Checklist"):
        assert label in text
    assert packet.locator(".checklist li.missing").count() >= 1
    assert "missing, ask the customer" in text
    # An agent's hand-off quoted nothing to a customer: no passage "Shown to the customer" (test_panel_excerpt_browser).
    assert packet.locator("figure.shown-excerpt, blockquote").count() == 0 and "Shown to the customer" not in text
    stored = live.service.desk.get(reference)
    assert "human_requested" in stored.reasons and stored.priority.value in text
    page.locator("#queue > li", has_text=reference).wait_for()  # the queue shows it at once
    shot(page, "panel-escalation")
    assert axe_violations(page) == []


def test_a_low_confidence_escalation_shows_the_kb_draft_marked_unsure_with_its_sources(page: Any, live: Live) -> None:
    open_panel(page, live)
    ask(page, UNSURE)

    assert "Escalated" in page.locator("#verdict").text_content()
    assert [li.get_attribute("data-code") for li in page.locator("#reasons li").all()] == ["low_confidence"]
    assert page.locator("#draft-box").is_visible()
    assert page.locator("#draft-unsure").is_visible()
    assert "export" in page.locator("#draft").inner_text().lower()
    sources = page.locator("#citations li")
    assert sources.count() >= 1 and page.locator("#no-sources").is_hidden()
    assert "Export" in sources.first.inner_text()
    shot(page, "panel-unsure-draft")
    assert axe_violations(page) == []
    assert page.js_errors == []


def test_a_confident_answer_shows_no_draft(page: Any, live: Live) -> None:
    open_panel(page, live)
    ask(page, ANSWERABLE)

    assert page.locator("#draft-box").is_hidden()
    assert page.locator("#draft-unsure").is_hidden()


def test_a_refused_key_reopens_the_key_form(page: Any, live: Live) -> None:
    page.goto(f"{live.deflect}/panel")
    page.wait_for_selector("body[data-ready='1']")
    page.get_by_label("Agent API key").fill("not-a-key")
    page.get_by_role("button", name="Save key").click()
    ask(page, ANSWERABLE)
    assert "refused the API key" in status(page)
    assert page.locator("#settings").is_visible()
    assert page.evaluate("() => document.activeElement.id") == "api-key"


def test_resolve_makes_the_next_identical_question_answered(page: Any, live: Live) -> None:
    question = "Why does the Gantt chart export crop the last column on A4 paper?"
    open_panel(page, live)
    ask(page, question)
    assert "Escalated" in page.locator("#verdict").text_content()
    page.get_by_role("button", name="Resolve with this answer").click()
    page.get_by_label("Resolution").fill(
        "Switch the page setup to landscape before exporting the Gantt chart; the last column then fits on A4."
    )
    page.get_by_role("button", name="Resolve", exact=True).click()
    page.wait_for_function("() => document.getElementById('status').textContent.includes('Resolved')")
    assert "esc:esc_" in status(page)
    ask(page, question)
    assert "Answered" in page.locator("#verdict").text_content()
    assert "landscape" in page.locator("#answer").inner_text()
    assert page.locator("#citations li").first.locator(".source-id").inner_text().startswith("esc:")


def test_a_pending_resolution_says_so_and_why_and_the_view_shows_the_resolution(
    page: Any, live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    question = "Why does the timeline print upside down on Letter paper?"

    def index_down(records: object) -> object:
        raise IndexUnavailable("the index is down")

    monkeypatch.setattr(live.service, "_write_and_index", index_down)  # the resolve commits, the indexing fails
    open_panel(page, live)
    ask(page, question)
    page.get_by_role("button", name="Resolve with this answer").click()
    page.get_by_label("Resolution").fill("Turn off 'mirror pages' in the print dialog.")
    page.get_by_role("button", name="Resolve", exact=True).click()
    page.wait_for_function("() => document.getElementById('status').textContent.includes('Resolved')")

    assert "pending, not searchable yet (the index is down)" in status(page)
    assert "searchable after" not in status(page)
    packet = page.locator("#packet").inner_text()
    assert "Turn off 'mirror pages' in the print dialog." in packet
    assert "pending (the index is down)" in packet


def test_queue_claims_and_notes(page: Any, live: Live) -> None:
    esc = live.service.ask("What is the weather on Mars tomorrow?", Audience.AGENT)
    open_panel(page, live)
    item = page.locator("#queue > li", has_text=esc.escalation_id)
    item.get_by_role("button", name=f"Claim {esc.escalation_id}").click()
    page.wait_for_function("() => document.getElementById('status').textContent.includes('claim')")
    assert live.service.desk.get(esc.escalation_id).state.value == "claimed"
    item = page.locator("#queue > li", has_text=esc.escalation_id)
    item.get_by_role("button", name=f"Add note {esc.escalation_id}").click()
    page.get_by_label(f"Note on {esc.escalation_id}").fill("Asked the customer for their region.")
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.getElementById('status').textContent.includes('update')")
    notes = [e for e in live.service.desk.audit(escalation_id=esc.escalation_id) if e.action == "update"]
    assert notes and notes[-1].data.get("note") == "Asked the customer for their region."


def test_the_queue_puts_an_old_urgent_escalation_first_counts_them_and_loads_more(page: Any, live: Live) -> None:
    # Behind more than a page of newer minor ones (the walkthrough: 20 newest shown, the old high ones hidden).
    store = live.service.desk.store
    created = [make_escalation("esc_old_critical", T0, priority=Priority.CRITICAL)]
    created += [
        make_escalation(f"esc_new_low_{i:02d}", T0 + timedelta(days=1, minutes=i), priority=Priority.LOW)
        for i in range(22)
    ]
    for esc in created:
        store.create(esc)
    try:
        check_the_queue(page, live)
    finally:  # out of the session's queue again: the other tests find theirs on its first page
        for esc in created:
            store.update(esc.model_copy(update={"state": State.RESOLVED}), store.get(esc.id).version)


def check_the_queue(page: Any, live: Live) -> None:
    store = live.service.desk.store
    open_ids = {e.id for e in store.list(state=live.service.desk.open_states(), limit=None)}
    open_panel(page, live)
    page.wait_for_selector("#queue li[data-id='esc_old_critical']")

    shown = page.eval_on_selector_all("#queue li[data-id]", "items => items.map(li => li.dataset.id)")
    assert len(shown) == 20 < len(open_ids)
    ranks = [list(Priority).index(store.get(i).escalation.priority) for i in shown]
    assert ranks == sorted(ranks)
    assert f"{len(open_ids)} open, most urgent first (showing 20)" in page.locator("#queue-summary").inner_text()
    while page.locator("#queue-more").is_visible():
        count = page.locator("#queue li[data-id]").count()
        page.get_by_role("button", name="Load more").click()
        page.wait_for_function(f"() => document.querySelectorAll('#queue li[data-id]').length > {count}")
    listed = page.eval_on_selector_all("#queue li[data-id]", "items => items.map(li => li.dataset.id)")
    assert sorted(listed) == sorted(open_ids)
    # Any escalation by its reference, listed or not.
    page.get_by_label("Open by reference").fill("esc_new_low_03")
    page.get_by_role("button", name="Open", exact=True).click()
    page.wait_for_function("() => document.getElementById('packet').textContent.includes('esc_new_low_03')")
    assert page.locator("#escalation").is_visible()


def test_resolve_never_acts_on_someone_elses_claim_and_a_takeover_is_explicit(page: Any, live: Live) -> None:
    esc = live.service.ask("What is the weather on Venus tomorrow?", Audience.AGENT)
    assert esc.escalation_id
    live.service.desk.act(esc.escalation_id, "claim", "agent-bob")
    open_panel(page, live)
    page.get_by_label("Open by reference").fill(esc.escalation_id)
    page.get_by_role("button", name="Open", exact=True).click()
    page.wait_for_function("() => document.getElementById('packet').textContent.includes('agent-bob')")
    assert "Held by" in page.locator("#packet").inner_text()
    item = page.locator("#queue > li", has_text=esc.escalation_id)
    assert "held by agent-bob" in item.inner_text()
    item.get_by_role("button", name=f"Resolve {esc.escalation_id}").click()
    page.get_by_label("Resolution").fill("Venus has no forecasts either.")
    page.get_by_role("button", name="Resolve", exact=True).click()
    page.wait_for_function("() => document.getElementById('status').dataset.kind === 'error'")

    assert "held by agent-bob" in status(page) and "take it over" in status(page)
    stored = live.service.desk.get(esc.escalation_id)
    assert (stored.state.value, stored.assignee, stored.resolution) == ("claimed", "agent-bob", None)

    page.get_by_label("Take over from agent-bob: why?").fill("Bob is on leave")
    page.get_by_role("button", name="Take over").click()
    page.wait_for_function("() => document.getElementById('status').textContent.includes('Took over')")
    page.get_by_role("button", name="Resolve", exact=True).click()
    page.wait_for_function("() => document.getElementById('status').textContent.includes('Resolved')")
    stored = live.service.desk.get(esc.escalation_id)
    assert stored.state.value == "resolved" and stored.assignee not in (None, "agent-bob")
    takeover = [e for e in live.service.desk.audit(escalation_id=esc.escalation_id) if e.action == "takeover"]
    assert [(e.data["previous_assignee"], e.data["reason"]) for e in takeover] == [("agent-bob", "Bob is on leave")]


def test_html_in_a_source_is_shown_as_text_never_run(page: Any, live: Live) -> None:
    open_panel(page, live)
    ask(page, "How do I export a report as CSV?")
    answer = page.locator("#answer")
    text = answer.inner_text()
    assert "<img src=x" in text or "<script>" in text  # the source's markup, visible as characters
    assert answer.locator("img, script, iframe").count() == 0
    assert page.evaluate("() => window.__pwned === undefined")
    hrefs = page.eval_on_selector_all("#answer a", "links => links.map(a => a.getAttribute('href'))")
    assert not any(h.lower().startswith("javascript:") for h in hrefs)
    assert page.js_errors == []


def test_keyboard_only(page: Any, live: Live) -> None:
    page.goto(f"{live.deflect}/panel")
    page.wait_for_selector("body[data-ready='1']")
    assert page.evaluate("() => document.activeElement.id") == "api-key"  # no key yet: focus is on the key field
    page.keyboard.type(DEV_AGENT_KEY)
    page.keyboard.press("Enter")
    page.locator("#question").focus()
    page.keyboard.type(ANSWERABLE)
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("body[data-asked='1']")
    assert "Answered" in page.locator("#verdict").text_content()
    # Tab order runs through the answer's actions in reading order.
    page.locator("#use").focus()
    order = []
    for _ in range(3):
        order.append(page.evaluate("() => document.activeElement.id || document.activeElement.textContent"))
        page.keyboard.press("Tab")
    assert order == ["use", "escalate", "resolve-open"]
