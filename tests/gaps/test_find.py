"""find_gaps over the fakes: window, clusters, nearest sources, and both flags with their true and false cases."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from deflect.gaps import GapQuestion, GapReport, Resolution, find_gaps
from deflect.gaps.store import escalated_questions, resolutions
from deflect.testing import HashEmbedder, InMemoryIndex

from .builders import (
    INVOICE,
    LONELY,
    NOW,
    PARAMS,
    PASSWORD,
    SLACK,
    WINDOW,
    Desk,
    chunk,
    days_ago,
    esc_chunk,
    index_of,
    question,
)

ARTICLE_PASSWORD = "Forgot your password? If you cannot log in, open the sign in page and reset the password."
ARTICLE_INVOICE = "Download an invoice as a PDF from Settings, Billing, Invoices: click download next to the invoice."
ARTICLE_SLACK_OLD = (
    "Duplicate Slack notifications in a channel: disconnect the Slack integration and connect it again "
    "to fix duplicate notifications."
)
FIX_SLACK = (
    "Don't disconnect Slack any more: duplicate notifications are now fixed with the Re-authorize button under "
    "Settings > Integrations, which keeps every channel mapping; disconnecting deletes the mappings."
)
FIX_SLACK_NO_CUE = (
    "Duplicate notifications came from a legacy installation; clicking Re-authorize under Settings > Integrations "
    "removed it and kept every channel mapping."
)


def run(
    questions: Sequence[GapQuestion], index: InMemoryIndex, resolved: Sequence[Resolution] = (), min_size: int = 2
) -> GapReport:
    return find_gaps(questions, HashEmbedder(), index, resolved, NOW, WINDOW, min_size, PARAMS)


def kb(embedder: HashEmbedder | None = None, slack_updated: str = "2026-01-15") -> InMemoryIndex:
    return index_of(
        embedder or HashEmbedder(),
        chunk("doc:password", ARTICLE_PASSWORD, "2026-01-01", title="Resetting your password"),
        chunk("doc:invoices", ARTICLE_INVOICE, "2026-01-01", title="Downloading invoices"),
        chunk("doc:slack", ARTICLE_SLACK_OLD, slack_updated, title="Slack notifications"),
    )


def slack_resolved(fix: str = FIX_SLACK) -> tuple[Desk, str]:
    """A desk whose slack escalation (20 days ago) was resolved 18 days ago, then two more slack escalations."""
    desk = Desk()
    first = desk.escalate(SLACK[0], days=20)
    desk.resolve(first, fix, days=18)
    desk.escalate(SLACK[1], days=10)
    desk.escalate(SLACK[0], days=5)
    return desk, first.id


def questions_of(desk: Desk) -> list[GapQuestion]:
    return escalated_questions(desk.store, NOW - WINDOW, NOW)


# --- window, clusters, sizes --------------------------------------------------------------------------------------


def test_empty_input_gives_an_empty_report() -> None:
    report = run([], kb())

    assert report.clusters == []
    assert (report.questions, report.escalated, report.unhelpful, report.clustered) == (0, 0, 0, 0)
    assert report.since == NOW - WINDOW
    assert report.until == NOW


def test_clusters_group_paraphrases_largest_first() -> None:
    qs = [question(t, d) for d, t in enumerate([*PASSWORD, *INVOICE, LONELY], start=1)]

    report = run(qs, kb())

    assert [c.size for c in report.clusters] == [3, 2]  # the lonely question is below min_size
    password, invoice = report.clusters
    assert set(password.examples) == set(PASSWORD)
    assert set(invoice.examples) == set(INVOICE)
    assert [c.id for c in report.clusters] == ["gap-1", "gap-2"]
    assert report.questions == 6
    assert report.clustered == 5
    assert password.first_at == days_ago(3) and password.last_at == days_ago(1)


def test_min_size_filters_clusters() -> None:
    qs = [question(t, 1) for t in [*PASSWORD, *INVOICE, LONELY]]

    assert [c.size for c in run(qs, kb(), min_size=1).clusters] == [3, 2, 1]
    assert [c.size for c in run(qs, kb(), min_size=3).clusters] == [3]
    assert run(qs, kb(), min_size=4).clusters == []


def test_only_questions_inside_the_window_count() -> None:
    inside = [question(PASSWORD[0], 0), question(PASSWORD[1], 29.9)]
    outside = [question(PASSWORD[2], 30.1), question(PASSWORD[0], -0.1)]  # too old, and in the future

    report = run([*inside, *outside], kb(), min_size=1)

    assert report.questions == 2
    assert [c.size for c in report.clusters] == [2]


def test_examples_are_capped_and_distinct() -> None:
    qs = [question(PASSWORD[i % 3], i / 10) for i in range(12)]

    (only,) = run(qs, kb()).clusters

    assert only.size == 12
    assert sorted(only.examples) == sorted(PASSWORD)  # three distinct texts, not five copies
    assert only.label in PASSWORD


def test_unhelpful_feedback_joins_and_an_answer_counts_once() -> None:
    qs = [
        question(PASSWORD[0], 2, escalation_id="esc_1", answer_id="ans_1"),
        question(PASSWORD[0], 1, origin="unhelpful", answer_id="ans_1"),  # the same answer: counted once
        question(PASSWORD[1], 1, origin="unhelpful", answer_id="ans_2"),
    ]

    report = run(qs, kb())

    assert (report.questions, report.escalated, report.unhelpful) == (2, 1, 1)
    (only,) = report.clusters
    assert (only.escalated, only.unhelpful, only.escalation_ids) == (1, 1, ["esc_1"])


def test_the_report_does_not_depend_on_input_order() -> None:
    qs = [question(t, d) for d, t in enumerate([*PASSWORD, *INVOICE, *SLACK, LONELY], start=1)]

    first = run(qs, kb())
    again = run(list(reversed(qs)), kb())

    assert first.model_dump() == again.model_dump()


# --- nearest sources ----------------------------------------------------------------------------------------------


def test_nearest_sources_are_the_kb_sources_closest_to_the_centroid() -> None:
    qs = [question(t, 1) for t in [*PASSWORD, *INVOICE]]

    password, invoice = run(qs, kb()).clusters

    assert password.nearest_sources[0].source_id == "doc:password"
    assert password.nearest_sources[0].title == "Resetting your password"
    assert invoice.nearest_sources[0].source_id == "doc:invoices"
    for cluster in (password, invoice):
        scores = [s.score for s in cluster.nearest_sources]
        assert scores == sorted(scores, reverse=True)
        assert len({s.source_id for s in cluster.nearest_sources}) == len(cluster.nearest_sources) == 3
    assert password.nearest_sources[0].score > 0.4 > password.nearest_sources[-1].score


def test_nearest_sources_of_an_empty_index_are_empty() -> None:
    (only,) = run([question(t, 1) for t in PASSWORD], InMemoryIndex()).clusters

    assert only.nearest_sources == []
    assert not only.contradicted_article


# --- recurring_after_resolution -----------------------------------------------------------------------------------


def test_escalations_after_a_resolution_in_the_cluster_recur() -> None:
    desk, resolved_id = slack_resolved()

    (slack,) = run(questions_of(desk), kb(), resolutions(desk.store)).clusters

    assert slack.size == 3
    assert slack.recurring_after_resolution
    (rec,) = slack.recurrences
    assert rec.resolution_id == resolved_id
    assert rec.resolved_at == days_ago(18)
    assert rec.later == 2
    assert resolved_id not in rec.later_escalation_ids and len(rec.later_escalation_ids) == 2


def test_no_recurrence_when_every_question_came_before_the_resolution() -> None:
    desk = Desk()
    first = desk.escalate(SLACK[0], days=20)
    desk.escalate(SLACK[1], days=10)
    desk.resolve(first, FIX_SLACK, days=2)

    (slack,) = run(questions_of(desk), kb(), resolutions(desk.store)).clusters

    assert not slack.recurring_after_resolution
    assert slack.recurrences == []


def test_an_unrelated_resolution_does_not_make_a_cluster_recur() -> None:
    desk = Desk()
    other = desk.escalate(INVOICE[0], days=25)
    desk.resolve(other, "The invoice is under Settings > Billing > Invoices.", days=24)
    desk.escalate(SLACK[0], days=10)
    desk.escalate(SLACK[1], days=5)

    clusters = run(questions_of(desk), kb(), resolutions(desk.store)).clusters

    (slack,) = [c for c in clusters if SLACK[0] in c.examples]
    assert not slack.recurring_after_resolution


def test_a_resolution_from_before_the_window_still_counts() -> None:
    desk = Desk()
    old = desk.escalate(SLACK[0], days=60)
    desk.resolve(old, FIX_SLACK, days=59)
    desk.escalate(SLACK[1], days=10)
    desk.escalate(SLACK[0], days=5)

    (slack,) = run(questions_of(desk), kb(), resolutions(desk.store)).clusters

    assert slack.size == 2  # the old escalation is outside the window...
    assert [r.resolution_id for r in slack.recurrences] == [old.id]  # ...but its resolution is known


def test_a_similar_esc_source_in_the_kb_counts_as_a_resolution() -> None:
    embedder = HashEmbedder()
    index = index_of(
        embedder,
        chunk("doc:slack", ARTICLE_SLACK_OLD, "2026-06-25"),
        esc_chunk("ESC-7", SLACK[1], FIX_SLACK_NO_CUE, "2026-05-01T10:00:00Z"),
    )
    qs = [question(SLACK[0], 20), question(SLACK[1], 3)]

    (slack,) = run(qs, index).clusters

    (rec,) = slack.recurrences
    assert (rec.resolution_id, rec.source_id, rec.later) == ("ESC-7", "esc:ESC-7", 2)


def test_an_esc_source_about_something_else_is_not_a_resolution_of_the_cluster() -> None:
    index = index_of(
        HashEmbedder(),
        chunk("doc:slack", ARTICLE_SLACK_OLD, "2026-06-25"),
        esc_chunk("ESC-8", "where is my invoice PDF for slack billing", "Settings > Billing.", "2026-05-01"),
    )
    qs = [question(SLACK[0], 20), question(SLACK[1], 3)]

    (slack,) = run(qs, index).clusters

    assert "esc:ESC-8" in [s.source_id for s in slack.nearest_sources]  # near enough to be listed...
    assert not slack.recurring_after_resolution  # ...but its question would not have joined the cluster


# --- contradicted_article -----------------------------------------------------------------------------------------


def test_an_older_article_contradicted_by_a_newer_resolution_is_flagged() -> None:
    desk, resolved_id = slack_resolved()

    (slack,) = run(questions_of(desk), kb(), resolutions(desk.store)).clusters

    assert slack.contradicted_article
    (c,) = slack.contradictions
    assert (c.source_id, c.source_kind, c.source_updated) == ("doc:slack", "article", "2026-01-15")
    assert (c.resolution_id, c.resolved_at) == (resolved_id, days_ago(18))
    assert c.similarity >= PARAMS.contradiction_threshold
    assert c.overlap < PARAMS.max_overlap
    assert "don't" in c.cues and "now" in c.cues


def test_an_article_updated_after_the_resolution_is_not_contradicted() -> None:
    desk, _ = slack_resolved()

    (slack,) = run(questions_of(desk), kb(slack_updated="2026-06-20"), resolutions(desk.store)).clusters

    assert slack.recurring_after_resolution  # the knowledge still is not working...
    assert not slack.contradicted_article  # ...but the article is newer than the resolution


def test_a_resolution_without_replacement_cues_does_not_contradict() -> None:
    desk, _ = slack_resolved(FIX_SLACK_NO_CUE)

    (slack,) = run(questions_of(desk), kb(), resolutions(desk.store)).clusters

    assert not slack.contradicted_article


def test_a_resolution_the_article_already_states_does_not_contradict() -> None:
    desk, _ = slack_resolved("Now: " + ARTICLE_SLACK_OLD)  # a cue, but the article says exactly this

    (slack,) = run(questions_of(desk), kb(), resolutions(desk.store)).clusters

    assert not slack.contradicted_article


def test_a_resolution_less_similar_than_the_threshold_does_not_contradict() -> None:
    contradiction_off = PARAMS.model_copy(update={"contradiction_threshold": 0.95})
    desk, _ = slack_resolved()

    report = find_gaps(
        questions_of(desk), HashEmbedder(), kb(), resolutions(desk.store), NOW, WINDOW, 2, contradiction_off
    )

    assert not report.clusters[0].contradicted_article


def test_kb_escalations_supersede_older_ones() -> None:
    # The sample kb's pattern: an old ticket's workaround, then a newer ticket saying not to do it any more.
    index = index_of(
        HashEmbedder(),
        esc_chunk("ESC-1", SLACK[0], "Disconnect the Slack integration and connect it again.", "2026-02-01"),
        esc_chunk("ESC-2", SLACK[1], FIX_SLACK, "2026-05-01T09:00:00Z"),
    )
    qs = [question(SLACK[0], 9), question(SLACK[1], 4)]

    (slack,) = run(qs, index).clusters

    assert {r.resolution_id for r in slack.recurrences} == {"ESC-1", "ESC-2"}
    (c,) = slack.contradictions
    assert (c.source_id, c.source_kind, c.resolution_id, c.resolution_source_id) == (
        "esc:ESC-1",
        "escalation",
        "ESC-2",
        "esc:ESC-2",
    )


def test_a_resolution_never_contradicts_its_own_source() -> None:
    index = index_of(HashEmbedder(), esc_chunk("ESC-2", SLACK[1], FIX_SLACK, "2026-05-01"))
    qs = [question(SLACK[0], 9), question(SLACK[1], 4)]

    (slack,) = run(qs, index).clusters

    assert slack.recurring_after_resolution
    assert not slack.contradicted_article


def test_window_length_is_respected_by_the_report() -> None:
    report = find_gaps([question(PASSWORD[0], 5)], HashEmbedder(), kb(), [], NOW, timedelta(days=3), 1, PARAMS)

    assert report.questions == 0
    assert report.since == NOW - timedelta(days=3)
