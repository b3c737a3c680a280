"""`deflect feedback list` and `deflect feedback sweep` in process, over a SQLite file."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

import deflect.cli_feedback  # noqa: F401  (registers the commands on the app)
from deflect.cli import app
from deflect.domain.escalation import OTHER_PAGE, State
from deflect.domain.feedback import self_served_vote_id, vote_id
from deflect.store.sql import SqlStore
from deflect.testing.store_contract import T0, answered, make_event, make_feedback, self_served

runner = CliRunner()


@pytest.fixture
def db_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    for name in list(os.environ):
        if name.startswith("DEFLECT_"):
            monkeypatch.delenv(name)
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("DEFLECT_DATABASE_URL", url)
    monkeypatch.chdir(tmp_path)  # no stray .env
    return url


@pytest.fixture
def seeded(db_url: str) -> None:
    store = SqlStore(db_url)
    store.append_audit([answered("ans-1"), answered("ans-2")])
    store.add_feedback(make_feedback("fb-1", "ans-1", T0, comment="no"))
    store.add_feedback(make_feedback("fb-2", "ans-2", T0 + timedelta(minutes=1), helpful=True, actor="agent-ana"))
    store.add_feedback(make_feedback("fb-3", "ans-1", T0 + timedelta(minutes=2), correct_source="doc:b"))
    store.close()


def test_list_json_prints_every_vote_newest_first(seeded: None) -> None:
    result = runner.invoke(app, ["feedback", "list", "--json"])

    assert result.exit_code == 0, result.output
    votes = json.loads(result.output)
    assert [v["id"] for v in votes] == ["fb-3", "fb-2", "fb-1"]
    assert votes[0]["correct_source"] == "doc:b" and votes[2]["comment"] == "no"


def test_list_filters_by_answer(seeded: None) -> None:
    result = runner.invoke(app, ["feedback", "list", "--answer", "ans-1", "--json"])

    assert result.exit_code == 0, result.output
    assert [v["id"] for v in json.loads(result.output)] == ["fb-3", "fb-1"]


def test_list_without_json_prints_a_table(seeded: None) -> None:
    result = runner.invoke(app, ["feedback", "list", "--limit", "2"], env={"COLUMNS": "200"})

    assert result.exit_code == 0, result.output
    assert "2 votes" in result.output
    assert "ans-1" in result.output and "agent-ana" in result.output


def test_an_empty_database_lists_nothing(db_url: str) -> None:
    result = runner.invoke(app, ["feedback", "list", "--json"])

    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == []


def test_a_bad_limit_is_a_usage_error(db_url: str) -> None:
    assert runner.invoke(app, ["feedback", "list", "--limit", "0"]).exit_code == 2


def test_a_self_serves_vote_is_told_from_a_clicked_one(db_url: str) -> None:
    store = SqlStore(db_url)
    store.append_audit([answered("ans-1")])
    store.add_feedback(make_feedback(vote_id(), "ans-1", T0))
    store.add_feedback(make_feedback(self_served_vote_id("esc_1"), "ans-1", T0 + timedelta(minutes=1), helpful=True))
    store.close()

    listed = runner.invoke(app, ["feedback", "list", "--json"])
    table = runner.invoke(app, ["feedback", "list"], env={"COLUMNS": "200"})

    assert listed.exit_code == 0, listed.output
    assert [v["via"] for v in json.loads(listed.output)] == ["self_serve", "vote"]
    assert table.exit_code == 0, table.output
    assert "self-serve" in table.output


def withdrawn(store: SqlStore, escalation_id: str, page: str, audience: str = "customer") -> datetime:
    """A self-served escalation raised yesterday, with the decision its vote is cast on; when it was withdrawn."""
    esc = self_served(escalation_id, datetime.now(UTC) - timedelta(days=1), page=page)
    data = {"decision": "escalate", "audience": audience, "question": f"Question of {escalation_id}"}
    store.create(esc, [make_event("decision", esc.created_at, answer_id=esc.answer_id, data=data)])
    return esc.timestamps[State.SELF_SERVED]


def test_sweep_stores_each_lost_self_serve_vote_once(db_url: str) -> None:
    store = SqlStore(db_url)
    at = withdrawn(store, "esc_lost", "doc:a")
    withdrawn(store, "esc_other", OTHER_PAGE)

    first = runner.invoke(app, ["feedback", "sweep", "--json"])
    again = runner.invoke(app, ["feedback", "sweep"], env={"COLUMNS": "200"})

    assert first.exit_code == 0, first.output
    assert json.loads(first.output) == {"stored": 1, "failed": 0}
    assert again.exit_code == 0 and "stored 0 lost self-serve votes; 0 failed" in again.output
    [vote] = store.feedback()
    assert (vote.id, vote.answer_id, vote.correct_source, vote.helpful) == (
        self_served_vote_id("esc_lost"),
        "ans-esc_lost",
        "doc:a",
        True,
    )
    assert (vote.actor, vote.at) == ("customer:c1", at)
    store.close()


def test_sweep_exits_1_when_a_vote_still_cannot_be_stored_and_stores_the_others(db_url: str) -> None:
    store = SqlStore(db_url)
    withdrawn(store, "esc_broken", "doc:a", audience="agent")  # a customer cannot vote on it: NotFound on retry
    withdrawn(store, "esc_lost", "doc:a")

    result = runner.invoke(app, ["feedback", "sweep", "--json"])

    assert result.exit_code == 1, result.output
    assert json.loads(result.output) == {"stored": 1, "failed": 1}
    assert [v.answer_id for v in store.feedback()] == ["ans-esc_lost"]
    store.close()
