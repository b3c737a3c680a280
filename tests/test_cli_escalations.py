"""`deflect escalations ...`, `deflect audit ...` and `deflect stats` in process, over a SQLite file; no model."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner, Result

import deflect.cli_escalations  # noqa: F401  (registers the commands on the app)
from deflect.api import create_app
from deflect.cli import app
from deflect.config import Settings
from deflect.desk import EscalationDesk
from deflect.domain.escalation import AuditEvent, Escalation, Priority, State
from deflect.domain.models import Audience
from deflect.service import DeflectService
from deflect.store.sql import SqlStore
from deflect.testing.store_contract import T0, make_escalation
from deflect.wiring import build_desk

REPO = Path(__file__).resolve().parents[1]
ESCALATION_FILE = REPO / "config" / "escalation.yaml"
UNANSWERABLE = "What is the weather on Mars tomorrow?"
OTHER_UNANSWERABLE = "Where can I buy a pony?"
ANSWERABLE = "How do I reset my password?"

runner = CliRunner()


@dataclass
class Seeded:
    answer_id: str  # an answered question
    first: str  # escalation ids, oldest first
    second: str


def invoke(*args: str) -> Result:
    return runner.invoke(app, list(args))


def one_line(text: str) -> str:
    """Rich wraps long lines at the terminal width; compare messages with the wrapping undone."""
    return " ".join(text.split())


def assert_clean_failure(result: Result, code: int = 2) -> None:
    """Exited with `code` through typer.Exit, not an exception, and said nothing about Python internals."""
    assert result.exit_code == code, result.output
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output


@contextmanager
def opened_desk() -> Iterator[EscalationDesk]:
    """A desk built the way the CLI builds it, from the environment; its store closed afterwards."""
    desk = build_desk(Settings())
    try:
        yield desk
    finally:
        assert isinstance(desk.store, SqlStore)
        desk.store.close()


def stored(escalation_id: str) -> Escalation:
    """The escalation as the database holds it now."""
    with opened_desk() as desk:
        return desk.get(escalation_id)


def trail(escalation_id: str) -> list[AuditEvent]:
    """The audit events of the escalation as the database holds them now."""
    with opened_desk() as desk:
        return desk.audit(escalation_id=escalation_id)


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Settings:
    """The CLI's settings in the environment: the test database and the repo's escalation config, nothing else."""
    for name in list(os.environ):
        if name.startswith("DEFLECT_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("DEFLECT_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("DEFLECT_ESCALATION_FILE", str(ESCALATION_FILE))
    monkeypatch.setenv("DEFLECT_POLICY_FILE", str(REPO / "config" / "policy.yaml"))
    monkeypatch.chdir(tmp_path)  # no stray .env
    return settings


@pytest.fixture
def seeded(
    cli_env: Settings, make_service: Callable[..., DeflectService], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Seeded]:
    """One answered question and two escalations, asked through the fake-backed service into the CLI's database.

    `escalations resolve` builds the whole service (the resolution is indexed as knowledge); it gets this
    fake-backed one over the same database instead of loading the embedding model."""
    store = SqlStore(cli_env.database_url)
    service = make_service(store=store)

    def build_service(settings: Settings) -> DeflectService:
        assert settings.database_url == cli_env.database_url
        return service

    monkeypatch.setattr("deflect.wiring.build_service", build_service)
    answered = service.ask(ANSWERABLE, Audience.CUSTOMER)
    first = service.ask(UNANSWERABLE, Audience.CUSTOMER, customer_id="cust-1")
    second = service.ask(OTHER_UNANSWERABLE, Audience.AGENT)
    assert answered.decision.value == "answer"
    assert first.escalation_id and second.escalation_id
    yield Seeded(answered.id, first.escalation_id, second.escalation_id)
    store.close()


def act(escalation_id: str, action: str, *extra: str, actor: str = "a1") -> Result:
    return invoke("escalations", action, escalation_id, "--actor", actor, *extra)


def jsonl(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


# --- list and show ---------------------------------------------------------------------------------------------


def test_list_json_prints_every_escalation_newest_first(seeded: Seeded) -> None:
    result = invoke("escalations", "list", "--json")

    assert result.exit_code == 0, result.output
    items = json.loads(result.stdout)
    assert [e["id"] for e in items] == [seeded.second, seeded.first]
    assert items[1]["question"] == UNANSWERABLE
    assert items[1]["customer_id"] == "cust-1"
    assert all(e["state"] == "escalated" for e in items)


def test_list_filters_by_state(seeded: Seeded) -> None:
    assert act(seeded.first, "claim").exit_code == 0

    claimed = json.loads(invoke("escalations", "list", "--state", "claimed", "--json").stdout)
    waiting = json.loads(invoke("escalations", "list", "--state", "escalated", "--json").stdout)

    assert [e["id"] for e in claimed] == [seeded.first]
    assert [e["id"] for e in waiting] == [seeded.second]


def test_list_by_priority_puts_the_most_urgent_first_and_the_table_says_how_many_match(seeded: Seeded) -> None:
    with opened_desk() as desk:
        desk.store.create(make_escalation("esc_old_critical", T0, priority=Priority.CRITICAL))

    urgent = json.loads(invoke("escalations", "list", "--open", "--order", "priority", "--json").stdout)
    newest = json.loads(invoke("escalations", "list", "--open", "--json").stdout)
    table = invoke("escalations", "list", "--order", "priority", "--limit", "1")

    assert urgent[0]["id"] == "esc_old_critical" and newest[-1]["id"] == "esc_old_critical"
    assert "1 escalations of 3" in table.stdout and "esc_old_" in table.stdout  # ids are cut to the width


def test_list_of_an_empty_database_is_an_empty_json_list(cli_env: Settings) -> None:
    result = invoke("escalations", "list", "--json")

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == []


def test_list_without_json_prints_a_table(seeded: Seeded) -> None:
    result = invoke("escalations", "list")

    assert result.exit_code == 0, result.output
    assert "2 escalations" in result.stdout
    assert "escalated" in result.stdout


def test_show_json_prints_the_packet_sla_and_briefing(seeded: Seeded) -> None:
    result = invoke("escalations", "show", seeded.first, "--json")

    assert result.exit_code == 0, result.output
    view = json.loads(result.stdout)
    assert set(view) == {"escalation", "sla", "briefing", "knowledge"}
    assert view["escalation"]["id"] == seeded.first
    assert view["escalation"]["question"] == UNANSWERABLE
    assert view["escalation"]["state"] == "escalated"
    assert view["escalation"]["sources"]
    assert view["sla"]["acknowledged"] is False
    assert seeded.first in view["briefing"]


def test_show_without_json_prints_the_briefing(seeded: Seeded) -> None:
    result = invoke("escalations", "show", seeded.first)

    assert result.exit_code == 0, result.output
    assert f"ESCALATION {seeded.first}" in result.stdout
    assert UNANSWERABLE in result.stdout


# --- the workflow ----------------------------------------------------------------------------------------------


def test_the_full_lifecycle_from_the_terminal(seeded: Seeded) -> None:
    steps: list[tuple[str, tuple[str, ...], State]] = [
        ("claim", (), State.CLAIMED),
        ("start", ("--note", "looking"), State.STARTED),
        ("wait", (), State.WAITING_ON_CUSTOMER),
        ("resume", (), State.STARTED),
        ("resolve", ("--resolution", "No forecasts for Mars; told them."), State.RESOLVED),
    ]
    for action, extra, state in steps:
        result = act(seeded.first, action, *extra)

        assert result.exit_code == 0, result.output
        assert f"{seeded.first}: {action} -> {state.value}" in one_line(result.stdout)
        assert stored(seeded.first).state is state

    esc = stored(seeded.first)
    assert esc.assignee == "a1"
    assert esc.resolution == "No forecasts for Mars; told them."
    assert esc.sla.acknowledged_at == esc.timestamps[State.CLAIMED]
    assert esc.sla.resolved_at == esc.timestamps[State.RESOLVED]
    assert stored(seeded.second).state is State.ESCALATED  # the other one is untouched


def test_update_and_bounce_record_their_text(seeded: Seeded) -> None:
    assert act(seeded.first, "claim").exit_code == 0
    assert act(seeded.first, "update", "--note", "checked the logs").exit_code == 0

    result = act(seeded.first, "bounce", "--reason", "billing owns this", actor="a2")

    assert result.exit_code == 0, result.output
    esc = stored(seeded.first)
    assert esc.state is State.BOUNCED_BACK
    assert esc.bounce_reason == "billing owns this"
    assert esc.assignee is None
    actions = [(e.action, e.actor, e.data.get("note") or e.data.get("reason")) for e in trail(seeded.first)[2:]]
    assert actions == [
        ("claim", "a1", None),
        ("update", "a1", "checked the logs"),
        ("bounce", "a2", "billing owns this"),
    ]


@pytest.mark.parametrize(
    ("setup", "action", "extra"),
    [
        ([], "resolve", ("--resolution", "done")),
        ([], "start", ()),
        (["claim", "start", "resolve"], "claim", ()),
    ],
    ids=["resolve-before-claim", "start-before-claim", "claim-after-resolve"],
)
def test_an_illegal_action_exits_2_with_a_clear_message(
    seeded: Seeded, setup: list[str], action: str, extra: tuple[str, ...]
) -> None:
    for step in setup:
        step_extra = ("--resolution", "fixed") if step == "resolve" else ()
        assert act(seeded.first, step, *step_extra).exit_code == 0
    before = stored(seeded.first)
    events_before = len(trail(seeded.first))

    result = act(seeded.first, action, *extra)

    assert_clean_failure(result)
    message = one_line(result.stderr)
    assert "invalid_transition" in message
    assert f"cannot {action} escalation {seeded.first}: it is {before.state.value}" in message
    assert result.stdout == ""
    assert stored(seeded.first) == before
    assert len(trail(seeded.first)) == events_before


@pytest.mark.parametrize(
    "args",
    [
        ("escalations", "show", "esc_nope"),
        ("escalations", "show", "esc_nope", "--json"),
        ("escalations", "claim", "esc_nope", "--actor", "a1"),
        ("escalations", "resolve", "esc_nope", "--actor", "a1", "--resolution", "x"),
    ],
    ids=["show", "show-json", "claim", "resolve"],
)
def test_an_unknown_id_exits_2(seeded: Seeded, args: tuple[str, ...]) -> None:
    result = invoke(*args)

    assert_clean_failure(result)
    assert "not_found" in result.stderr
    assert "esc_nope" in result.stderr
    assert result.stdout == ""


def test_an_empty_bounce_reason_exits_2(seeded: Seeded) -> None:
    result = act(seeded.first, "bounce", "--reason", "  ")

    assert_clean_failure(result)
    assert "validation_failed" in result.stderr
    assert stored(seeded.first).state is State.ESCALATED


def test_an_action_needs_an_actor(seeded: Seeded) -> None:
    result = invoke("escalations", "claim", seeded.first)

    assert result.exit_code == 2
    assert "--actor" in result.output
    assert stored(seeded.first).state is State.ESCALATED


def test_a_missing_escalation_config_exits_2_without_a_traceback(
    seeded: Seeded, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DEFLECT_ESCALATION_FILE", str(tmp_path / "nope.yaml"))

    result = invoke("escalations", "list", "--json")

    assert_clean_failure(result)
    assert "config_error" in result.stderr


# --- audit -----------------------------------------------------------------------------------------------------


def test_audit_show_prints_the_trail_of_an_escalation_as_jsonl(seeded: Seeded) -> None:
    act(seeded.first, "claim")
    act(seeded.first, "takeover", "--reason", "a1 is away", actor="a2")
    act(seeded.first, "start", actor="a2")

    result = invoke("audit", "show", "--escalation", seeded.first)

    assert result.exit_code == 0, result.output
    events = jsonl(result.stdout)
    assert [(e["kind"], e["action"], e["actor"]) for e in events] == [
        ("decision", None, "deflect"),
        ("escalation_created", None, "deflect"),
        ("action", "claim", "a1"),
        ("action", "takeover", "a2"),
        ("action", "start", "a2"),
    ]
    assert events[3]["data"]["previous_assignee"] == "a1"
    assert {e["escalation_id"] for e in events} == {seeded.first}
    assert events[0]["data"]["question"] == UNANSWERABLE


def test_audit_show_by_answer_prints_the_decision(seeded: Seeded) -> None:
    result = invoke("audit", "show", "--answer", seeded.answer_id)

    assert result.exit_code == 0, result.output
    events = jsonl(result.stdout)
    assert len(events) == 1
    assert events[0]["kind"] == "decision"
    assert events[0]["data"]["decision"] == "answer"
    assert events[0]["data"]["sources"]


def test_audit_export_writes_the_whole_log_to_a_file(seeded: Seeded, tmp_path: Path) -> None:
    act(seeded.first, "claim")
    target = tmp_path / "out" / "audit.jsonl"

    result = invoke("audit", "export", str(target))

    assert result.exit_code == 0, result.output
    events = jsonl(target.read_text(encoding="utf-8"))
    # 1 answer decision, 2 x (decision + escalation_created), 1 claim.
    assert len(events) == 6
    assert [e["kind"] for e in events].count("decision") == 3
    assert [e["id"] for e in events] == sorted(e["id"] for e in events)
    assert "wrote 6 events" in one_line(result.stdout)
    assert not target.with_name("audit.jsonl.partial").exists()


def test_audit_export_without_a_file_prints_jsonl(seeded: Seeded) -> None:
    result = invoke("audit", "export")

    assert result.exit_code == 0, result.output
    events = jsonl(result.stdout)
    assert len(events) == 5
    assert {e["answer_id"] for e in events} >= {seeded.answer_id}


# --- stats -----------------------------------------------------------------------------------------------------


def test_stats_json_prints_the_metrics(seeded: Seeded) -> None:
    act(seeded.first, "claim")

    result = invoke("stats", "--json")

    assert result.exit_code == 0, result.output
    stats = json.loads(result.stdout)
    assert stats["decisions"] == 3
    assert stats["escalations"] == 2
    assert stats["escalation_rate"] == pytest.approx(2 / 3)
    assert stats["handoff_delay"]["count"] == 1
    assert stats["bounce_back_rate"] == 0
    assert set(stats["time_to_resolve"]) == {"critical", "high", "medium", "low"}


def test_stats_without_json_prints_a_table(seeded: Seeded) -> None:
    result = invoke("stats")

    assert result.exit_code == 0, result.output
    assert "escalation_rate" in result.stdout
    assert "0.666" in result.stdout


# --- while `deflect serve` runs --------------------------------------------------------------------------------


@pytest.fixture
def served(seeded: Seeded, cli_env: Settings, monkeypatch: pytest.MonkeyPatch) -> DeflectService:
    """A running server on the CLI's data folder (the seeded service behind the real app, in process): the CLI must
    hand it the work, as `deflect ingest` and `deflect ask` do, and never build a service of its own."""
    from deflect.wiring import build_service

    service = build_service(cli_env)  # the seeded, fake-backed one

    def refuse(settings: Settings) -> DeflectService:
        raise AssertionError("the CLI opened the index itself while a server owns it")

    app = create_app(cli_env, service)
    monkeypatch.setattr("deflect.wiring.build_service", refuse)
    monkeypatch.setattr("deflect.handoff.running_server", lambda settings: "http://deflect.test")
    monkeypatch.setattr(
        "deflect.handoff.httpx.Client",
        lambda base_url, headers, timeout: TestClient(app, base_url=base_url, headers=headers),
    )
    return service


def test_resolve_while_serving_is_done_by_the_server_as_the_actor(seeded: Seeded, served: DeflectService) -> None:
    assert act(seeded.first, "claim").exit_code == 0  # straight to the database, as before
    assert act(seeded.first, "start").exit_code == 0

    result = act(seeded.first, "resolve", "--resolution", "No forecasts for Mars; told them.")

    assert result.exit_code == 0, result.output
    assert "a deflect server is running at http://deflect.test: it resolves" in one_line(result.stderr)
    assert f"{seeded.first}: resolve -> resolved; searchable as esc:{seeded.first}" in one_line(result.stdout)
    esc = stored(seeded.first)
    assert esc.state is State.RESOLVED and esc.assignee == "a1"
    assert [e.actor for e in trail(seeded.first) if e.action == "resolve"] == ["a1"]
    hits = served.retriever.retrieve(UNANSWERABLE, Audience.AGENT.visible())
    assert f"esc:{seeded.first}" in [h.source_id for h in hits]  # in the server's index


def test_resolve_while_serving_says_what_the_server_refused(seeded: Seeded, served: DeflectService) -> None:
    assert act(seeded.first, "claim").exit_code == 0
    assert act(seeded.first, "start").exit_code == 0

    result = act(seeded.first, "resolve", "--resolution", "mine now", actor="a2")

    assert_clean_failure(result)
    assert "(invalid_transition)" in result.stderr and "held by a1" in one_line(result.stderr)
    assert stored(seeded.first).state is State.STARTED


def test_gaps_while_serving_is_the_servers_report(seeded: Seeded, served: DeflectService) -> None:
    import deflect.cli_gaps  # noqa: F401  (registers the command)

    result = invoke("gaps", "--json", "--min-size", "1")

    assert result.exit_code == 0, result.output
    assert "it makes the report" in one_line(result.stderr)
    assert json.loads(result.stdout)["escalated"] == served.gaps(days=30, min_size=1).escalated >= 2


def test_resolve_while_serving_says_when_the_knowledge_is_pending(
    seeded: Seeded, served: DeflectService, monkeypatch: pytest.MonkeyPatch
) -> None:
    from deflect.errors import IndexUnavailable

    def index_down(records: object) -> object:
        raise IndexUnavailable("the index is down")

    monkeypatch.setattr(served, "_write_and_index", index_down)
    assert act(seeded.first, "claim").exit_code == 0
    assert act(seeded.first, "start").exit_code == 0

    result = act(seeded.first, "resolve", "--resolution", "No forecasts for Mars; told them.")

    assert result.exit_code == 0, result.output  # was a TypeError formatting a null time
    assert f"knowledge esc:{seeded.first} pending, not searchable yet" in one_line(result.stdout)
