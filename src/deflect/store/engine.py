"""Engines configured for deflect: SQLite in WAL mode with a busy timeout and write-locking BEGIN; PostgreSQL as is."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url

from deflect.errors import ConfigError
from deflect.sqlite_wal import enable_wal

# Execution option naming the statement that opens a SQLite transaction (read paths ask for a deferred one).
SQLITE_BEGIN = "deflect_sqlite_begin"


WAL_RETRY_S = 10.0


def make_engine(database_url: str, busy_timeout_s: float = 30.0) -> Engine:
    """An engine for the URL; for a SQLite file, creates its folder and sets WAL and the busy timeout."""
    try:
        url = make_url(database_url)
    except Exception as exc:  # sqlalchemy raises ArgumentError, but only says so in prose
        raise ConfigError(f"database_url is not a database URL: {exc}") from exc
    if url.get_backend_name() != "sqlite":
        # Bounded waits on PostgreSQL too: connecting, waiting for a pooled connection, and each statement.
        connect_args: dict[str, Any] = {}
        if url.get_backend_name() == "postgresql":
            ms = int(busy_timeout_s * 1000)
            # connect_args replace the URL's own `options` (e.g. -csearch_path=...): keep those too.
            given = url.query.get("options", "")
            given = " ".join(given) if isinstance(given, tuple) else given
            connect_args = {
                "connect_timeout": max(1, int(busy_timeout_s)),
                "options": f"{given} -c statement_timeout={ms} -c lock_timeout={ms}".strip(),
            }
        return create_engine(url, pool_pre_ping=True, pool_timeout=busy_timeout_s, connect_args=connect_args)
    database = url.database or ""
    if database in ("", ":memory:") or url.query.get("mode") == "memory":
        raise ConfigError(
            "an in-memory SQLite database is one database per connection; "
            "give database_url a file path, or use deflect.testing.InMemoryStore"
        )
    if not url.query.get("uri"):
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": busy_timeout_s})
    event.listen(engine, "connect", _sqlite_connect)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_connect(dbapi_connection: Any, connection_record: Any) -> None:
    # sqlite3's own transaction handling skips BEGIN before SELECT and DDL; SQLAlchemy emits BEGIN instead.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        enable_wal(cursor, WAL_RETRY_S)
    finally:
        cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    # IMMEDIATE takes the write lock up front, waiting out the busy timeout; a deferred transaction that reads
    # and then writes fails at once with "database is locked" when another writer got in between.
    connection.exec_driver_sql(connection.get_execution_options().get(SQLITE_BEGIN, "BEGIN IMMEDIATE"))
