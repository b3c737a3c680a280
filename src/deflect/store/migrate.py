"""Alembic, run from code: `upgrade(engine)` brings a database to the newest schema; no alembic.ini needed."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine

from deflect.store.engine import make_engine

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(connection: Connection | None = None) -> Config:
    """A Config pointing at the packaged migrations; env.py uses `connection` when one is given."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest migration's revision id."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "deflect.store.migrations has no revisions"
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at; None before the first migration."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Upgrade in one transaction; a database already at `revision` is left alone."""
    # One transaction around the version check and every step: on SQLite its BEGIN IMMEDIATE makes concurrent
    # starters queue, so the second finds the schema at head; on PostgreSQL env.py takes an advisory lock.
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), revision)


def migrate(database_url: str) -> None:
    """`alembic upgrade head` against a URL."""
    engine = make_engine(database_url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
