"""Docs kept true by tests: every setting appears in .env.example and the README."""

from __future__ import annotations

from pathlib import Path

import pytest

from deflect.config import Settings

ROOT = Path(__file__).resolve().parents[1]
ENV_NAMES = [f"DEFLECT_{name.upper()}" for name in Settings.model_fields]


@pytest.mark.parametrize("name", ENV_NAMES)
def test_setting_documented_in_env_example(name: str) -> None:
    assert name in (ROOT / ".env.example").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", ENV_NAMES)
def test_setting_documented_in_readme(name: str) -> None:
    assert f"`{name}`" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_setting_has_a_description() -> None:
    missing = [n for n, f in Settings.model_fields.items() if not f.description]
    assert missing == []


def test_readme_opens_with_the_two_commands() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("```bash", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in block.strip().splitlines()]
    assert commands == ["make run", "make test"]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "make test" in ci
