"""Escalation metrics. Pure: lists of Escalation and AuditEvent in, numbers out, `now` passed in.

Each metric is a small function returning per-item values or one rate; `compute_stats` gathers them for the API
and `deflect stats`. Durations are seconds. A rate with nothing to divide by is None, not 0.

- escalation_rate: decision events whose data.decision is "escalate" / decision events ("answer" or "escalate").
- time_to_escalate: the decision event (matched by answer_id; the earliest) -> the escalation's escalated time.
- handoff_delay: escalated -> first claim. The first claim is `sla.acknowledged_at`, which a re-claim after a
  bounce does not move (`timestamps[claimed]` does: it keeps the last claim).
- time_to_resolve: escalated -> resolved, wall clock (time waiting on the customer included), per priority.
- sla_breach_rate: share of escalations resolved (or self-served) after their resolve deadline, or open past it
  at `now`; the deadline moves out by the time paused (`sla.resolve_deadline`), and exactly at the deadline is
  not a breach.
- self_served (deflected after escalation): escalations the customer withdrew because a page solved them, their
  share of all escalations, how many named a page deflect suggested (the rest said "other"), and the time from
  escalated to withdrawn. They are not resolutions: time_to_resolve leaves them out.
- bounce_back_rate: share of escalations bounced back at least once.
- repeat_issue_rate: share of escalations with a customer id whose customer had an earlier escalation (created
  strictly before) about a similar question. Escalations without a customer id are left out of the share.

"Escalated time" is `timestamps[escalated]`, or `created_at` when a packet lacks it.
Percentiles interpolate linearly between the closest ranks (numpy's default): p(q) = v[i] + (v[i+1] - v[i]) * f
where (n - 1) * q = i + f over the sorted values v.
Similar questions: the Jaccard index of their word sets is at least `SIMILARITY_THRESHOLD`. Words are lower-case
runs of letters and digits, minus single letters and the stop words below; `similar=` swaps in another measure
(e.g. the embedding similarity the repeat_contact trigger uses).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime

from pydantic import BaseModel

from deflect.domain.escalation import OTHER_PAGE, AuditEvent, Escalation, Priority, State
from deflect.domain.ports import EscalationStore
from deflect.escalations.sla import resolve_deadline, utc

SIMILARITY_THRESHOLD = 0.5
# Function words that say nothing about the problem (negations stay: they do).
# fmt: off
STOP_WORDS = frozenset({
    "a", "an", "and", "are", "am", "be", "but", "by", "can", "could", "do", "does", "did", "for", "from", "get",
    "got", "has", "have", "how", "i", "if", "in", "into", "is", "it", "its", "me", "my", "of", "on", "or", "our",
    "so", "the", "their", "them", "there", "this", "to", "us", "was", "we", "were", "what", "when", "where",
    "which", "who", "why", "will", "with", "would", "you", "your",
})
# fmt: on
_WORD = re.compile(r"[a-z0-9]+")

Similar = Callable[[str, str], bool]


class Distribution(BaseModel):
    """How many values were measured and their median and 90th percentile (None when there are none)."""

    count: int
    p50_s: float | None
    p90_s: float | None


class EscalationStats(BaseModel):
    """Every metric at `now`; `model_dump(mode="json")` is the body of the stats endpoint and `deflect stats --json`."""

    now: datetime
    decisions: int
    escalations: int
    escalation_rate: float | None
    time_to_escalate: Distribution
    handoff_delay: Distribution
    time_to_resolve: dict[Priority, Distribution]
    sla_breaches: int
    sla_breach_rate: float | None
    self_served: int
    self_served_rate: float | None
    self_served_suggested: int
    time_to_self_serve: Distribution
    bounce_back_rate: float | None
    repeat_issue_rate: float | None
    similarity: str


# --- helpers ---------------------------------------------------------------------------------------------------


def rate(hits: int, total: int) -> float | None:
    """hits / total, or None when there is nothing to count."""
    return hits / total if total else None


def percentile(values: Iterable[float], q: float) -> float | None:
    """The q-quantile (0 <= q <= 1) by linear interpolation between closest ranks; None for no values."""
    ordered = sorted(values)
    if not ordered:
        return None
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def distribution(values: Sequence[float]) -> Distribution:
    """Count, p50 and p90 of the values."""
    return Distribution(count=len(values), p50_s=percentile(values, 0.5), p90_s=percentile(values, 0.9))


def escalated_at(escalation: Escalation) -> datetime:
    """When the escalation reached a human queue."""
    return escalation.timestamps.get(State.ESCALATED, escalation.created_at)


def words(text: str) -> frozenset[str]:
    """The content words of a question: lower-case, no single letters, no stop words."""
    return frozenset(w for w in _WORD.findall(text.lower()) if w not in STOP_WORDS and (len(w) > 1 or w.isdigit()))


def jaccard(a: str, b: str) -> float:
    """Shared words / all words of the two texts; 0 when neither has a content word."""
    left, right = words(a), words(b)
    union = left | right
    return len(left & right) / len(union) if union else 0.0


def similar_questions(a: str, b: str) -> bool:
    """The default sameness of two questions: Jaccard of their words >= SIMILARITY_THRESHOLD."""
    return jaccard(a, b) >= SIMILARITY_THRESHOLD


# --- the metrics -----------------------------------------------------------------------------------------------


def decisions(events: Iterable[AuditEvent]) -> list[AuditEvent]:
    """The decision events that say answer or escalate."""
    return [e for e in events if e.kind == "decision" and e.data.get("decision") in ("answer", "escalate")]


def escalation_rate(events: Iterable[AuditEvent]) -> float | None:
    """Escalate decisions / all decisions."""
    made = decisions(events)
    return rate(sum(e.data["decision"] == "escalate" for e in made), len(made))


def time_to_escalate(escalations: Iterable[Escalation], events: Iterable[AuditEvent]) -> dict[str, float]:
    """Per escalation id: seconds from its decision event to its escalated time (escalations with no event omitted)."""
    asked: dict[str, datetime] = {}
    for event in decisions(events):
        if event.answer_id is not None and (event.answer_id not in asked or event.at < asked[event.answer_id]):
            asked[event.answer_id] = event.at
    return {e.id: (escalated_at(e) - asked[e.answer_id]).total_seconds() for e in escalations if e.answer_id in asked}


def handoff_delays(escalations: Iterable[Escalation]) -> dict[str, float]:
    """Per claimed escalation id: seconds from escalated to the first claim."""
    return {
        e.id: (e.sla.acknowledged_at - escalated_at(e)).total_seconds()
        for e in escalations
        if e.sla.acknowledged_at is not None
    }


def resolved_at(escalation: Escalation) -> datetime | None:
    """When it was resolved, or None while it is open."""
    if escalation.state is not State.RESOLVED:
        return None
    return escalation.sla.resolved_at or escalation.timestamps.get(State.RESOLVED)


def resolve_times(escalations: Iterable[Escalation]) -> dict[Priority, dict[str, float]]:
    """Per priority, per resolved escalation id: seconds from escalated to resolved."""
    times: dict[Priority, dict[str, float]] = {p: {} for p in Priority}
    for e in escalations:
        done = resolved_at(e)
        if done is not None:
            times[e.priority][e.id] = (done - escalated_at(e)).total_seconds()
    return times


def self_served_at(escalation: Escalation) -> datetime | None:
    """When the customer withdrew it (a page solved it), or None if they did not."""
    if escalation.state is not State.SELF_SERVED:
        return None
    return escalation.sla.resolved_at or escalation.timestamps.get(State.SELF_SERVED)


def self_serve_times(escalations: Iterable[Escalation]) -> dict[str, float]:
    """Per self-served escalation id: seconds from escalated to withdrawn."""
    times = {}
    for e in escalations:
        done = self_served_at(e)
        if done is not None:
            times[e.id] = (done - escalated_at(e)).total_seconds()
    return times


def sla_breached(escalation: Escalation, now: datetime) -> bool:
    """Resolved (or self-served) after its resolve deadline, or still open past it at `now`."""
    done = resolved_at(escalation) or self_served_at(escalation)
    at = done if done is not None else utc(now, "now")
    return at > resolve_deadline(escalation.sla, at)


def sla_breach_rate(escalations: Sequence[Escalation], now: datetime) -> float | None:
    """Share of escalations that breached their resolve deadline by `now`."""
    return rate(sum(sla_breached(e, now) for e in escalations), len(escalations))


def bounced(escalation: Escalation) -> bool:
    """Bounced back at least once (timestamps keep every state ever entered)."""
    return escalation.state is State.BOUNCED_BACK or State.BOUNCED_BACK in escalation.timestamps


def bounce_back_rate(escalations: Sequence[Escalation]) -> float | None:
    """Share of escalations bounced back at least once."""
    return rate(sum(bounced(e) for e in escalations), len(escalations))


def repeat_issues(escalations: Iterable[Escalation], similar: Similar = similar_questions) -> dict[str, bool]:
    """Per escalation id with a customer id: whether that customer escalated a similar question earlier."""
    by_customer: dict[str, list[Escalation]] = defaultdict(list)
    for e in escalations:
        if e.customer_id is not None:
            by_customer[e.customer_id].append(e)
    repeats: dict[str, bool] = {}
    for own in by_customer.values():
        for e in own:
            repeats[e.id] = any(
                earlier.created_at < e.created_at and similar(earlier.question, e.question) for earlier in own
            )
    return repeats


def repeat_issue_rate(escalations: Iterable[Escalation], similar: Similar = similar_questions) -> float | None:
    """Share of escalations (with a customer id) that repeat an earlier issue of the same customer."""
    repeats = repeat_issues(escalations, similar)
    return rate(sum(repeats.values()), len(repeats))


# --- all of them ---------------------------------------------------------------------------------------------


def compute_stats(
    escalations: Sequence[Escalation],
    events: Sequence[AuditEvent],
    now: datetime,
    similar: Similar | None = None,
) -> EscalationStats:
    """Every metric over the given records at `now`."""
    now = utc(now, "now")
    breaches = sum(sla_breached(e, now) for e in escalations)
    withdrawn = self_serve_times(escalations)
    named = {e.id for e in escalations if e.id in withdrawn and e.self_served_page != OTHER_PAGE}
    return EscalationStats(
        now=now,
        decisions=len(decisions(events)),
        escalations=len(escalations),
        escalation_rate=escalation_rate(events),
        time_to_escalate=distribution(list(time_to_escalate(escalations, events).values())),
        handoff_delay=distribution(list(handoff_delays(escalations).values())),
        time_to_resolve={p: distribution(list(t.values())) for p, t in resolve_times(escalations).items()},
        sla_breaches=breaches,
        sla_breach_rate=rate(breaches, len(escalations)),
        self_served=len(withdrawn),
        self_served_rate=rate(len(withdrawn), len(escalations)),
        self_served_suggested=len(named),
        time_to_self_serve=distribution(list(withdrawn.values())),
        bounce_back_rate=bounce_back_rate(escalations),
        repeat_issue_rate=repeat_issue_rate(escalations, similar or similar_questions),
        similarity="custom" if similar else f"jaccard(words) >= {SIMILARITY_THRESHOLD}",
    )


def stats_from_store(
    store: EscalationStore, now: datetime, since: datetime | None = None, similar: Similar | None = None
) -> EscalationStats:
    """The metrics over a store: escalations created and decisions made since `since` (everything when None)."""
    return compute_stats(store.list(since=since, limit=None), store.audit(kind="decision", since=since), now, similar)
