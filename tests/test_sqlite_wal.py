"""enable_wal waits out another connection's lock instead of failing at once."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from deflect.sqlite_wal import enable_wal


def test_waits_for_a_lock_held_by_another_connection_then_switches(tmp_path: Path) -> None:
    path = tmp_path / "x.sqlite3"
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN EXCLUSIVE")
    waiter = sqlite3.connect(path, timeout=0, isolation_level=None)
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        waiter.execute("PRAGMA journal_mode=WAL")  # what SQLite does alone: no wait
    threading.Timer(0.3, lambda: holder.execute("COMMIT")).start()
    enable_wal(waiter, timeout_s=10)
    assert waiter.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_gives_up_after_its_timeout(tmp_path: Path) -> None:
    path = tmp_path / "x.sqlite3"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    waiter = sqlite3.connect(path, timeout=0, isolation_level=None)
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        enable_wal(waiter, timeout_s=0.2)
    holder.execute("COMMIT")


def test_other_errors_are_not_retried() -> None:
    class Broken:
        calls = 0

        def execute(self, sql: str, /) -> object:
            Broken.calls += 1
            raise sqlite3.OperationalError("disk I/O error")

    with pytest.raises(sqlite3.OperationalError, match="disk"):
        enable_wal(Broken(), timeout_s=5)
    assert Broken.calls == 1
