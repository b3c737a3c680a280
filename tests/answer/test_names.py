"""Names in a question that no retrieved source mentions (the KB does not cover them)."""

from __future__ import annotations

import pytest

from deflect.answer.names import question_names, unknown_names

from .builders import source

GITHUB = source("doc:github", "Connect your GitHub repositories: open Settings, then Integrations, then GitHub.")


@pytest.mark.parametrize(
    ("question", "names"),
    [
        ("How do I connect our GitLab repositories?", ["GitLab"]),
        ("Does it integrate with Notion?", ["Notion"]),
        ("Can I back up my iPhone?", ["iPhone"]),
        ("Salesforce reports do not sync. What now?", []),  # a sentence's first word is no evidence of a name
        ("Why is the CSV export empty?", []),  # an acronym is a word of the trade, not a product name
        ("how do i connect gitlab", []),  # written all lower case: not recognisable as a name
        ("Is this free? Notion says so.", []),
    ],
)
def test_names_are_words_with_an_inner_capital_or_capitalised_mid_sentence(question: str, names: list[str]) -> None:
    assert question_names(question) == names


def test_a_name_no_source_mentions_is_unknown() -> None:
    assert unknown_names("How do I connect our GitLab repositories?", [GITHUB]) == ("GitLab",)


def test_a_name_a_source_mentions_is_known_in_any_case() -> None:
    assert unknown_names("Where do I connect my Github account?", [GITHUB]) == ()


def test_a_name_misspelt_by_one_letter_is_still_known() -> None:
    assert unknown_names("How do I link GitHib?", [GITHUB]) == ()  # substitution
    assert unknown_names("How do I link GitHbu?", [GITHUB]) == ()  # two neighbours swapped
    assert unknown_names("How do I link GitHubb?", [GITHUB]) == ()  # one letter too many


def test_a_name_two_edits_away_is_another_name() -> None:
    assert unknown_names("How do I link GitLab?", [GITHUB]) == ("GitLab",)  # l-a-b, not h-u-b


def test_the_source_title_counts_as_mentioning() -> None:
    titled = GITHUB.model_copy(update={"title": "Connecting Bitbucket and GitHub"})

    assert unknown_names("Can I connect Bitbucket?", [titled]) == ()


@pytest.mark.parametrize(
    ("question", "asker"),
    [
        ("Hi, my name is Peter Novak. How do I make fish my default login shell?", ()),
        ("I'm Zbigniew Nowak. Does it integrate with Notion?", ()),
        ("Hi, this is Ahmed. Does it integrate with Notion?", ()),
        ("Does it integrate with Notion? Thanks, Zorya", ()),
        ("Zorya Quill here: does it integrate with Notion?", ("Zorya Quill",)),  # the caller's customer_name
    ],
)
def test_the_askers_own_name_is_never_a_name_the_kb_must_know(question: str, asker: tuple[str, ...]) -> None:
    products = ["Notion"] if "Notion" in question else []
    assert question_names(question, asker) == products
    assert unknown_names(question, [GITHUB], asker) == tuple(products)
