"""The explainable pieces of the contradiction test: cues, word overlap, dates."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from deflect.gaps.contradiction import cues_in, differs, older, overlap, parse_when


def test_cues_are_whole_words_and_phrases() -> None:
    text = "Please don’t disconnect: that is no longer needed. Use Re-authorize instead; the old flow is deprecated."

    assert cues_in(text) == ["no longer", "instead", "deprecated", "don't"]
    assert cues_in("We know the answer; the snowfall is heavy.") == []  # "know", "snowfall" are not "now"


def test_overlap_is_the_share_of_the_resolutions_content_words_in_the_chunk() -> None:
    assert overlap("click re-authorize in slack settings", "Open Slack settings and click Re-authorize.") == 1.0
    assert overlap("click re-authorize in slack settings", "Delete the workspace from billing.") == 0.0
    assert overlap("the and of", "anything") == 1.0  # nothing to compare


def test_differs_needs_a_cue_and_little_overlap() -> None:
    chunk = "To fix duplicates, disconnect the Slack integration and connect it again."

    assert differs("Don't disconnect; use the Re-authorize button, it keeps channel mappings.", chunk, 0.35)[0]
    assert not differs("Use the Re-authorize button, it keeps channel mappings.", chunk, 0.35)[0]  # no cue
    assert not differs("Now: disconnect the Slack integration and connect it again.", chunk, 0.35)[0]  # same words


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-09-15", datetime(2026, 9, 15, tzinfo=UTC)),
        ("2026-07-08T09:15:00Z", datetime(2026, 7, 8, 9, 15, tzinfo=UTC)),
        ("2026-07-08T09:15:00+02:00", datetime(2026, 7, 8, 7, 15, tzinfo=UTC)),
        ("", None),
        ("last spring", None),
    ],
)
def test_parse_when(value: str, expected: datetime | None) -> None:
    assert parse_when(value) == expected


def test_older_compares_days_and_never_guesses() -> None:
    resolved = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)

    assert older("2026-03-09", resolved)
    assert not older("2026-03-10", resolved)  # same day: the article may already reflect it
    assert not older("2026-04-01", resolved)
    assert not older("", resolved)
