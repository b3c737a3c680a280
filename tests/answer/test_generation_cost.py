"""Answer composition is paid for only when an answer (or an agent's draft) can come out of it."""

from __future__ import annotations

from collections.abc import Callable

from deflect.domain.models import Audience, Decision
from deflect.service import DeflectService
from deflect.testing import ScriptedGenerator


def test_an_escalated_question_never_runs_the_generator(make_service: Callable[..., DeflectService]) -> None:
    generator = ScriptedGenerator()
    service = make_service(generator=generator)

    result = service.ask("Which pizza topping goes best with pineapple in Naples?", Audience.CUSTOMER)

    assert result.decision is Decision.ESCALATE
    assert generator.calls == []


def test_an_answered_question_runs_the_generator_once(make_service: Callable[..., DeflectService]) -> None:
    generator = ScriptedGenerator()
    service = make_service(generator=generator)

    result = service.ask("How do I reset my password?", Audience.CUSTOMER)

    assert result.decision is Decision.ANSWER
    assert len(generator.calls) == 1
