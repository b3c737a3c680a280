"""scrub() as a whole: merging, offsets, idempotence, robustness, and text it must leave alone."""

from __future__ import annotations

import random
import string
from pathlib import Path

import pytest

from deflect.evaluation.pii_eval import load_snippets
from deflect.pii import Finding, PiiKind, Scrubbed, find_pii, merge, scrub

EVAL = Path(__file__).resolve().parents[2] / "eval" / "pii"
F = Finding


def test_merge_joins_overlaps_and_keeps_the_higher_priority_kind() -> None:
    findings = [F(10, 20, PiiKind.NAME), F(0, 5, PiiKind.PHONE), F(15, 30, PiiKind.EMAIL), F(30, 35, PiiKind.IP)]

    assert merge(findings) == [F(0, 5, PiiKind.PHONE), F(10, 30, PiiKind.EMAIL), F(30, 35, PiiKind.IP)]


def test_merge_of_contained_findings() -> None:
    assert merge([F(0, 40, PiiKind.TOKEN), F(7, 40, PiiKind.API_KEY), F(8, 9, PiiKind.NAME)]) == [
        F(0, 40, PiiKind.API_KEY)
    ]


def test_overlapping_detections_become_one_placeholder() -> None:
    # The name matches inside the address, "token" names a value that is also a prefixed key.
    assert scrub("write to jane.doe@example.com", ("Jane Doe",)).text == "write to [EMAIL]"
    assert scrub("token=qv_live_7Hd92KsLq0Pz4WmX8Rt3Vb").text == "token=[API_KEY]"


def test_findings_are_offsets_into_the_original_text() -> None:
    text = "Jane (jane@example.com) from 203.0.113.9"
    result = scrub(text, ("Jane Doe",))

    assert [(f.kind, text[f.start : f.end]) for f in result.findings] == [
        (PiiKind.NAME, "Jane"),
        (PiiKind.EMAIL, "jane@example.com"),
        (PiiKind.IP, "203.0.113.9"),
    ]
    assert result.text == "[NAME] ([EMAIL]) from [IP]"
    assert result.changed
    assert result.counts() == {"NAME": 1, "EMAIL": 1, "IP": 1}


def test_nothing_found() -> None:
    assert scrub("How do I export a board?") == Scrubbed("How do I export a board?", ())
    assert not scrub("").changed


@pytest.mark.parametrize(
    "text",
    [
        "Mail jane@example.com, call +1 202 555 0143, card 4111 1111 1111 1111.",
        "password=[TOKEN] and [EMAIL] already scrubbed",
        "Authorization: Bearer qv_live_7Hd92KsLq0Pz4WmX8Rt3Vb from 2001:db8::1",
        "IBAN GB82 WEST 1234 5698 7654 32 for Email Name",
    ],
)
def test_scrubbing_is_idempotent(text: str) -> None:
    names = ("Email Name", "Jane Doe")
    once = scrub(text, names).text

    assert scrub(once, names).text == once


def test_scrubbing_every_labelled_snippet_twice_changes_nothing_more() -> None:
    snippets = [s for path in sorted(EVAL.glob("*.jsonl")) for s in load_snippets(path)]
    assert len(snippets) >= 140

    for snippet in snippets:
        once = scrub(snippet.text, snippet.names).text
        assert scrub(once, snippet.names).text == once, snippet.id


def test_placeholders_are_never_rescrubbed_even_when_a_name_spells_one() -> None:
    assert scrub("[EMAIL] and [NAME]", ("Email", "Name")).text == "[EMAIL] and [NAME]"


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        "\x00\x01\x02\xff\ufffd" * 1000,
        bytes(range(256)).decode("latin-1") * 50,
        "1 " * 50_000,
        "a@" * 50_000,
        "+1 " * 50_000,
        "password=" * 10_000,
        "\u202e\u200bjane@example.com\u200b",
    ],
)
def test_odd_input_never_raises(text: str) -> None:
    result = scrub(text, ("Jane Doe",))

    assert isinstance(result.text, str)
    assert all(0 <= f.start < f.end <= len(text) for f in result.findings)


def test_huge_text_is_scrubbed_whole() -> None:
    chunk = "Ticket ESC-1042: Jane Doe <jane@example.com> paid with 4111 1111 1111 1111 from 203.0.113.5. "
    text = chunk * 10_000  # about 1 MB

    result = scrub(text, ("Jane Doe",))

    assert result.counts() == {"NAME": 10_000, "EMAIL": 10_000, "CARD": 10_000, "IP": 10_000}
    assert "jane@" not in result.text and "4111" not in result.text


# Without digits, "@", ":" or "=", no detector can fire (each needs a digit, an address sign or an assignment;
# the one exception is a PEM private-key block), unless names are given or the text names a person (a known given
# name, a greeting: deflect.pii.people, tested on its own): random text of that kind must come back unchanged.
# hypothesis is not a dependency of the project, so the cases come from a seeded generator.
_WORDS = (
    "password token secret key Bearer Basic api_key call phone mobile card Visa IBAN IP address version build "
    "order ticket email at dot com the a of Quiverly board export SSO Settings > Security eyJ sk_live "
    "qv_live_ qv_pat_ ghp_ AKIA xoxb- fe ab cafe dead beef . , ; ! ? ' \" ( ) - /"
)
_VOCABULARY = [*_WORDS.split(), "\n"]
_ALPHABET = string.ascii_letters + " .,;!?'\"()-/_\n\téüßçøłñ你好"


@pytest.mark.parametrize("seed", range(20))
def test_random_text_without_digits_at_or_assignments_is_unchanged(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(50):
        words = []
        for _ in range(rng.randint(0, 60)):
            if rng.random() < 0.5:
                words.append(rng.choice(_VOCABULARY))
            else:
                words.append("".join(rng.choice(_ALPHABET) for _ in range(rng.randint(1, 40))))
        text = rng.choice(["", " ", "\n"]).join(words)

        assert scrub(text).text == text, text


def test_find_pii_matches_scrub() -> None:
    text = "jane@example.com 203.0.113.5"

    assert find_pii(text) == list(scrub(text).findings)
