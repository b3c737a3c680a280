"""Alembic environment. `deflect.store.migrate.upgrade` passes an open connection; otherwise `sqlalchemy.url` is used.

A new revision, from the repository root (no alembic.ini is kept; this builds one on the fly):

    python -c "from alembic import command; from deflect.store.migrate import alembic_config as c; \
cfg = c(); cfg.set_main_option('sqlalchemy.url', 'sqlite:///.data/deflect.db'); \
command.revision(cfg, message='what changes', autogenerate=True)"
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from deflect.store.engine import make_engine
from deflect.store.schema import metadata

# Any constant works; it only has to be the same in every process that migrates this database.
PG_MIGRATION_LOCK = 0x64_65_66_6C  # "defl"


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=metadata)
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Two processes starting at once: the second waits here, then finds the schema at head.
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({PG_MIGRATION_LOCK})")
        context.run_migrations()


def _run_offline() -> None:
    context.configure(url=context.config.get_main_option("sqlalchemy.url"), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def _run_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("set sqlalchemy.url, or call deflect.store.migrate.upgrade(engine)")
    engine = make_engine(url)
    try:
        with engine.begin() as own:
            _run(own)
    finally:
        engine.dispose()


if context.is_offline_mode():
    _run_offline()
else:
    _run_online()
