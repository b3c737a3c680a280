"""Fixed-window request counters shared by every API worker process on a host.

The counters live in one small SQLite file (WAL, `BEGIN IMMEDIATE`), not in process memory: with `uvicorn
--workers 4` an in-process counter would let a visitor make four times the limit. Several hosts behind a load
balancer would each keep their own file; that deployment needs a shared counter store (not built here).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

from deflect.sqlite_wal import enable_wal

WINDOW_S = 60


class RateLimiter:
    """`hit(key, limit)` counts one request; it returns 0 when allowed, else the seconds until the window resets."""

    def __init__(self, path: Path, window_s: int = WINDOW_S, clock: Callable[[], float] = time.time) -> None:
        self._path = path
        self._window = window_s
        self._clock = clock
        self._local = threading.local()  # one connection per thread: sqlite3 connections are not shared

    def _connect(self) -> sqlite3.Connection:
        # Opened on first use, so an app that never serves the widget leaves no file behind.
        db = getattr(self._local, "db", None)
        if db is None:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self._path, timeout=5.0, isolation_level=None)
            enable_wal(db, 5.0)
            db.execute(
                "CREATE TABLE IF NOT EXISTS hits (key TEXT PRIMARY KEY, window INTEGER NOT NULL, n INTEGER NOT NULL)"
            )
            self._local.db = db
        return db

    def hit(self, key: str, limit: int) -> int:
        now = self._clock()
        window = int(now // self._window)
        db = self._connect()
        db.execute("BEGIN IMMEDIATE")  # one writer at a time across processes: read-increment-write is atomic
        try:
            row = db.execute("SELECT window, n FROM hits WHERE key = ?", (key,)).fetchone()
            n = row[1] + 1 if row and row[0] == window else 1
            if n <= limit:
                db.execute("INSERT OR REPLACE INTO hits (key, window, n) VALUES (?, ?, ?)", (key, window, n))
            # Old windows are dead rows: drop them now and then so the file stays small.
            if n == 1:
                db.execute("DELETE FROM hits WHERE window < ?", (window - 1,))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        if n <= limit:
            return 0
        return max(1, int((window + 1) * self._window - now + 0.999))
