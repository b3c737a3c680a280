"""Bounded: a deadline on every call to a dependency, and a breaker that stops calling it while it is down."""

from __future__ import annotations

import threading

import pytest

from deflect.bounded import Bounded
from deflect.errors import IndexUnavailable, NotFound


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_call_that_returns_in_time_returns_its_value() -> None:
    assert Bounded("index", 1.0, IndexUnavailable).call(lambda a, b: a + b, 2, 3) == 5


def test_a_call_past_its_deadline_raises_the_dependency_error() -> None:
    release = threading.Event()
    bounded = Bounded("index", 0.05, IndexUnavailable)
    try:
        with pytest.raises(IndexUnavailable, match="did not answer within"):
            bounded.call(release.wait, 10)
    finally:
        release.set()


def test_a_library_exception_becomes_the_dependency_error_and_opens_the_breaker() -> None:
    clock = Clock()
    bounded = Bounded("index", 1.0, IndexUnavailable, retry_after_s=5.0, clock=clock)
    calls: list[int] = []

    def broken() -> None:
        calls.append(1)
        raise RuntimeError("Error finding id")

    with pytest.raises(IndexUnavailable, match="RuntimeError"):
        bounded.call(broken)
    with pytest.raises(IndexUnavailable, match="breaker|unavailable"):
        bounded.call(broken)
    assert len(calls) == 1  # the open breaker did not call it

    clock.now += 5.1
    assert bounded.call(lambda: "back") == "back"  # half-open: one try, and it worked


def test_other_deflect_errors_pass_through_without_opening_the_breaker() -> None:
    bounded = Bounded("index", 1.0, IndexUnavailable)

    def missing() -> None:
        raise NotFound("no such thing")

    with pytest.raises(NotFound):
        bounded.call(missing)
    assert bounded.call(lambda: 1) == 1
