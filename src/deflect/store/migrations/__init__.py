"""Alembic migrations for deflect's database; a package so they ship with deflect."""
