"""Persistence for escalations and the append-only audit log.

`deflect.store.sql.SqlStore` is the SQLAlchemy implementation (SQLite by default, PostgreSQL unchanged); its schema
is created and upgraded by the Alembic migrations in `deflect/store/migrations/`. This package is the only one that
imports SQLAlchemy; `deflect.store.records` holds the database-free rules both stores share.
"""
