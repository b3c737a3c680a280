"""An agent's reply without the greeting and sign-off that were for one customer (deflect.ingest.salutations)."""

from __future__ import annotations

import pytest

from deflect.ingest.salutations import substance


@pytest.mark.parametrize(
    ("reply", "kept"),
    [
        ("Hello [NAME], use --exclude-caches on create.\n\nBest,\n[NAME]", "use --exclude-caches on create."),
        ("Hi [NAME]! Use borg key change-passphrase REPO. Cheers, Mark", "Use borg key change-passphrase REPO."),
        ("Hi,\nRestart the agent.\n\nThanks!", "Restart the agent."),
        ("[NAME], prune rules apply per --prefix. Hope this helps!", "prune rules apply per --prefix."),
        (
            "Dear customer,\n\nWe refunded it.\n\nKind regards\nThe Acme Support Team\nAcme Ltd.",
            "We refunded it.",
        ),
        ("Run the export.\n-- [NAME], [EMAIL]\nAcme Support", "Run the export."),
        ("Set timeout to 30.\n\nLet me know if you have any other questions!\n\nThanks,\n[NAME]", "Set timeout to 30."),
    ],
)
def test_greetings_sign_offs_signatures_and_pleasantries_are_taken_off(reply: str, kept: str) -> None:
    assert substance(reply) == kept


@pytest.mark.parametrize(
    "text",
    [
        "Hello world programs print text. Run `print('hi')`.",  # "Hello" that greets nobody
        "Regards are sent with the `regards` command.",
        "Use the Best-fit option, then Thanks page shows.",
        "[NAME] and I checked the logs: the job was stuck.",  # a name in the substance is not a greeting
        "Install the llfuse package, then borg mount works.",
    ],
)
def test_text_without_a_greeting_or_sign_off_is_unchanged(text: str) -> None:
    assert substance(text) == text


def test_a_reply_that_is_only_a_greeting_and_sign_off_is_kept_whole() -> None:
    assert substance("Thanks,\nSam") == "Thanks,\nSam"
