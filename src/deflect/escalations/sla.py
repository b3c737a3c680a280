"""SLA clock arithmetic over domain SlaClock. Pure: every time is a timezone-aware datetime passed in.

- The acknowledge window runs from `started_at` until the first human acknowledgement (a claim).
- The resolve window runs from `started_at` until resolution, minus the time spent paused (waiting on the
  customer); each deadline moves out by the paused time.
- A clock can only be paused once acknowledged: deflect waits on the customer only after a human has replied.
  So nothing is ever paused before acknowledgement, and the acknowledge deadline is `started_at` plus its window.
- Breached means the deadline has passed (or the event came after it); exactly at the deadline is not a breach.
- Warning means not finished, not breached, and at most `warning_lead` of the window remains. A paused clock
  keeps the warning it had (its remaining time is frozen), with `paused` set so a notifier can stay quiet.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict

from deflect.domain.escalation import Priority, SlaClock
from deflect.domain.time import aware_utc as utc
from deflect.errors import InvalidTransition, ValidationFailed
from deflect.escalations.config import EscalationConfig


class SlaStatus(BaseModel):
    """Where a clock stands at one moment. Remaining seconds are negative once overdue."""

    model_config = ConfigDict(frozen=True)

    at: datetime
    paused: bool
    acknowledged: bool
    resolved: bool
    acknowledge_deadline: datetime
    resolve_deadline: datetime
    acknowledge_remaining_s: float
    resolve_remaining_s: float
    acknowledge_breached: bool
    resolve_breached: bool
    acknowledge_warning: bool
    resolve_warning: bool

    @property
    def breached(self) -> bool:
        """Either deadline was missed."""
        return self.acknowledge_breached or self.resolve_breached

    @property
    def warning(self) -> bool:
        """Either deadline is close."""
        return self.acknowledge_warning or self.resolve_warning


def _not_before(at: datetime, earlier: datetime | None, what: str) -> None:
    if earlier is not None and at < earlier:
        raise ValidationFailed(f"{at.isoformat()} is before {what} ({earlier.isoformat()})", [{"field": "time"}])


def _check_time(clock: SlaClock, at: datetime) -> datetime:
    at = utc(at)
    _not_before(at, clock.started_at, "the clock started")
    _not_before(at, clock.paused_at, "the clock was paused")
    _not_before(at, clock.acknowledged_at, "the clock was acknowledged")
    _not_before(at, clock.resolved_at, "the clock stopped")
    return at


def start_clock(priority: Priority, customer_tier: str | None, at: datetime, config: EscalationConfig) -> SlaClock:
    """A running clock with the windows for this priority and customer tier."""
    window = config.sla.window(priority, customer_tier)
    return SlaClock(acknowledge_within_s=window.acknowledge, resolve_within_s=window.resolve, started_at=utc(at))


def acknowledge(clock: SlaClock, at: datetime) -> SlaClock:
    """Record the first acknowledgement; later ones (a re-claim after a bounce) keep the first."""
    if clock.resolved_at is not None:
        raise InvalidTransition("cannot acknowledge an SLA clock that has stopped (resolved)")
    if clock.acknowledged_at is not None:
        return clock.model_copy()
    return clock.model_copy(update={"acknowledged_at": _check_time(clock, at)})


def pause(clock: SlaClock, at: datetime) -> SlaClock:
    """Stop counting (waiting on the customer)."""
    if clock.resolved_at is not None:
        raise InvalidTransition("cannot pause an SLA clock that has stopped (resolved)")
    if clock.paused_at is not None:
        raise InvalidTransition(f"the SLA clock is already paused (since {clock.paused_at.isoformat()})")
    if clock.acknowledged_at is None:
        raise InvalidTransition("cannot pause an SLA clock before it is acknowledged: nobody has replied yet")
    return clock.model_copy(update={"paused_at": _check_time(clock, at)})


def resume(clock: SlaClock, at: datetime) -> SlaClock:
    """Count again, adding the paused stretch to the total."""
    if clock.paused_at is None:
        raise InvalidTransition("cannot resume an SLA clock that is not paused")
    at = _check_time(clock, at)
    return clock.model_copy(
        update={"paused_at": None, "paused_total_s": clock.paused_total_s + (at - clock.paused_at).total_seconds()}
    )


def resolve(clock: SlaClock, at: datetime) -> SlaClock:
    """Stop the clock at resolution; a pause in progress ends here, and an unacknowledged clock is acknowledged."""
    if clock.resolved_at is not None:
        raise InvalidTransition("the SLA clock has already stopped (resolved)")
    at = _check_time(clock, at)
    running = resume(clock, at) if clock.paused_at is not None else clock
    return running.model_copy(
        update={"resolved_at": at, "acknowledged_at": running.acknowledged_at or at},
    )


def stop(clock: SlaClock, at: datetime) -> SlaClock:
    """Stop the clock without a human: the customer withdrew the escalation. Unlike `resolve`, an unacknowledged
    clock stays unacknowledged (nobody acknowledged it, and hand-off delay must not count it)."""
    if clock.resolved_at is not None:
        raise InvalidTransition("the SLA clock has already stopped")
    at = _check_time(clock, at)
    running = resume(clock, at) if clock.paused_at is not None else clock
    return running.model_copy(update={"resolved_at": at})


def paused_seconds(clock: SlaClock, at: datetime) -> float:
    """Seconds paused up to `at` (or up to resolution), the pause in progress included."""
    end = _end(clock, utc(at))
    current = (end - clock.paused_at).total_seconds() if clock.paused_at is not None else 0.0
    return clock.paused_total_s + max(0.0, current)


def _end(clock: SlaClock, at: datetime) -> datetime:
    return clock.resolved_at if clock.resolved_at is not None and clock.resolved_at < at else at


def acknowledge_deadline(clock: SlaClock) -> datetime:
    """When the first acknowledgement is due (never moved: pauses only follow acknowledgement)."""
    return clock.started_at + timedelta(seconds=clock.acknowledge_within_s)


def resolve_deadline(clock: SlaClock, at: datetime) -> datetime:
    """When resolution is due, as known at `at`: moved out by every pause so far (a pause in progress included)."""
    return clock.started_at + timedelta(seconds=clock.resolve_within_s + paused_seconds(clock, at))


def next_deadline(clock: SlaClock, at: datetime) -> datetime:
    """The deadline an agent works to next, as known at `at`: acknowledging until acknowledged, then resolving."""
    return acknowledge_deadline(clock) if clock.acknowledged_at is None else resolve_deadline(clock, at)


def _within_lead(remaining: float, window: int, lead: float) -> bool:
    return 0.0 <= remaining <= lead * window


def status(clock: SlaClock, now: datetime, config: EscalationConfig) -> SlaStatus:
    """Remaining time, breaches and warnings of both deadlines at `now`."""
    now = _check_time(clock, now)
    lead = config.sla.warning_lead
    # A clock stopped unacknowledged (withdrawn by the customer) stops its acknowledge window too.
    ack_end = clock.acknowledged_at or _end(clock, now)
    ack_remaining = clock.acknowledge_within_s - (ack_end - clock.started_at).total_seconds()
    end = _end(clock, now)
    active = (end - clock.started_at).total_seconds() - paused_seconds(clock, now)
    resolve_remaining = clock.resolve_within_s - active
    acknowledged = clock.acknowledged_at is not None
    resolved = clock.resolved_at is not None
    return SlaStatus(
        at=now,
        paused=clock.paused_at is not None,
        acknowledged=acknowledged,
        resolved=resolved,
        acknowledge_deadline=acknowledge_deadline(clock),
        resolve_deadline=resolve_deadline(clock, now),
        acknowledge_remaining_s=ack_remaining,
        resolve_remaining_s=resolve_remaining,
        acknowledge_breached=ack_remaining < 0,
        resolve_breached=resolve_remaining < 0,
        acknowledge_warning=not acknowledged and _within_lead(ack_remaining, clock.acknowledge_within_s, lead),
        resolve_warning=not resolved and _within_lead(resolve_remaining, clock.resolve_within_s, lead),
    )
