"""`deflect gaps` in process, over fakes (the finder is swapped in; no model, no Chroma)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

import deflect.cli_gaps
from deflect.cli import app
from deflect.gaps import GapFinder
from deflect.testing import HashEmbedder

from .builders import NOW, PARAMS, SLACK, Desk, chunk, index_of

runner = CliRunner()
FIX = (
    "Don't disconnect Slack any more: duplicate notifications are now fixed with the Re-authorize button under "
    "Settings > Integrations, which keeps every channel mapping."
)


@pytest.fixture(autouse=True)
def finder(monkeypatch: pytest.MonkeyPatch) -> GapFinder:
    desk = Desk()
    first = desk.escalate(SLACK[0], days=20)
    desk.resolve(first, FIX, days=18)
    desk.escalate(SLACK[1], days=10)
    desk.escalate(SLACK[0], days=40)
    old_article = "Duplicate Slack notifications in a channel: disconnect the Slack integration and connect it again."
    index = index_of(HashEmbedder(), chunk("doc:slack", old_article, "2026-01-15", title="Slack notifications"))
    gap_finder = GapFinder(desk.store, HashEmbedder(), index, clock=lambda: NOW, params=PARAMS)
    monkeypatch.setattr(deflect.cli_gaps, "_finder", lambda: gap_finder)
    return gap_finder


def test_table_shows_clusters_sources_and_why_they_are_flagged() -> None:
    result = runner.invoke(app, ["gaps"], env={"COLUMNS": "200"})

    assert result.exit_code == 0, result.output
    assert "2 questions (2 escalated, 0 unhelpful)" in result.output
    assert "gap-1" in result.output
    assert "doc:slack" in result.output
    assert "RECURRING" in result.output and "CONTRADICTED" in result.output
    assert "gap-1 recurring: 1 question(s) after" in result.output
    assert "gap-1 contradicted: doc:slack (article, updated 2026-01-15)" in result.output


def test_json_and_options() -> None:
    result = runner.invoke(app, ["gaps", "--days", "60", "--min-size", "3", "--json"])

    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["questions"] == 3
    assert body["min_size"] == 3
    assert [c["size"] for c in body["clusters"]] == [3]


def test_no_clusters_prints_the_summary_only() -> None:
    result = runner.invoke(app, ["gaps", "--min-size", "5"])

    assert result.exit_code == 0
    assert "0 clusters of at least 5 hold 0" in " ".join(result.output.split())


def test_a_bad_option_is_a_usage_error() -> None:
    assert runner.invoke(app, ["gaps", "--min-size", "0"]).exit_code == 2
