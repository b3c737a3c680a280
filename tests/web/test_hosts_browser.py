"""The panel inside helpdesk frames. Chatwoot and Zendesk cannot run here, so pages of ours play the parent frame
exactly as each host documents its protocol (tests/web/pages/chatwoot-parent.html, zendesk-parent.html with
fake-zaf-sdk.js); the panel code under test is the real one, served by a live deflect on another origin."""

from __future__ import annotations

from typing import Any

import pytest
from tests.web.conftest import Live, axe_violations, shot

from deflect.config import DEV_AGENT_KEY

pytestmark = pytest.mark.browser


def panel_frame(page: Any, live: Live, parent: str) -> Any:
    page.goto(f"{live.site}/{parent}")
    frame = page.frame_locator("#app")
    frame.locator("body[data-ready='1']").wait_for()
    frame.get_by_label("Agent API key").fill(DEV_AGENT_KEY)
    frame.get_by_role("button", name="Save key").click()
    return frame


def ask_in(frame: Any) -> None:
    asked = frame.locator("body").get_attribute("data-asked") or "0"
    frame.get_by_role("button", name="Ask deflect").click()
    frame.locator(f"body[data-asked='{int(asked) + 1}']").wait_for()


def test_chatwoot_context_arrives_and_forged_context_is_ignored(page: Any, live: Live) -> None:
    frame = panel_frame(page, live, "chatwoot-parent.html")
    facts = frame.locator("#ticket-facts")
    facts.get_by_text("Invoice download").wait_for()
    text = facts.inner_text()
    assert "4711" in text and "Dana Ruiz" in text and "billing, vip" in text
    question = frame.get_by_label("Question", exact=True)
    assert question.input_value() == "Where do I download an invoice as PDF?"  # the customer's last message
    assert int(page.locator("#asked").inner_text()) >= 1  # the panel asked with chatwoot-dashboard-app:fetch-info
    # A frame from another origin posts a forged appContext to the panel: it must be ignored.
    page.evaluate(
        """src => { const f = document.createElement('iframe'); f.onload = () => { window.__forger = true; };
                   f.src = src; document.body.append(f); }""",
        f"{live.other_site}/forger.html",
    )
    page.wait_for_function("() => window.__forger === true")
    page.wait_for_timeout(300)  # a message posted on load has long been delivered by now
    assert "Mallory" not in facts.inner_text() and "4711" in facts.inner_text()
    ask_in(frame)
    assert "Download PDF" in frame.locator("#answer").inner_text()
    frame.get_by_role("button", name="Use", exact=True).click()
    frame.locator("#status", has_text="Copied").wait_for()  # Chatwoot has no reply-box API: Use copies
    shot(page, "panel-in-chatwoot")


def test_zendesk_ticket_context_and_reply_inserted(page: Any, live: Live) -> None:
    frame = panel_frame(page, live, "zendesk-parent.html")
    facts = frame.locator("#ticket-facts")
    facts.get_by_text("Locked out").wait_for()
    assert "Lee Chen" in facts.inner_text() and "login, password" in facts.inner_text()
    assert frame.get_by_label("Question", exact=True).input_value() == "How do I reset my password?"
    assert "zendesk" in frame.locator("#host-name").inner_text()
    ask_in(frame)
    frame.get_by_role("button", name="Use", exact=True).click()
    frame.locator("#status", has_text="Inserted into the reply. Counted as a helpful vote.").wait_for()
    reply = page.locator("#reply").inner_text()
    assert "Forgot password" in reply and "https://help.example/accounts/reset-password" in reply
    assert live.service.feedback is not None  # the inserted answer is the agent's helpful vote
    panel = page.frame(url=lambda u: "/panel" in u)
    answer_id = panel.evaluate("() => document.body.dataset.answerId")
    votes = live.service.feedback.list(answer_id=answer_id)
    assert [v.helpful for v in votes] == [True]
    assert votes[0].actor == "sam@support.example"  # ZAF's currentUser names the agent in the audit log
    asked = live.service.desk.store.audit(answer_id=answer_id, kind="decision")
    assert [e.data["customer_id"] for e in asked] == ["zendesk:5"]  # the ticket's requester, by Zendesk's id
    assert axe_violations(page.frame(url=lambda u: "/panel" in u)) == []


