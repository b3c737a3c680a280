"""Hand-off messages rendered from the templates in config/escalation.yaml. Pure: `now` is passed in."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from string import Template

from deflect.domain.escalation import Escalation, SearchedSource
from deflect.escalations.config import OPENING_ORDER, EscalationConfig
from deflect.escalations.sla import SlaStatus, status, utc

INDENT = "  "
_BLANK_RUNS = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)+")


def _plural(n: int, unit: str) -> str:
    return f"{n} {unit}" if n == 1 else f"{n} {unit}s"


def human_duration(seconds: float) -> str:
    """'15 minutes', '4 hours', '3 days'; rounded up, so a promise is never shorter than the SLA."""
    minutes = max(1, math.ceil(round(seconds) / 60))
    if minutes < 60 or (minutes < 120 and minutes % 60):
        return _plural(minutes, "minute")
    hours = math.ceil(minutes / 60)
    if hours >= 48 and hours % 24 == 0:
        return _plural(hours // 24, "day")
    return _plural(hours, "hour")


def format_time(at: datetime) -> str:
    """`2026-03-02 10:15 UTC`."""
    return utc(at).strftime("%Y-%m-%d %H:%M UTC")


def response_time(sla_status: SlaStatus) -> str:
    """What to promise the asker: 'within 15 minutes' from the acknowledge deadline, or 'as soon as possible'
    once it has passed or a person has already replied."""
    if sla_status.acknowledged or sla_status.acknowledge_remaining_s <= 0:
        return "as soon as possible"
    return "within " + human_duration(sla_status.acknowledge_remaining_s)


def opening(reasons: Sequence[str], openings: Mapping[str, str]) -> str:
    """The opening sentence for the first kind of reason that fired (a billing dispute is not "I could not find")."""
    kinds = {r.split(":", 1)[0] for r in reasons}
    for kind in OPENING_ORDER:
        if kind in kinds and kind in openings:
            return openings[kind]
    return openings.get("default", "")


def customer_message(
    escalation: Escalation,
    config: EscalationConfig,
    now: datetime,
    pages: bool = False,
    excerpt: bool = False,
    anonymous: bool = False,
) -> str:
    """The hand-off message for the asker: what happens next, when to expect a reply, the reference (`anonymous`:
    an asker no reply can reach unless they leave an address, messages.customer_anonymous); with `pages`,
    a last paragraph introducing the pages suggested to read while waiting (listed by the client after it), which
    with `excerpt` also says that the first page comes with a quotation that may answer it, and that a person
    still follows up unless the asker says it solved it."""
    sla_status = status(escalation.sla, now, config)
    template = config.messages.customer_anonymous if anonymous else config.messages.customer
    text = Template(template).substitute(
        opening=opening(escalation.reasons, config.messages.openings),
        reference=escalation.id,
        response_time=response_time(sla_status),
        acknowledge_by=format_time(sla_status.acknowledge_deadline),
    )
    if not pages:
        return text
    return f"{text}\n\n{config.messages.suggestions_excerpt if excerpt else config.messages.suggestions}"


def self_served_message(escalation: Escalation, config: EscalationConfig) -> str:
    """What the customer reads once they withdrew their escalation (a page solved it): closed, nobody will call."""
    return Template(config.messages.self_served).substitute(reference=escalation.id)


def _shown_tag(source: SearchedSource) -> str:
    if not source.shown:
        return ""
    return "  [shown to asker, with an excerpt]" if source.excerpt else "  [shown to asker]"


def _indent(text: str) -> str:
    return "\n".join(INDENT + line if line.strip() else line for line in text.splitlines())


def _clock(name: str, deadline: datetime, remaining: float, done: datetime | None, breached: bool, warn: bool) -> str:
    if done is not None:
        return f"{name} {'LATE ' if breached else ''}done {format_time(done)} (due {format_time(deadline)})"
    if breached:
        return f"{name} OVERDUE by {human_duration(-remaining)} (due {format_time(deadline)})"
    warning = " WARNING" if warn else ""
    return f"{name} by {format_time(deadline)} (in {human_duration(remaining)}){warning}"


def _sla_line(escalation: Escalation, st: SlaStatus) -> str:
    clock = escalation.sla
    ack = _clock(
        "acknowledge",
        st.acknowledge_deadline,
        st.acknowledge_remaining_s,
        clock.acknowledged_at,
        st.acknowledge_breached,
        st.acknowledge_warning,
    )
    res = _clock(
        "resolve",
        st.resolve_deadline,
        st.resolve_remaining_s,
        clock.resolved_at,
        st.resolve_breached,
        st.resolve_warning,
    )
    paused = "; clock paused, waiting on the customer" if st.paused else ""
    return f"{ack}; {res}{paused}"


def engineering_briefing(escalation: Escalation, config: EscalationConfig, now: datetime) -> str:
    """The incident-style briefing for whoever picks the escalation up."""
    messages = config.messages
    missing = messages.missing_marker
    impact = next((item.value for item in escalation.checklist if item.key == "impact"), None)
    customer = escalation.customer_id or "anonymous"
    if escalation.customer_tier:
        customer += f" [{escalation.customer_tier}]"
    if escalation.contact_email:
        customer += f", reply to {escalation.contact_email}"
    evidence = [
        f"- {s.score:.3f}  {s.title}" + (f"  <{s.url}>" if s.url else "") + _shown_tag(s)
        for s in sorted(escalation.sources, key=lambda s: -s.score)
    ]
    checklist = [
        f"[{' ' if item.missing else 'x'}] {item.label}: {missing if item.value is None else item.value}"
        for item in escalation.checklist
    ]
    conversation = [f"{n}. {message}" for n, message in enumerate(escalation.conversation, 1)]
    draft = ""
    if escalation.draft_answer:
        draft = Template(messages.engineering_draft).substitute(draft_answer=_indent(escalation.draft_answer))
    text = Template(messages.engineering).substitute(
        id=escalation.id,
        time=format_time(escalation.created_at),
        priority=escalation.priority.value.upper(),
        tier=escalation.tier.value,
        state=escalation.state.value,
        customer=customer,
        audience=escalation.audience.value,
        impact=impact or f"{missing} (not stated)",
        reasons=", ".join(escalation.reasons),
        sla=_sla_line(escalation, status(escalation.sla, now, config)),
        question=_indent(escalation.question),
        conversation=_indent("\n".join(conversation) or "(none)"),
        evidence=_indent("\n".join(evidence) or "(no sources retrieved)"),
        checklist=_indent("\n".join(checklist)),
        draft=draft,
        policy_version=escalation.policy_version,
    )
    # An empty $draft leaves a run of blank lines; one blank line is all a briefing needs.
    return _BLANK_RUNS.sub("\n\n", text).strip() + "\n"
