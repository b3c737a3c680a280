"""People the text itself names, found without a packet's names: the shapes of support text, and the product
names, commands and capitalised words around them that must be left alone."""

from __future__ import annotations

import pytest

from deflect.pii import scrub
from deflect.pii.people import people


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # The tester's resolution: a contact named after "with", then the given name alone.
        (
            "Spoke with Jane Doe (jane.doe@example.org, +1 415 555 0132). Jane confirmed it works.",
            "Spoke with [NAME] ([EMAIL], [PHONE]). [NAME] confirmed it works.",
        ),
        (
            "Got a reply from Liam Byrne: the proxy strips the header.",
            "Got a reply from [NAME]: the proxy strips the header.",
        ),
        ("Reported by Fatima; fixed in 4.3.", "Reported by [NAME]; fixed in 4.3."),
        ("Dear Ms Okonkwo, we refunded it.", "Dear Ms [NAME], we refunded it."),
        ("Hi Marcus, the export is fixed.", "Hi [NAME], the export is fixed."),
        ("Restarted the worker.\nThanks,\nTomás Herrera", "Restarted the worker.\nThanks,\n[NAME]"),
        ("Thanks, Aiko! It works.", "Thanks, [NAME]! It works."),
        (
            "Customer contact Sofia Rossi confirmed it; Rossi closed the ticket.",
            "Customer contact [NAME] confirmed it; [NAME] closed the ticket.",
        ),
        ("Hi, my name is Peter Novak. How do I …", "Hi, my name is [NAME]. How do I …"),
        ("Hi, I'm Carla Gomez from finance.", "Hi, I'm [NAME] from finance."),
        ("Their admin, Anna-Lena Vogt, removed it.", "Their admin, [NAME], removed it."),
    ],
)
def test_people_named_in_support_text_are_scrubbed(text: str, expected: str) -> None:
    assert scrub(text).text == expected


@pytest.mark.parametrize(
    "text",
    [
        "Sign in with Okta or Google Workspace, then open Settings > Security.",
        "Export from Google Sheets and import the CSV with Quiverly Sync.",
        "Managed by Microsoft Intune; deployed with Visual Studio Code.",
        "Run fish_update_completions, then chsh -s /usr/bin/fish and log in again.",
        "Hi team, the nightly export is stuck. Thanks, Support",
        "Dear Customer, your workspace moved. Best regards, The Quiverly Team",
        "Thanks, Quiverly Support",
        "Connect with GitHub Actions or GitLab CI from the Integrations page.",
        "Cleared the cache. Restarted the worker. Tested on Windows Server and Ubuntu.",
        "Grace period is 30 days. Ruby Gems and Julia packages are supported.",
        "Hi, I'm using the Slack integration with Microsoft Teams as well.",
        "This is Quiverly's Data Retention policy, set by Workspace Owners.",
        "Will Page break? May Day release. Mark Complete.",
    ],
)
def test_product_names_commands_and_capitalised_words_are_left_alone(text: str) -> None:
    assert scrub(text).text == text


def test_a_found_name_is_matched_as_written_only() -> None:
    # Found in a greeting: the capitalised word again is that person, a lower-case word of the same letters is not.
    assert people("Hi Robin, the robin icon is back. Robin, reload the page.") == ["Robin"]
    assert scrub("Hi Robin, the robin icon is back.").text == "Hi [NAME], the robin icon is back."


@pytest.mark.parametrize(
    ("text", "person"),
    [
        ("Run borg extract.\n-- Sven Olsen, support", "Sven Olsen"),  # a signature line, whatever the name
        ("Escalated by Torvald Brekke (torvald.brekke@acme.example).", "Torvald Brekke"),  # the address spells it
        ("I told Bob Smith to restore the archive.", "Bob Smith"),  # a common given name
    ],
)
def test_people_named_in_a_signature_by_their_address_or_by_a_common_given_name(text: str, person: str) -> None:
    assert person in people(text)


def test_an_address_that_spells_no_name_written_out_names_nobody() -> None:
    assert people("Write to no.reply@acme.example; sales.team@acme.example answers.") == []
