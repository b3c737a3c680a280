"""deflect.retrieval.followup: which messages are follow-ups, what is searched for them, and when that search wins."""

from __future__ import annotations

import pytest

from deflect.domain.models import SourceHit
from deflect.retrieval.followup import MAX_EARLIER_CHARS, is_follow_up, keeps, with_earlier

EARLIER = "How do I create an API key?"


@pytest.mark.parametrize(
    "question",
    [
        "How do I revoke it later?",
        "And what if the link has expired?",
        "What about Asana?",
        "how about the Business plan",
        "Can I add it to past ones too?",
        "How long do they stay there?",
        "How do I switch to that?",
        "Do those count too?",
    ],
)
def test_a_message_that_points_back_or_goes_on_is_a_follow_up(question: str) -> None:
    assert is_follow_up(question)


@pytest.mark.parametrize(
    "question",
    [
        "How do I add a VAT ID to my invoices?",
        "Is it possible to pay by bank transfer?",
        "Is there a way to restore a deleted task?",
        "It says E2001 board failed to load, what do I do?",
        "Why does this error appear on login?",  # "this" names its own noun
        "I read that exports are split into parts; why?",
        "Wie kann ich es später widerrufen?",  # not read in other languages
    ],
)
def test_a_question_that_stands_alone_is_not(question: str) -> None:
    assert not is_follow_up(question)


def test_a_follow_up_is_searched_with_the_last_earlier_message_in_front() -> None:
    assert with_earlier("How do I revoke it later?", ["Hi", EARLIER, "  "]) == f"{EARLIER} How do I revoke it later?"


def test_nothing_is_joined_without_an_earlier_question_or_for_a_question_of_its_own() -> None:
    assert with_earlier("How do I revoke it later?", []) is None
    assert with_earlier("How do I revoke it later?", ["", " "]) is None
    assert with_earlier("How do I add a VAT ID to my invoices?", [EARLIER]) is None
    # an answer or a pasted log is not the asker's question
    assert with_earlier("How do I revoke it later?", ["x" * (MAX_EARLIER_CHARS + 1)]) is None


def hit(source_id: str) -> SourceHit:
    return SourceHit(source_id=source_id, title=source_id, url="", kind="article", score=0.5, dense=0.5, chunks=[])


ALONE = [hit("doc:api-keys"), hit("doc:rate-limits")]


def test_the_joined_search_wins_when_more_confident_on_a_source_the_follow_up_reached_too() -> None:
    assert keeps(ALONE, 0.2, [hit("doc:api-keys")], 0.9)
    assert keeps(ALONE, 0.2, [hit("doc:rate-limits"), hit("doc:other")], 0.3)


def test_the_follow_ups_own_search_stands_otherwise() -> None:
    assert not keeps(ALONE, 0.2, [hit("doc:api-keys")], 0.2)  # not more confident
    assert not keeps(ALONE, 0.2, [hit("doc:slack")], 0.95)  # only the earlier topic reaches its source
    assert not keeps(ALONE, 0.2, [], 0.9)
    assert not keeps([], 0.0, [hit("doc:api-keys")], 0.9)