def test_panel_cannot_be_framed_by_an_unlisted_origin(page: Any, live: Live) -> None:
    blocked: list[str] = []
    page.on("console", lambda m: blocked.append(m.text) if "frame-ancestors" in m.text else None)
    page.goto(f"{live.other_site}/chatwoot-parent.html")  # the same parent page, on an origin not in panel_origins
    page.wait_for_timeout(1000)
    frame = page.frame(url=lambda u: "/panel" in u)
    assert frame is None or frame.evaluate("() => document.body === null || !document.body.dataset.ready")
    assert blocked  # Chromium reports the CSP frame-ancestors refusal


NORMALISE = """async () => {
    const h = await import('/static/deflect/hosts.js');
    return {
        older: h.chatwootTicket({ conversation: { id: 12, messages: [
            { content: 'first', message_type: 0 }, { content: 'reply', message_type: 1 },
            { content: 'second', message_type: 0 }] }, contact: { id: 31, name: 'Kim', email: 'kim@example.com' } }),
        empty: h.chatwootTicket({}),
        zendesk: h.zendeskTicket({ 'ticket.id': 9, 'ticket.subject': 'S', 'ticket.description': 'D',
            'ticket.requester': { id: 5, name: 'Lee', email: 'lee@example.com' },
            currentUser: { id: 3, name: 'Sam', email: 'sam@support.example' },
            'ticket.comments': [{ value: '<img src=x onerror="window.__pwned=1"><p>Hi &amp; bye</p>',
                                  author: { role: 'end-user' } },
                                { value: '<p>Sorry, still not fixed</p>', author: { role: 'agent' } }] }),
        zendeskNoComments: h.zendeskTicket({ 'ticket.id': 9, 'ticket.description': 'Only the description' }),
        hosts: [h.detectHost('https://d.example/panel'), h.detectHost('https://d.example/panel?host=chatwoot'),
                h.detectHost('https://d.example/panel?origin=https%3A%2F%2Fa.zendesk.com&app_guid=x'),
                h.detectHost('https://d.example/panel?host=other')],
        standalone: h.standaloneTicket('https://d.example/panel?ticket=My%20invoice%20is%20wrong&ticket_id=77'),
    };
}"""


def test_host_payloads_normalise_to_one_ticket_shape(page: Any, live: Live) -> None:
    page.goto(f"{live.deflect}/panel")
    page.wait_for_selector("body[data-ready='1']")
    out = page.evaluate(NORMALISE)
    shape = {"ticket_id", "subject", "last_customer_message", "requester", "tags", "conversation"}
    assert shape <= set(out["older"]) and shape <= set(out["zendesk"]) and shape <= set(out["standalone"])
    older = out["older"]  # Chatwoot before currentAgent: conversation and contact only
    assert older["ticket_id"] == "12" and older["last_customer_message"] == "second"
    assert older["requester"] == {"name": "Kim", "email": "kim@example.com"} and older["agent"] == ""
    assert older["conversation"] == ["first", "second"]  # the customer's messages, not the agent's reply
    assert out["empty"]["last_customer_message"] == "" and out["empty"]["conversation"] == []
    assert out["zendesk"]["last_customer_message"] == "Hi & bye"  # comment HTML read as text, inertly
    assert out["zendesk"]["conversation"] == ["Hi & bye"]  # the end user's comments, not the agent's
    assert out["zendeskNoComments"]["last_customer_message"] == "Only the description"
    assert older["customer_id"] == "chatwoot:31" and out["empty"]["customer_id"] == ""
    assert out["zendesk"]["customer_id"] == "zendesk:5" and out["zendesk"]["agent"] == "sam@support.example"
    assert out["zendeskNoComments"]["customer_id"] == "" and out["zendeskNoComments"]["agent"] == ""
    assert out["hosts"] == ["standalone", "chatwoot", "zendesk", "standalone"]
    assert out["standalone"]["last_customer_message"] == "My invoice is wrong"
    assert out["standalone"]["ticket_id"] == "77"
    page.wait_for_timeout(50)
    assert page.evaluate("() => window.__pwned === undefined")
