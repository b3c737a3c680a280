"""Pending knowledge: a resolution's knowledge records, committed with the resolution, until indexed.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pending_knowledge",
        sa.Column("escalation_id", sa.String(), primary_key=True),
        sa.Column("records", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("indexed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text(), nullable=True),
    )
    op.create_index("ix_pending_knowledge_indexed_at", "pending_knowledge", ["indexed_at"])


def downgrade() -> None:
    op.drop_table("pending_knowledge")
