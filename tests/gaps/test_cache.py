"""The gap report is cached for DEFLECT_GAPS_REFRESH_S and refreshed by the service's `gaps` job, so GET /v1/gaps
does not embed and cluster every escalation of the window on the caller's time."""

from __future__ import annotations

from deflect.gaps import GapFinder
from deflect.testing import HashEmbedder

from .builders import NOW, PARAMS, PASSWORD, Desk, chunk, index_of


def finder(max_age_s: float) -> tuple[GapFinder, HashEmbedder, Desk]:
    desk = Desk()
    for days, text in enumerate(PASSWORD, start=1):
        desk.escalate(text, days=days)
    embedder = HashEmbedder()
    index = index_of(HashEmbedder(), chunk("doc:password", "Forgot your password? Reset the password.", "2026-01-01"))
    return GapFinder(desk.store, embedder, index, clock=lambda: NOW, params=PARAMS, max_age_s=max_age_s), embedder, desk


def test_a_fresh_report_is_served_from_the_cache_without_embedding_again() -> None:
    gaps, embedder, _ = finder(max_age_s=300)
    first = gaps.gaps()
    calls = embedder.calls

    again = gaps.gaps()

    assert again == first
    assert embedder.calls == calls


def test_other_parameters_and_refresh_compute_anew() -> None:
    gaps, embedder, desk = finder(max_age_s=300)
    first = gaps.gaps()
    desk.escalate(PASSWORD[0], days=1)
    calls = embedder.calls

    assert gaps.gaps(days=10).questions >= 1 and embedder.calls > calls  # a new parameter set is computed
    refreshed = gaps.refresh()
    assert refreshed.questions == first.questions + 1
    assert gaps.gaps() == refreshed  # and served from then on


def test_without_a_max_age_every_call_computes() -> None:
    gaps, embedder, _ = finder(max_age_s=0)
    gaps.gaps()
    calls = embedder.calls
    gaps.gaps()
    assert embedder.calls > calls
