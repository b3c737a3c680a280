"""SqlStore on SQLite beyond the shared contract: WAL and locking, migrations, append-only audit, crash safety."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import event, text

from deflect.domain.escalation import State
from deflect.domain.feedback import self_served_vote_id
from deflect.errors import ConfigError, NotFound
from deflect.store.engine import make_engine
from deflect.store.migrate import alembic_config, current_revision, head_revision, migrate
from deflect.store.schema import metadata
from deflect.store.sql import SqlStore
from deflect.testing.store_contract import (
    T0,
    created,
    decision,
    make_escalation,
    make_event,
    make_feedback,
    self_served,
)

SRC = Path(__file__).resolve().parents[2] / "src"


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "deflect.db"


@pytest.fixture
def store(db: Path) -> Iterator[SqlStore]:
    opened = SqlStore(sqlite_url(db))
    yield opened
    opened.close()


def schema_sql(db: Path) -> list[tuple[str, str, str | None]]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY type, name").fetchall()


def run_python(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(SRC)},
    )


# --- the engine ---------------------------------------------------------------------------------------------


def test_creates_the_parent_folders_and_uses_wal(tmp_path: Path) -> None:
    db = tmp_path / "a" / "b" / "deflect.db"

    SqlStore(sqlite_url(db)).close()

    assert db.is_file()
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_a_relative_sqlite_path_is_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    SqlStore("sqlite:///.data/deflect.db").close()  # the default of Settings.database_url

    assert (tmp_path / ".data" / "deflect.db").is_file()


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:", "no-scheme-at-all"])
def test_unusable_urls_are_config_errors(url: str) -> None:
    with pytest.raises(ConfigError):
        SqlStore(url)


def test_a_writer_waits_for_the_lock_instead_of_failing(store: SqlStore, db: Path) -> None:
    holder = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")  # another process holding the write lock
    released: list[float] = []

    def release() -> None:
        released.append(time.monotonic())  # before COMMIT: the write cannot finish earlier than this
        holder.execute("COMMIT")

    timer = threading.Timer(0.5, release)
    timer.start()
    try:
        store.create(make_escalation("ESC-1"), [created("ESC-1")])
        finished = time.monotonic()
    finally:
        timer.join()
        holder.close()

    assert released and finished >= released[0]
    assert store.get("ESC-1").version == 1


def test_reads_do_not_wait_for_a_writer(store: SqlStore, db: Path) -> None:
    store.create(make_escalation("ESC-1"), [created("ESC-1")])
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("INSERT INTO audit_events (at, kind, actor, data) VALUES ('2026-01-01', 'action', 'x', '{}')")
    try:
        started = time.monotonic()
        assert store.get("ESC-1").version == 1
        assert [e.id for e in store.list()] == ["ESC-1"]
        assert len(store.audit()) == 1  # the uncommitted row is not seen
        elapsed = time.monotonic() - started
    finally:
        holder.execute("ROLLBACK")
        holder.close()

    assert elapsed < 5, "a read waited for the write lock"  # waiting would mean the 30 s busy timeout


# --- migrations ---------------------------------------------------------------------------------------------


def test_migrating_again_is_a_no_op(store: SqlStore, db: Path) -> None:
    store.create(make_escalation("ESC-1"), [created("ESC-1")])
    before = schema_sql(db)

    store.migrate()
    migrate(sqlite_url(db))
    SqlStore(sqlite_url(db)).close()

    assert schema_sql(db) == before
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [(head_revision(),)]
    assert store.get("ESC-1").version == 1
    assert len(store.audit()) == 1


def test_a_store_that_does_not_migrate_leaves_an_empty_file_empty(db: Path) -> None:
    SqlStore(sqlite_url(db), migrate=False).close()
    engine = make_engine(sqlite_url(db))

    assert current_revision(engine) is None
    migrate(sqlite_url(db))
    assert current_revision(engine) == head_revision() == "0004"
    engine.dispose()


def test_the_migrated_schema_matches_the_tables_the_store_uses(store: SqlStore, db: Path) -> None:
    engine = make_engine(sqlite_url(db))
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    engine.dispose()

    assert diff == []


def test_downgrade_to_base_and_upgrade_again(store: SqlStore, db: Path) -> None:
    engine = make_engine(sqlite_url(db))
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "base")
    names = {name for _, name, _ in schema_sql(db)}
    assert "escalations" not in names and "audit_events" not in names
    assert "audit_events_no_delete" not in names
    assert current_revision(engine) is None

    store.migrate()

    assert current_revision(engine) == head_revision()
    store.create(make_escalation("ESC-1"))
    assert store.get("ESC-1").version == 1
    engine.dispose()


def test_a_store_opened_on_an_existing_file_sees_earlier_data(db: Path) -> None:
    first = SqlStore(sqlite_url(db))
    first.create(make_escalation("ESC-1"), [decision("ESC-1"), created("ESC-1")])
    first.update(make_escalation("ESC-1", state=State.CLAIMED), 1, [make_event(action="claim")])
    first.close()

    second = SqlStore(sqlite_url(db))
    second.append_audit([make_event(action="later")])

    assert second.get("ESC-1") == (make_escalation("ESC-1", state=State.CLAIMED), 2)
    events = second.audit()
    assert [e.action for e in events] == [None, None, "claim", "later"]
    assert [e.id for e in events] == [1, 2, 3, 4]
    second.close()


# --- the audit log is append-only ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "statement",
    ["UPDATE audit_events SET actor = 'forged'", "DELETE FROM audit_events", "DELETE FROM audit_events WHERE id = 1"],
)
def test_audit_rows_cannot_be_changed_even_from_outside_the_store(store: SqlStore, db: Path, statement: str) -> None:
    store.append_audit([make_event(actor="deflect"), make_event(actor="agent-1")])

    with sqlite3.connect(db) as conn, pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute(statement)
    engine = make_engine(sqlite_url(db))
    with pytest.raises(Exception, match="append-only"), engine.begin() as sa_conn:
        sa_conn.execute(text(statement))
    engine.dispose()

    assert [e.actor for e in store.audit()] == ["deflect", "agent-1"]


# --- atomicity ----------------------------------------------------------------------------------------------


class Boom(RuntimeError):
    pass


def test_a_failure_after_the_escalation_insert_rolls_back_the_whole_create(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(*args: object) -> None:
        raise Boom("disk full, say")

    store.create(make_escalation("ESC-0"), [created("ESC-0")])
    monkeypatch.setattr(store, "_insert_events", fail)

    with pytest.raises(Boom):
        store.create(make_escalation("ESC-1"), [created("ESC-1")])
    with pytest.raises(Boom):
        store.update(make_escalation("ESC-0", assignee="someone"), 1, [make_event(action="claim")])

    with pytest.raises(NotFound):
        store.get("ESC-1")
    assert store.get("ESC-0") == (make_escalation("ESC-0"), 1)
    assert [e.escalation_id for e in store.audit()] == ["ESC-0"]

    monkeypatch.undo()
    store.create(make_escalation("ESC-1"), [created("ESC-1")])  # the id was never taken
    assert store.update(make_escalation("ESC-0", assignee="someone"), 1) == 2


def test_a_process_killed_mid_transaction_leaves_a_consistent_file(db: Path) -> None:
    crashed = run_python(
        """
        import os, sys
        from deflect.store.sql import SqlStore
        from deflect.testing.store_contract import created, make_escalation

        store = SqlStore(sys.argv[1])
        store.create(make_escalation("ESC-before"), [created("ESC-before")])

        def die(conn, rows):
            os._exit(17)  # no rollback, no cleanup: a killed process

        store._insert_events = die
        store.create(make_escalation("ESC-crash"), [created("ESC-crash")])
        """,
        sqlite_url(db),
    )
    assert crashed.returncode == 17, crashed.stderr

    store = SqlStore(sqlite_url(db))
    assert store.get("ESC-before").version == 1
    with pytest.raises(NotFound):
        store.get("ESC-crash")
    assert [e.escalation_id for e in store.audit()] == ["ESC-before"]
    store.create(make_escalation("ESC-crash"), [created("ESC-crash")])
    assert [e.id for e in store.list()] == ["ESC-crash", "ESC-before"]
    store.close()
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)


# --- many writers on one file -------------------------------------------------------------------------------


def test_threads_with_their_own_stores_on_a_fresh_file_store_everything_once(db: Path) -> None:
    threads_n, per_thread = 16, 10
    errors: list[BaseException] = []
    start = threading.Barrier(threads_n)

    def worker(t: int) -> None:
        try:
            start.wait()
            own = SqlStore(sqlite_url(db))  # sixteen engines migrating one new file at once, then writing
            for i in range(per_thread):
                eid = f"ESC-{t:02d}-{i:02d}"
                own.create(make_escalation(eid, T0), [decision(eid), created(eid)])
            own.close()
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=worker, args=(t,)) for t in range(threads_n)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()

    assert errors == []
    store = SqlStore(sqlite_url(db))
    ids = [e.id for e in store.list(limit=None)]
    assert len(ids) == len(set(ids)) == threads_n * per_thread
    events = store.audit()
    assert len(events) == 2 * threads_n * per_thread
    assert {e.escalation_id for e in events} == set(ids)
    store.close()
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM alembic_version").fetchone() == (1,)


def test_processes_writing_one_file_store_everything_once(db: Path) -> None:
    processes_n, per_process = 3, 20
    code = textwrap.dedent(
        """
        import sys
        from deflect.store.sql import SqlStore
        from deflect.testing.store_contract import created, make_escalation

        store = SqlStore(sys.argv[1])
        for i in range(int(sys.argv[3])):
            eid = f"ESC-{sys.argv[2]}-{i:02d}"
            store.create(make_escalation(eid), [created(eid)])
        """
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, sqlite_url(db), str(p), str(per_process)],
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(SRC)},
        )
        for p in range(processes_n)
    ]
    failures = [(p.wait(timeout=120), p.stderr.read() if p.stderr else "") for p in procs]
    for proc in procs:
        if proc.stderr:
            proc.stderr.close()

    assert [code for code, _ in failures] == [0] * processes_n, failures
    store = SqlStore(sqlite_url(db))
    assert len(store.list(limit=None)) == processes_n * per_process
    assert len(store.audit(kind="escalation_created")) == processes_n * per_process
    store.close()


def test_a_packet_stored_before_self_serve_existed_reads_back_unowned(store: SqlStore, db: Path) -> None:
    """`requester` and `self_served_page` live in the packet JSON, not in columns, so no migration adds them: a
    packet written before they existed reads back with both None (nobody may withdraw it), and `self_served` is one
    more value of the state column."""
    store.create(make_escalation("ESC-old"))
    with sqlite3.connect(db) as conn:
        (packet,) = conn.execute("SELECT packet FROM escalations WHERE id = 'ESC-old'").fetchone()
        old = {k: v for k, v in json.loads(packet).items() if k not in ("requester", "self_served_page")}
        conn.execute("UPDATE escalations SET packet = ? WHERE id = 'ESC-old'", (json.dumps(old),))
    conn.close()

    read = store.get("ESC-old").escalation

    assert (read.requester, read.self_served_page) == (None, None)
    store.update(read.model_copy(update={"state": State.SELF_SERVED}), 1, [])
    assert [e.id for e in store.list(state=State.SELF_SERVED)] == ["ESC-old"]


def test_finding_lost_self_serve_votes_reads_once_when_none_is_lost(store: SqlStore) -> None:
    """The knowledge job asks every run: with every vote stored (the usual case) it costs one SELECT, not one per
    escalation; the packets are read (a second SELECT) only when some vote is missing."""
    for i in range(20):
        esc = self_served(f"ESC-{i:02d}", T0 + timedelta(minutes=i))
        store.create(esc, [decision(esc.id)])
        if i != 7:
            store.add_feedback(make_feedback(self_served_vote_id(esc.id), answer_id=esc.answer_id, helpful=True))
    statements: list[str] = []

    def seen(conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    event.listen(store._engine, "before_cursor_execute", seen)
    try:
        assert [e.id for e in store.self_served_without_vote(since=T0)] == ["ESC-07"]
        assert len(statements) == 2
        store.add_feedback(make_feedback(self_served_vote_id("ESC-07"), answer_id="ans-ESC-07", helpful=True))
        statements.clear()

        assert store.self_served_without_vote(since=T0) == []
        assert len(statements) == 1
    finally:
        event.remove(store._engine, "before_cursor_execute", seen)
