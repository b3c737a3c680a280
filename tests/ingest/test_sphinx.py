"""What Sphinx's roles and directives mean to a reader (shared by the rst and MyST readers)."""

from __future__ import annotations

import pytest

from deflect.ingest.sphinx import directive_kind, is_session, role_text


@pytest.mark.parametrize(
    ("name", "text", "shown", "code"),
    [
        ("ref", "Proxy settings <proxy-label>", "Proxy settings", False),
        ("doc", "topics/proxies", "topics/proxies", False),
        ("func", "~brew.pot.pour", "pour", True),
        ("py:meth", "!brew.Pot.fill", "brew.Pot.fill", True),
        ("option", "brewctl --strength", "brewctl --strength", True),
        ("file", "~/.config/brew <n>", "~/.config/brew <n>", True),  # a file is shown as written
        ("samp", "brewctl pour {cups}", "brewctl pour {cups}", True),
        ("pep", "8", "PEP 8", False),
        ("guilabel", "&Cancel && Close", "Cancel & Close", False),
        ("menuselection", "File --> Open", "File \u2023 Open", False),
        ("unheard-of", "some   words", "some words", False),
    ],
)
def test_a_role_is_its_text_and_the_typed_ones_are_code(name: str, text: str, shown: str, code: bool) -> None:
    assert role_text(name, text) == (shown, code)


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("code-block", "code"),
        ("seealso", "admonition"),
        ("versionchanged", "version"),
        ("py:function", "object"),
        ("std:option", "object"),
        ("tab-set", "wrapper"),
        ("toctree", "dropped"),
        ("py:currentmodule", "dropped"),
        ("pip-command-usage", "content"),
    ],
)
def test_directive_kinds(name: str, kind: str) -> None:
    assert directive_kind(name) == kind


def test_a_session_starts_with_a_prompt() -> None:
    assert is_session(["", "$ brewctl pour", "poured"])
    assert is_session([">>> import brew"])
    assert not is_session(["Run $ brewctl pour to pour."])
