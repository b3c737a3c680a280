"""build_checklist(): filled from the customer's own words where there is evidence, missing (None) otherwise."""

from __future__ import annotations

import pytest

from deflect.domain.escalation import SearchedSource
from deflect.escalations import build_checklist

KEYS = ["error_message", "steps_to_reproduce", "environment", "already_tried", "impact", "previous_contact"]


def values(
    question: str, conversation: list[str] | None = None, sources: list[SearchedSource] | None = None
) -> dict[str, str | None]:
    items = build_checklist(question, conversation or [], sources or [])
    assert [i.key for i in items] == KEYS
    return {i.key: i.value for i in items}


def test_a_plain_how_to_question_fills_nothing() -> None:
    items = build_checklist("How do I download my invoice?", [], [])

    assert [i.key for i in items] == KEYS
    assert all(i.missing and i.value is None for i in items)
    assert [i.label for i in items] == [
        "Error message",
        "Steps to reproduce",
        "Environment / version",
        "Already tried",
        "Impact and urgency",
        "Previous communication",
    ]


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ('Saving fails and it says "Session expired, please sign in again".', "Session expired, please sign in again"),
        ("I get error E1042 when I upload", "E1042"),
        ("Login shows SSO-102 every morning", "SSO-102"),
        ("The export endpoint returns HTTP 503", "HTTP 503"),
        ("I keep getting a 404 Not Found on the report link", "404 Not Found"),
        ("The SDK throws NullPointerException on init", "NullPointerException"),
        ("Python raises TimeoutError after a minute", "TimeoutError"),
        ("The error message reads 'Quota exceeded'", "Quota exceeded"),
    ],
)
def test_error_messages(question: str, expected: str) -> None:
    assert expected in (values(question)["error_message"] or "")


@pytest.mark.parametrize(
    "question",
    [
        "Where is the 'Export' button?",  # a quoted UI label, not an error
        "Can you resend invoice INV-2041?",  # a reference number, not an error code
        "We have 500 users on the Pro plan",  # a count, not a status code
        "What does Error mean in the status column?",
    ],
)
def test_no_error_message_is_invented(question: str) -> None:
    assert values(question)["error_message"] is None


def test_several_error_clues_are_listed_in_reading_order() -> None:
    question = "Our API returns 401 Unauthorized with code AUTH-17 and the log shows PermissionError."

    assert values(question)["error_message"] == "401 Unauthorized | AUTH-17 | PermissionError"


def test_numbered_steps() -> None:
    question = "Steps:\n1. Open Reports\n2. Pick last month\n3) Click Export\nThen the page freezes."

    steps = values(question)["steps_to_reproduce"]

    assert steps == "1. Open Reports 2. Pick last month 3) Click Export"


@pytest.mark.parametrize(
    "question",
    [
        "When I click Export, nothing happens.",
        "Every time I open the dashboard it logs me out",
        "First I select a team, then the page goes blank",
        "1) open settings 2) click save and it spins forever",
    ],
)
def test_narrated_steps(question: str) -> None:
    assert values(question)["steps_to_reproduce"]


@pytest.mark.parametrize("question", ["I want to know when I will be billed", "1. Is there an API?"])
def test_no_steps_are_invented(question: str) -> None:
    assert values(question)["steps_to_reproduce"] is None


def test_environment_collects_browser_os_version_sdk_and_plan() -> None:
    question = (
        "On Chrome 121 on Windows 11 with app version 4.2.1 and the Python SDK 2.3, we are on the Business plan. "
        "It also fails on macOS Sonoma with v3.9."
    )

    env = values(question)["environment"] or ""

    for part in [
        "Chrome 121",
        "Windows 11",
        "version 4.2.1",
        "Python SDK 2.3",
        "Business plan",
        "macOS Sonoma",
        "v3.9",
    ]:
        assert part in env, part


def test_no_environment_from_ordinary_words() -> None:
    assert values("Which edge cases does the importer skip?")["environment"] is None


def test_already_tried_includes_what_deflect_showed() -> None:
    sources = [
        SearchedSource(
            source_id="a", title="Exporting reports", url="https://help.example/export", score=0.8, shown=True
        ),
        SearchedSource(source_id="b", title="Report limits", score=0.5, shown=False),
    ]

    tried = values("I already cleared the cache and restarted the app.", sources=sources)["already_tried"] or ""

    assert "I already cleared the cache and restarted the app." in tried
    assert "Exporting reports (https://help.example/export)" in tried
    assert "Report limits" not in tried  # searched but never shown to the asker


def test_a_shown_article_quoted_to_the_asker_says_so() -> None:
    shown = [
        SearchedSource(source_id="a", title="Exporting reports", score=0.8, shown=True, excerpt="Click Export. [1]"),
        SearchedSource(source_id="b", title="Report limits", score=0.7, shown=True),
    ]

    assert values("Export is stuck", sources=shown)["already_tried"] == (
        "KB articles deflect already showed: Exporting reports, with a quoted excerpt; Report limits"
    )


def test_shown_articles_alone_fill_already_tried() -> None:
    shown = [SearchedSource(source_id="a", title="Exporting reports", score=0.8, shown=True)]

    assert (
        values("Export is stuck", sources=shown)["already_tried"]
        == "KB articles deflect already showed: Exporting reports"
    )


def test_impact_and_urgency() -> None:
    impact = values("Our whole team is blocked and we have a board deadline. 35 users cannot export.")["impact"] or ""

    assert "blocked" in impact
    assert "35 users cannot export." in impact


@pytest.mark.parametrize(
    ("conversation", "question"),
    [
        ([], "I emailed support last week and heard nothing."),
        ([], "This is about ticket #48213 again"),
        ([], "Same problem as case INC-7781"),
        (["This is the third time I'm asking."], "Any update?"),
        ([], "I spoke with your agent on Monday and she promised a fix"),
    ],
)
def test_previous_communication(conversation: list[str], question: str) -> None:
    assert values(question, conversation)["previous_contact"]


@pytest.mark.parametrize(
    "question",
    [
        "It worked fine last week.",
        "I called the API twice and got different totals",
        "I opened the settings page",
        "The API returns 401 Unauthorized (request id 88213)",
    ],
)
def test_no_previous_communication_is_invented(question: str) -> None:
    assert values(question)["previous_contact"] is None


def test_earlier_messages_are_read_and_repeats_are_kept_once() -> None:
    conversation = ["It says 'Upload failed'.", "It says 'Upload failed'."]

    result = values("Still broken.", conversation)

    assert result["error_message"] == "Upload failed"


def test_long_sentences_are_clipped() -> None:
    question = "We are blocked " + "because of this " * 40

    impact = values(question)["impact"] or ""

    assert len(impact) <= 240
    assert impact.endswith("…")
