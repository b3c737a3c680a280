"""Calibration cases from the desk's own traffic: questions people asked, labelled by what happened next.

The self-calibration's probes are the KB's own titles, headings and ticket subjects: they share the KB's words, and
people's questions do not, so a confidence fitted on probes alone under-rates real questions on some KBs and
over-rates them on others (docs/confidence.md). The desk holds what the probes lack: real questions, with the
features deflect computed when it decided (stored in each decision's audit event) and, for some, an outcome that
says whether answering with the top source was right. Each such question becomes one calibration case:

- a vote naming the source that would have answered it (`correct_source`; also the vote a customer casts by
  withdrawing an escalation because a suggested page solved it): right iff that source was the top one;
- a helpful vote on an answer or a draft: right iff the top source is among the sources the reader was shown;
- an unhelpful vote: wrong (the top source did not answer it as shown);
- an escalation an agent resolved: right iff the resolution is the KB's draft, kept (most of the draft's words are
  in it) and the top source is among the draft's citations; wrong when the agent wrote something else (the KB did
  not have it then). Errs towards escalating: an agent who rewords a good draft makes deflect more careful, never
  bolder.

One case per question (its answer id): an agent's vote outranks a customer's, a vote outranks a resolution, the
newest outranks older ones of the same rank. A customer key or widget visitor supplies at most
`max_per_customer` cases, so one caller voting on many answers cannot move the threshold; agents are staff.
`traffic_cases` is pure; `from_store` reads its inputs through the store's ports.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from deflect.calibrate.fit import Sample
from deflect.domain.escalation import AuditEvent, Escalation, State
from deflect.domain.feedback import FeedbackRecord
from deflect.domain.ports import EscalationStore, FeedbackStore

TRAFFIC_KIND = "traffic"
# Share of the draft's distinct words a resolution must hold to count as the draft, kept (greetings and a sign-off
# added by the agent do not matter; a rewrite does).
DRAFT_KEPT = 0.6
_WORD = re.compile(r"[a-z0-9][a-z0-9_.-]{2,}")


@dataclass(frozen=True)
class TrafficSettings:
    """What traffic counts: the newest `max_age_days` of it, at most `max_per_customer` cases per customer (how
    many are needed before they are used is the calibrator's `traffic_min_cases`)."""

    max_age_days: float = 180.0
    max_per_customer: int = 10


@dataclass
class TrafficCases:
    samples: list[Sample] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)  # by where the label came from

    def describe(self) -> str:
        parts = ", ".join(f"{n} {k}" for k, n in sorted(self.counts.items()))
        return f"traffic: {len(self.samples)} questions asked at the desk, labelled by what followed ({parts})"


def draft_kept(draft: str | None, resolution: str | None) -> bool:
    """The resolution holds most of the draft's distinct words: the agent sent the KB's draft."""
    words = set(_WORD.findall((draft or "").lower()))
    if not words or not resolution:
        return False
    found = set(_WORD.findall(resolution.lower()))
    return len(words & found) / len(words) >= DRAFT_KEPT


def _rank(record: FeedbackRecord) -> tuple[int, datetime]:
    return (1 if record.role in ("agent", "admin") else 0, record.at)


def traffic_cases(
    decisions: Sequence[AuditEvent],
    votes: Sequence[FeedbackRecord],
    escalations: Sequence[Escalation],
    settings: TrafficSettings,
    now: datetime,
) -> TrafficCases:
    """Labelled calibration cases from decisions (kind "decision", with the features they were made on), the votes
    cast on them and the escalations resolved from them; anything older than `max_age_days` is left out."""
    by_answer = {
        e.answer_id: e
        for e in decisions
        if e.answer_id and isinstance(e.data.get("features"), dict) and e.data.get("sources")
        if (now - e.at).total_seconds() <= settings.max_age_days * 86400
    }
    best: dict[str, FeedbackRecord] = {}
    for vote in votes:
        if vote.answer_id in by_answer and (vote.answer_id not in best or _rank(vote) > _rank(best[vote.answer_id])):
            best[vote.answer_id] = vote
    out = TrafficCases()
    per_customer: Counter[str] = Counter()
    # Newest first, so a customer's cap keeps their latest cases.
    for answer_id, vote in sorted(best.items(), key=lambda kv: kv[1].at, reverse=True):
        if vote.role == "customer":
            if per_customer[vote.actor] >= settings.max_per_customer:
                continue
            per_customer[vote.actor] += 1
        event = by_answer[answer_id]
        top = event.data["sources"][0]["source_id"]
        if vote.correct_source:
            label, how = int(top == vote.correct_source), "named sources"
        elif vote.helpful:
            if not vote.source_ids:
                continue
            label, how = int(top in vote.source_ids), "helpful votes"
        else:
            label, how = 0, "unhelpful votes"
        out.samples.append(_sample(answer_id, event, label))
        out.counts[how] += 1
    for esc in escalations:
        decision = by_answer.get(esc.answer_id)
        if decision is None or esc.answer_id in best or esc.state is not State.RESOLVED or not esc.resolution:
            continue
        top = decision.data["sources"][0]["source_id"]
        if draft_kept(esc.draft_answer, esc.resolution):
            label, how = int(top in (decision.data.get("cited") or [])), "resolved with the draft"
        else:
            label, how = 0, "resolved with new text"
        out.samples.append(_sample(esc.answer_id, decision, label))
        out.counts[how] += 1
    return out


def _sample(answer_id: str, event: AuditEvent, label: int) -> Sample:
    feats = {k: float(v) for k, v in event.data["features"].items() if isinstance(v, int | float)}
    return Sample("traffic:" + answer_id, feats, label, TRAFFIC_KIND)


def from_store(store: EscalationStore, votes: FeedbackStore, settings: TrafficSettings, now: datetime) -> TrafficCases:
    """The labelled cases of the last `max_age_days` in the store: its votes and resolved escalations, then the
    decision of each by its answer id (indexed), so a desk's unlabelled asks, most of them, are never read."""
    since = now - timedelta(days=settings.max_age_days)
    cast = votes.feedback(since=since, limit=None)
    resolved = store.list(state=State.RESOLVED, since=since, limit=None)
    labelled = sorted({v.answer_id for v in cast} | {e.answer_id for e in resolved})
    decisions = [e for answer_id in labelled for e in store.audit(answer_id=answer_id, kind="decision")]
    return traffic_cases(decisions, cast, resolved, settings, now)
