"""The asker's own name in a question the KB answers: never the unknown product name that escalates it."""

from __future__ import annotations

import pytest

from deflect.domain.models import Audience, Decision
from deflect.service import DeflectService

QUESTION = "How do I reset my password?"


@pytest.mark.parametrize(
    ("question", "fields"),
    [
        (f"Hi, my name is Peter Novak. {QUESTION}", {}),
        (f"I'm Marek Kowalczyk, {QUESTION.lower()}", {}),
        (f"{QUESTION} Thanks, Zbigniew", {}),
        (f"Zorya Quill here: {QUESTION.lower()}", {"customer_name": "Zorya Quill"}),
        (f"Zorya Quill here: {QUESTION.lower()}", {"claimed_customer": {"name": "Zorya Quill"}}),
    ],
)
def test_a_question_with_the_askers_name_is_answered_like_the_one_without(
    service: DeflectService, question: str, fields: dict[str, object]
) -> None:
    assert service.ask(QUESTION, Audience.CUSTOMER).decision is Decision.ANSWER

    named = service.ask(question, Audience.CUSTOMER, **fields)  # type: ignore[arg-type]

    assert "unknown_name" not in named.reasons
    assert named.decision is Decision.ANSWER
