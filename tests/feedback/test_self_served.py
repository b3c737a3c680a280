"""A suggested page that solved a customer's problem (self_serve) counts as their helpful vote for it: stored once
per escalation with an audit "feedback" event, by the same actor their votes carry, and so re-ranking similar
questions through the ordinary adjustment (min_actors, cap). A vote a failed write lost is stored by the service's
knowledge job, also through the widget, which never repeats the click (never for "other" or outside the window; a
retry that raises does not stop the job). Over the fakes and the tiny kb, on the in-memory store and SQLite; the
ranking test adds a second copy of the password page, so the two tie and only feedback can part them."""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.web.test_widget_self_serve import SECRET, SITE, escalate, solved, visitor

from conftest import ARTICLE_PASSWORD, FAKE_CALIBRATION
from deflect.api import create_app
from deflect.config import Settings
from deflect.domain.escalation import OTHER_PAGE, Escalation, State
from deflect.domain.models import Audience
from deflect.domain.ports import EscalationStore
from deflect.errors import NotFound
from deflect.feedback.desk import utc_now, voter_of
from deflect.service import LOST_VOTES_WITHIN, DeflectService
from deflect.store.sql import SqlStore
from deflect.testing import HashEmbedder, InMemoryIndex
from deflect.testing.store import InMemoryStore
from deflect.web.widgets import Visitor
from deflect.wiring import assemble

PASSWORD = "How do I reset my password?"
SIMILAR = "How can I reset my password?"  # a new question near PASSWORD (cosine 0.83 under the hash embedder)
PAGE = "doc:articles/reset-password"
COPY = "doc:articles/reset-password-again"  # same text, so it ties with PAGE and loses the tie on its id
ME = "customer:me"


def strict(settings: Settings, **update: Any) -> Settings:
    """Every customer question escalates for low confidence alone, with its pages suggested."""
    return settings.model_copy(update={"confidence_threshold": 0.999, **update})


def build(settings: Settings, store: EscalationStore) -> DeflectService:
    service = assemble(settings, InMemoryIndex(), HashEmbedder(), calibration=FAKE_CALIBRATION, store=store)
    service.ingest([settings.kb_dir], settings.kb_dir)
    return service


