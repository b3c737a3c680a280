"""Switching a SQLite file to write-ahead logging, safely when several processes open it at once."""

from __future__ import annotations

import sqlite3
import time
from typing import Protocol


class _Executes(Protocol):
    def execute(self, sql: str, /) -> object: ...


def enable_wal(conn: _Executes, timeout_s: float) -> None:
    """Put the file in WAL mode (readers never block the writer; persistent in the file), retrying while locked.

    Why a loop: switching the journal mode needs a moment of exclusive access, and SQLite answers "database is
    locked" at once, without calling the busy handler, when several processes open a new file together (seen in
    CI with four workers starting on one data folder), so the connection's busy timeout alone does not cover it.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.05)
