"""SLA arithmetic, hand-computed: deadlines, pauses and resumes across hour, day and month boundaries, warnings."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import pytest

from deflect.domain.escalation import Priority, SlaClock
from deflect.errors import InvalidTransition, ValidationFailed
from deflect.escalations.sla import (
    acknowledge,
    acknowledge_deadline,
    pause,
    paused_seconds,
    resolve,
    resolve_deadline,
    resume,
    start_clock,
    status,
)

from .builders import CONFIG, T0, at


def critical() -> SlaClock:
    """Standard customer, critical: acknowledge by 10:15, resolve by 12:00 (T0 is 2026-03-02 10:00 UTC)."""
    return start_clock(Priority.CRITICAL, None, T0, CONFIG)


def acked(clock: SlaClock | None = None, when: datetime | None = None) -> SlaClock:
    return acknowledge(clock or critical(), when or at(minutes=5))


def test_a_new_clock_takes_its_windows_from_priority_and_customer_tier() -> None:
    clock = critical()

    assert (clock.acknowledge_within_s, clock.resolve_within_s) == (900, 7200)
    assert acknowledge_deadline(clock) == datetime(2026, 3, 2, 10, 15, tzinfo=UTC)
    assert resolve_deadline(clock, T0) == datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    enterprise = start_clock(Priority.CRITICAL, "enterprise", T0, CONFIG)
    assert (enterprise.acknowledge_within_s, enterprise.resolve_within_s) == (600, 5400)
    medium = start_clock(Priority.MEDIUM, "standard", T0, CONFIG)
    assert (medium.acknowledge_within_s, medium.resolve_within_s) == (4 * 3600, 24 * 3600)


@pytest.mark.parametrize(
    ("now", "remaining", "warning", "breached"),
    [
        (at(minutes=0), 900, False, False),
        (at(minutes=11, seconds=59), 181, False, False),
        (at(minutes=12), 180, True, False),  # 20% of 15 minutes = 3 minutes left
        (at(minutes=15), 0, True, False),  # exactly at the deadline is not yet a breach
        (at(minutes=15, seconds=1), -1, False, True),
        (at(hours=1), -2700, False, True),
    ],
)
def test_acknowledge_countdown_warning_and_breach(
    now: datetime, remaining: float, warning: bool, breached: bool
) -> None:
    st = status(critical(), now, CONFIG)

    assert st.acknowledge_remaining_s == remaining
    assert st.acknowledge_warning is warning
    assert st.acknowledge_breached is breached


def test_resolve_warning_starts_when_a_fifth_of_the_window_remains() -> None:
    clock = acknowledge(start_clock(Priority.HIGH, None, T0, CONFIG), at(minutes=10))  # resolve within 8 h

    # 20% of 8 hours is 96 minutes: the warning starts at 16:24.
    assert not status(clock, at(hours=6, minutes=23, seconds=59), CONFIG).resolve_warning
    st = status(clock, at(hours=6, minutes=24), CONFIG)
    assert st.resolve_warning and st.warning
    assert st.resolve_remaining_s == 96 * 60
    assert not st.breached


def test_acknowledging_freezes_the_acknowledge_countdown() -> None:
    clock = acked(when=at(minutes=7))

    st = status(clock, at(hours=1), CONFIG)

    assert st.acknowledged
    assert st.acknowledge_remaining_s == 8 * 60
    assert not st.acknowledge_breached and not st.acknowledge_warning


def test_a_late_acknowledgement_stays_breached() -> None:
    clock = acked(when=at(minutes=20))

    st = status(clock, at(minutes=30), CONFIG)

    assert st.acknowledge_breached
    assert st.acknowledge_remaining_s == -300
    assert not st.acknowledge_warning


def test_a_second_acknowledgement_keeps_the_first() -> None:
    clock = acked(when=at(minutes=5))

    assert acknowledge(clock, at(minutes=50)).acknowledged_at == at(minutes=5)


def test_pause_and_resume_move_the_resolve_deadline_out() -> None:
    clock = pause(acked(), at(minutes=30))
    clock = resume(clock, at(hours=1, minutes=10))  # paused 40 minutes

    assert clock.paused_total_s == 2400
    assert clock.paused_at is None
    assert resolve_deadline(clock, at(hours=2)) == datetime(2026, 3, 2, 12, 40, tzinfo=UTC)
    st = status(clock, at(hours=2, minutes=39), CONFIG)
    assert st.resolve_remaining_s == 60
    assert not st.resolve_breached
    assert status(clock, at(hours=2, minutes=40, seconds=1), CONFIG).resolve_breached
    # The acknowledge deadline is not moved: pauses only ever follow acknowledgement.
    assert st.acknowledge_deadline == datetime(2026, 3, 2, 10, 15, tzinfo=UTC)


def test_multiple_pauses_add_up() -> None:
    clock = acked()
    clock = resume(pause(clock, at(minutes=30)), at(hours=1))  # 30 min
    clock = resume(pause(clock, at(hours=1, minutes=30)), at(hours=1, minutes=45))  # 15 min

    assert clock.paused_total_s == 45 * 60
    assert resolve_deadline(clock, at(hours=2)) == datetime(2026, 3, 2, 12, 45, tzinfo=UTC)
    assert status(clock, at(hours=2, minutes=45), CONFIG).resolve_remaining_s == 0


def test_while_paused_the_clock_is_frozen_and_the_deadline_keeps_moving() -> None:
    clock = pause(acked(), at(minutes=30))

    early = status(clock, at(hours=1), CONFIG)
    much_later = status(clock, at(hours=30), CONFIG)  # long after the original 12:00 deadline

    assert early.paused and much_later.paused
    assert early.resolve_remaining_s == much_later.resolve_remaining_s == 90 * 60
    assert early.resolve_deadline == datetime(2026, 3, 2, 12, 30, tzinfo=UTC)
    assert much_later.resolve_deadline == datetime(2026, 3, 3, 17, 30, tzinfo=UTC)
    assert not much_later.resolve_breached
    assert paused_seconds(clock, at(hours=30)) == (30 * 60 - 30) * 60


def test_a_pause_across_midnight_and_a_month_end() -> None:
    start = datetime(2026, 2, 27, 18, 0, tzinfo=UTC)  # low: resolve within 72 h, by 2026-03-02 18:00
    clock = acknowledge(start_clock(Priority.LOW, None, start, CONFIG), datetime(2026, 2, 27, 19, 0, tzinfo=UTC))
    assert resolve_deadline(clock, start) == datetime(2026, 3, 2, 18, 0, tzinfo=UTC)

    clock = pause(clock, datetime(2026, 2, 28, 20, 0, tzinfo=UTC))
    clock = resume(clock, datetime(2026, 3, 1, 8, 0, tzinfo=UTC))  # 12 hours over midnight and the month end

    assert resolve_deadline(clock, datetime(2026, 3, 1, 9, 0, tzinfo=UTC)) == datetime(2026, 3, 3, 6, 0, tzinfo=UTC)
    st = status(clock, datetime(2026, 3, 3, 5, 0, tzinfo=UTC), CONFIG)
    assert st.resolve_remaining_s == 3600
    assert st.resolve_warning  # 1 h left of 72 h


def test_an_acknowledge_deadline_across_the_new_year() -> None:
    clock = start_clock(Priority.CRITICAL, None, datetime(2026, 12, 31, 23, 50, tzinfo=UTC), CONFIG)

    assert acknowledge_deadline(clock) == datetime(2027, 1, 1, 0, 5, tzinfo=UTC)
    assert status(clock, datetime(2027, 1, 1, 0, 5, 1, tzinfo=UTC), CONFIG).acknowledge_breached


def test_a_pause_in_progress_is_counted_up_to_resolution() -> None:
    clock = pause(acked(), at(minutes=30))

    done = resolve(clock, at(hours=1))

    assert done.paused_at is None
    assert done.paused_total_s == 1800
    assert done.resolved_at == at(hours=1)
    st = status(done, at(hours=50), CONFIG)  # frozen at resolution
    assert st.resolved and not st.resolve_warning and not st.resolve_breached
    assert st.resolve_remaining_s == 7200 - 1800  # 30 active minutes used of 2 h
    assert st.resolve_deadline == datetime(2026, 3, 2, 12, 30, tzinfo=UTC)


def test_a_late_resolution_is_breached() -> None:
    done = resolve(acked(), at(hours=3))

    st = status(done, at(hours=4), CONFIG)

    assert st.resolve_breached and st.breached
    assert st.resolve_remaining_s == -3600


def test_resolving_an_unacknowledged_clock_acknowledges_it() -> None:
    done = resolve(critical(), at(minutes=10))

    assert done.acknowledged_at == at(minutes=10)


@pytest.mark.parametrize(
    ("prepare", "change", "message"),
    [
        (lambda: pause(acked(), at(minutes=30)), lambda c: pause(c, at(minutes=40)), "already paused"),
        (acked, lambda c: resume(c, at(minutes=40)), "not paused"),
        (critical, lambda c: pause(c, at(minutes=1)), "before it is acknowledged"),
        (lambda: resolve(acked(), at(hours=1)), lambda c: pause(c, at(hours=2)), "stopped"),
        (lambda: resolve(acked(), at(hours=1)), lambda c: resolve(c, at(hours=2)), "already stopped"),
        (lambda: resolve(acked(), at(hours=1)), lambda c: acknowledge(c, at(hours=2)), "stopped"),
    ],
    ids=[
        "pause-while-paused",
        "resume-while-running",
        "pause-unacknowledged",
        "pause-resolved",
        "resolve-twice",
        "acknowledge-resolved",
    ],
)
def test_impossible_clock_changes_are_refused(
    prepare: Callable[[], SlaClock], change: Callable[[SlaClock], SlaClock], message: str
) -> None:
    with pytest.raises(InvalidTransition, match=message):
        change(prepare())


def test_time_cannot_run_backwards() -> None:
    clock = pause(acked(), at(minutes=30))

    with pytest.raises(ValidationFailed, match="before the clock was paused"):
        resume(clock, at(minutes=20))
    with pytest.raises(ValidationFailed, match="before the clock started"):
        status(critical(), at(minutes=-1), CONFIG)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValidationFailed, match="timezone-aware"):
        start_clock(Priority.LOW, None, datetime(2026, 3, 2, 10, 0), CONFIG)
    with pytest.raises(ValidationFailed, match="timezone-aware"):
        status(critical(), datetime(2026, 3, 2, 10, 5), CONFIG)


def test_other_timezones_are_converted_to_utc() -> None:
    berlin = timezone(timedelta(hours=1))
    clock = start_clock(Priority.CRITICAL, None, datetime(2026, 3, 2, 11, 0, tzinfo=berlin), CONFIG)

    assert clock.started_at == T0
    assert clock.started_at.tzinfo is UTC
    assert status(clock, datetime(2026, 3, 2, 11, 12, tzinfo=berlin), CONFIG).acknowledge_remaining_s == 180


def test_clock_changes_return_new_clocks() -> None:
    clock = acked()
    paused = pause(clock, at(minutes=30))

    assert clock.paused_at is None
    assert paused is not clock