@pytest.fixture(params=["memory", "sql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> EscalationStore:
    return InMemoryStore() if request.param == "memory" else SqlStore(f"sqlite:///{tmp_path / 'votes.db'}")


@pytest.fixture
def svc(settings: Settings, store: EscalationStore) -> DeflectService:
    return build(strict(settings), store)


def escalated(svc: DeflectService, requester: str = ME, question: str = PASSWORD) -> Escalation:
    result = svc.ask(question, Audience.CUSTOMER, requester=requester)
    assert result.escalation_id is not None and PAGE in [p.source_id for p in result.suggested]
    return svc.desk.get(result.escalation_id)


def test_a_suggested_page_that_solved_it_is_the_requesters_helpful_vote_for_it_audited(svc: DeflectService) -> None:
    assert svc.feedback is not None
    esc = escalated(svc)

    svc.desk.self_serve(esc.id, ME, PAGE)

    [vote] = svc.feedback.list()
    assert vote.answer_id == esc.answer_id and vote.question == PASSWORD
    assert (vote.helpful, vote.correct_source, vote.actor, vote.role) == (True, PAGE, ME, "customer")
    assert (vote.decision, vote.source_ids, vote.comment) == ("escalate", [], None)
    [event] = [e for e in svc.desk.audit(escalation_id=esc.id) if e.action == "feedback"]
    assert (event.actor, event.answer_id) == (ME, esc.answer_id)
    assert event.data["feedback_id"] == vote.id and event.data["correct_source"] == PAGE
    assert event.data["via"] == "self_serve" and event.data["helpful"] is True


def test_once_per_escalation_and_other_records_nothing(svc: DeflectService) -> None:
    assert svc.feedback is not None
    esc, elsewhere = escalated(svc), escalated(svc)

    svc.desk.self_serve(esc.id, ME, PAGE)
    svc.desk.self_serve(esc.id, ME, PAGE)  # a second click
    again = svc.feedback.record_self_served(svc.desk.get(esc.id))  # a retry reaching the desk directly
    svc.desk.self_serve(elsewhere.id, ME, OTHER_PAGE)

    assert again is None
    assert [v.answer_id for v in svc.feedback.list()] == [esc.answer_id]
    assert [e.action for e in svc.desk.audit(escalation_id=elsewhere.id) if e.kind == "action"] == ["self_serve"]
    assert svc.feedback.record_self_served(escalated(svc)) is None  # not self-served: nothing to credit


class BrokenFeedback:
    """Delegates to a store whose feedback writes fail, as a full disk or a dropped connection would."""

    def __init__(self, inner: EscalationStore) -> None:
        self._inner = inner

    def add_feedback(self, *args: Any, **kwargs: Any) -> None:
        raise OSError("disk full")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def test_a_vote_that_cannot_be_stored_never_fails_the_self_serve(
    svc: DeflectService, caplog: pytest.LogCaptureFixture
) -> None:
    assert svc.feedback is not None
    esc = escalated(svc)
    svc.feedback.store = BrokenFeedback(svc.desk.store)  # type: ignore[assignment]

    with caplog.at_level(logging.ERROR, logger="deflect.service"):
        done, message = svc.desk.self_serve(esc.id, ME, PAGE)

    assert done.state is State.SELF_SERVED and svc.desk.get(esc.id).state is State.SELF_SERVED
    assert "nobody will contact you" in message
    assert svc.feedback.list() == []
    assert [r.getMessage() for r in caplog.records] == [
        f"self-served escalation {esc.id}: its page's vote was not stored"
    ]


class FlakyFeedback:
    """Delegates to a store, counting feedback writes; the first `failures` of them fail as a full disk would."""

    def __init__(self, inner: EscalationStore, failures: int = 1) -> None:
        self._inner = inner
        self._failures = failures
        self.writes = 0

    def add_feedback(self, *args: Any, **kwargs: Any) -> None:
        self.writes += 1
        if self.writes <= self._failures:
            raise OSError("disk full")
        self._inner.add_feedback(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def test_a_vote_lost_on_the_withdrawal_is_stored_once_by_the_customers_repeat_click(svc: DeflectService) -> None:
    assert svc.feedback is not None
    esc = escalated(svc)
    flaky = FlakyFeedback(svc.desk.store)
    svc.feedback.store = flaky  # type: ignore[assignment]
    svc.desk.self_serve(esc.id, ME, PAGE)
    assert svc.feedback.list() == [] and flaky.writes == 1
    with pytest.raises(NotFound):
        svc.desk.self_serve(esc.id, "customer:someone-else", PAGE)  # nobody else's click retries it

    again, _ = svc.desk.self_serve(esc.id, ME, OTHER_PAGE)  # the repeat click, even naming another page
    svc.desk.self_serve(esc.id, ME, PAGE)  # and one more

    assert again.state is State.SELF_SERVED and again.self_served_page == PAGE
    [vote] = svc.feedback.list()
    assert (vote.answer_id, vote.helpful, vote.correct_source, vote.actor) == (esc.answer_id, True, PAGE, ME)
    assert vote.via == "self_serve"
    assert flaky.writes == 2  # the lost write and its retry: the last click found the vote and wrote nothing
    actions = [e for e in svc.desk.audit(escalation_id=esc.id) if e.kind == "action"]
    assert [(e.action, e.data.get("via")) for e in actions] == [("self_serve", None), ("feedback", "self_serve")]
    assert svc.desk.store.get(esc.id).version == 2  # the escalation itself was written once


def test_repeat_clicks_after_the_vote_was_stored_write_no_second_one(svc: DeflectService) -> None:
    assert svc.feedback is not None
    esc = escalated(svc)
    counted = FlakyFeedback(svc.desk.store, failures=0)
    svc.feedback.store = counted  # type: ignore[assignment]

    for _ in range(3):
        svc.desk.self_serve(esc.id, ME, PAGE)

    assert counted.writes == 1
    assert [v.via for v in svc.feedback.list()] == ["self_serve"]


def test_a_repeat_click_that_fails_again_is_logged_and_still_succeeds(
    svc: DeflectService, caplog: pytest.LogCaptureFixture
) -> None:
    assert svc.feedback is not None
    esc = escalated(svc)
    svc.feedback.store = FlakyFeedback(svc.desk.store, failures=2)  # type: ignore[assignment]

    with caplog.at_level(logging.ERROR, logger="deflect.service"):
        svc.desk.self_serve(esc.id, ME, PAGE)
        again, message = svc.desk.self_serve(esc.id, ME, PAGE)
    svc.desk.self_serve(esc.id, ME, PAGE)

    assert again.state is State.SELF_SERVED and "nobody will contact you" in message
    assert [r.getMessage() for r in caplog.records] == 2 * [
        f"self-served escalation {esc.id}: its page's vote was not stored"
    ]
    assert [v.correct_source for v in svc.feedback.list()] == [PAGE]  # the third click stored it


def test_through_the_widget_a_repeat_click_stores_the_anonymous_visitors_lost_vote(settings: Settings) -> None:
    widget = strict(settings, widgets={"wid_shop": [SITE]}, widget_identity_secret=SECRET, widget_rate_per_ip=100)
    svc = build(widget, InMemoryStore())
    assert svc.feedback is not None
    client = TestClient(create_app(widget, svc))
    headers = visitor("sess_first_00001")
    escalation_id = escalate(client, headers)
    svc.feedback.store = FlakyFeedback(svc.desk.store)  # type: ignore[assignment]

    first, again = solved(client, escalation_id, headers), solved(client, escalation_id, headers)

    assert (first.status_code, again.status_code) == (200, 200) and first.json() == again.json()
    assert [(v.actor, v.correct_source, v.via) for v in svc.feedback.list()] == [
        ("widget:wid_shop:anonymous", PAGE, "self_serve")
    ]


def test_the_actor_is_the_one_the_requesters_votes_carry() -> None:
    anonymous = [Visitor("wid_shop", SITE, session) for session in ("sess_a_00000001", "sess_b_00000001")]
    signed = Visitor("wid_shop", SITE, "sess_c_00000001", sub="user:session:42")  # a sub may hold anything

    # Anonymous sessions are distinct requesters but one voter, so clearing storage cannot multiply votes.
    assert {voter_of(v.requester) for v in anonymous} == {anonymous[0].voter} == {"widget:wid_shop:anonymous"}
    assert voter_of(signed.requester) == signed.voter == signed.requester
    assert voter_of(ME) == ME  # a customer key: its votes' actor is the requester


def test_through_the_widget_anonymous_sessions_vote_as_the_widgets_one_anonymous_voter(settings: Settings) -> None:
    widget = strict(settings, widgets={"wid_shop": [SITE]}, widget_identity_secret=SECRET, widget_rate_per_ip=100)
    svc = build(widget, InMemoryStore())
    assert svc.feedback is not None
    client = TestClient(create_app(widget, svc))
    askers = [visitor("sess_first_00001"), visitor("sess_second_0001"), visitor("sess_third_00001", sub="user-42")]

    for headers in askers:
        assert solved(client, escalate(client, headers), headers).json()["state"] == "self_served"

    actors = sorted(v.actor for v in svc.feedback.list())
    assert actors == ["widget:wid_shop:anonymous", "widget:wid_shop:anonymous", "widget:wid_shop:user:user-42"]


def with_copy(settings: Settings) -> Settings:
    """The tiny kb plus a second copy of the password page at another path."""
    copy = ARTICLE_PASSWORD.replace("accounts/reset-password", "accounts/reset-password-again")
    (settings.kb_dir / "articles" / "reset-password-again.md").write_text(copy, encoding="utf-8")
    return strict(settings)


def ranked(svc: DeflectService, requester: str) -> list[str]:
    """The pages suggested for SIMILAR, in rank order (a fresh escalation each time)."""
    result = svc.ask(SIMILAR, Audience.CUSTOMER, requester=requester)
    return [p.source_id for p in result.suggested if p.source_id in (PAGE, COPY)]


@pytest.mark.parametrize("distinct", [True, False])
def test_distinct_customers_solving_it_with_one_page_lift_it_for_a_similar_question_on_every_worker(
    settings: Settings, tmp_path: Path, distinct: bool
) -> None:
    settings = with_copy(settings)
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    svc = build(settings, SqlStore(url))
    assert svc.feedback is not None
    needed = svc.feedback.config.min_actors  # 5
    assert ranked(svc, "customer:newcomer") == [PAGE, COPY]  # a tie, broken by id

    for n in range(needed):  # self-serves naming the copy: by `needed` customers, or by one customer that often
        requester = f"customer:{n if distinct else 0}"
        esc = escalated(svc, requester, PASSWORD)
        svc.desk.self_serve(esc.id, requester, COPY)  # refused (422) unless the copy was suggested to them

    another_worker = build(settings, SqlStore(url))  # its own feedback desk: it reads the votes from the database
    expected = [COPY, PAGE] if distinct else [PAGE, COPY]  # one actor has one say: below min_actors, no effect
    assert len(svc.feedback.list()) == needed
    assert ranked(svc, "customer:newcomer") == expected
    assert ranked(another_worker, "customer:newcomer") == expected


# --- the knowledge job stores the votes failed writes lost (the widget never repeats the click) ---------------

LOST = "self-served escalation {}: its page's vote was not stored"


def feedback_actions(svc: DeflectService, escalation_id: str) -> list[Any]:
    return [e for e in svc.desk.audit(escalation_id=escalation_id) if e.action == "feedback"]


def test_the_knowledge_job_stores_a_vote_lost_at_the_withdrawal_exactly_once(
    svc: DeflectService, caplog: pytest.LogCaptureFixture
) -> None:
    assert svc.feedback is not None
    esc = escalated(svc)
    flaky = FlakyFeedback(svc.desk.store, failures=2)  # the withdrawal's write, then the first retry's, fail
    svc.feedback.store = flaky  # type: ignore[assignment]
    with caplog.at_level(logging.ERROR):
        withdrawn, _ = svc.desk.self_serve(esc.id, ME, PAGE)
        first = svc.jobs["knowledge"].run_once()
    assert svc.feedback.list() == [] and flaky.writes == 2
    assert first == {"indexed": 0, "pending": 0, "self_served_votes": {"stored": 0, "failed": 1}}
    assert [r.getMessage() for r in caplog.records] == [
        LOST.format(esc.id),
        LOST.format(esc.id) + " on retry (OSError)",
    ]

    second = svc.jobs["knowledge"].run_once()
    third = svc.jobs["knowledge"].run_once()

    assert second["self_served_votes"] == {"stored": 1, "failed": 0}
    assert third["self_served_votes"] == {"stored": 0, "failed": 0}  # found stored: nothing written
    assert flaky.writes == 3
    [vote] = svc.feedback.list()
    assert (vote.answer_id, vote.helpful, vote.correct_source, vote.actor, vote.via) == (
        esc.answer_id,
        True,
        PAGE,
        ME,
        "self_serve",
    )
    assert vote.at == withdrawn.timestamps[State.SELF_SERVED]  # cast at the withdrawal, whenever it was stored
    [event] = feedback_actions(svc, esc.id)
    assert event.data["feedback_id"] == vote.id and event.data["via"] == "self_serve"
    assert svc.desk.store.get(esc.id).version == 2  # the retry never writes the escalation itself


def test_other_a_vote_already_stored_and_an_escalation_outside_the_windows_are_not_touched(
    svc: DeflectService,
) -> None:
    assert svc.feedback is not None
    lost, other, voted, still_open = escalated(svc), escalated(svc), escalated(svc), escalated(svc)
    svc.desk.self_serve(voted.id, ME, PAGE)  # its vote is stored at once
    flaky = FlakyFeedback(svc.desk.store, failures=1)
    svc.feedback.store = flaky  # type: ignore[assignment]
    svc.desk.self_serve(lost.id, ME, PAGE)  # its vote is lost
    svc.desk.self_serve(other.id, ME, OTHER_PAGE)  # "other" credits no page: no vote to lose
    assert flaky.writes == 1 and [v.answer_id for v in svc.feedback.list()] == [voted.answer_id]

    year = svc.feedback.config.max_age_days

    def later(days: float) -> None:
        svc.feedback.clock = lambda: utc_now() + timedelta(days=days)  # type: ignore[union-attr]

    later(LOST_VOTES_WITHIN.days + 1)  # the job looks back a week: the lost one was raised before that
    assert svc.store_lost_self_served_votes() == {"stored": 0, "failed": 0}
    later(year + 1)  # the sweep looks back over the votes' window: still too old for it a year and a day on
    assert svc.feedback.store_lost_self_served_votes() == {"stored": 0, "failed": 0}
    assert flaky.writes == 1

    later(LOST_VOTES_WITHIN.days + 1)  # inside the votes' window: the sweep finds the same lost vote, nothing else
    assert svc.feedback.store_lost_self_served_votes(limit=None) == {"stored": 1, "failed": 0}
    assert flaky.writes == 2
    assert sorted(v.answer_id for v in svc.feedback.list()) == sorted([voted.answer_id, lost.answer_id])
    assert feedback_actions(svc, other.id) == [] and feedback_actions(svc, still_open.id) == []
    assert svc.desk.get(still_open.id).state is State.ESCALATED


class LookupFails:
    """Delegates to a store whose search for lost votes raises its first `failures` times, as a dropped database
    connection would."""

    def __init__(self, inner: Any, failures: int) -> None:
        self._inner = inner
        self._failures = failures
        self.lookups = 0

    def self_served_without_vote(self, **kwargs: Any) -> Any:
        self.lookups += 1
        if self.lookups <= self._failures:
            raise RuntimeError("server closed the connection unexpectedly")
        return self._inner.self_served_without_vote(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def test_a_retry_that_raises_is_logged_and_reported_and_pending_knowledge_is_still_indexed(
    svc: DeflectService, caplog: pytest.LogCaptureFixture
) -> None:
    assert svc.feedback is not None
    svc.feedback.store = LookupFails(svc.desk.store, failures=1)  # type: ignore[assignment]
    job = svc.jobs["knowledge"]
    indexed: list[str] = []
    svc.index_pending_knowledge = lambda: indexed.append("ran") or {"indexed": 0, "pending": 0}  # type: ignore[method-assign]

    with caplog.at_level(logging.ERROR, logger="deflect.service"):
        result = job.run_once()

    assert result == {
        "indexed": 0,
        "pending": 0,
        "self_served_votes": {"error": "RuntimeError: server closed the connection unexpectedly"},
    }
    assert indexed == ["ran"] and job.last_error is None
    assert [r.getMessage() for r in caplog.records] == [
        "self-serve votes: the retry failed; the knowledge job's next run tries again"
    ]


def test_the_job_loop_survives_retries_that_raise_and_stores_the_vote_once_they_stop(svc: DeflectService) -> None:
    assert svc.feedback is not None
    esc = escalated(svc)
    svc.feedback.store = FlakyFeedback(svc.desk.store, failures=1)  # type: ignore[assignment]
    svc.desk.self_serve(esc.id, ME, PAGE)
    lookups = LookupFails(svc.desk.store, failures=3)
    svc.feedback.store = lookups  # type: ignore[assignment]
    job = svc.jobs["knowledge"]
    job.interval_s = 0.01  # the server's loop, many runs a second

    job.start()
    try:
        deadline = time.monotonic() + 30
        while not svc.feedback.list() and time.monotonic() < deadline:
            time.sleep(0.01)
        alive = job.status()["running"]
    finally:
        job.stop()

    assert alive and lookups.lookups > 3 and job.runs > 3
    assert [(v.answer_id, v.correct_source) for v in svc.feedback.list()] == [(esc.answer_id, PAGE)]


def test_through_the_widget_one_click_whose_vote_is_lost_gets_it_stored_by_the_running_servers_job(
    settings: Settings,
) -> None:
    widget = strict(
        settings,
        widgets={"wid_shop": [SITE]},
        widget_identity_secret=SECRET,
        widget_rate_per_ip=100,
        knowledge_retry_s=0.05,
    )
    svc = build(widget, InMemoryStore())
    assert svc.feedback is not None
    with TestClient(create_app(widget, svc)) as client:  # its lifespan starts the jobs, as `deflect serve` does
        headers = visitor("sess_first_00001")
        escalation_id = escalate(client, headers)
        svc.feedback.store = FlakyFeedback(svc.desk.store)  # type: ignore[assignment]

        clicked = solved(client, escalation_id, headers)  # the only click: the widget removes its buttons
        deadline = time.monotonic() + 30
        while not svc.feedback.list() and time.monotonic() < deadline:
            time.sleep(0.02)

    assert clicked.status_code == 200 and clicked.json()["state"] == "self_served"
    assert [(v.actor, v.correct_source, v.via) for v in svc.feedback.list()] == [
        ("widget:wid_shop:anonymous", PAGE, "self_serve")
    ]
