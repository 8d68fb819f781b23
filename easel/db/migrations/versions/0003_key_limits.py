"""Per-key limits shared by every API node (rate_limits), and an index to count a key's active tasks.

Revision ID: 0003_key_limits
Revises: 0002_webhooks
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_key_limits"
down_revision = "0002_webhooks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rate_limits",
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("tokens", sa.Float(), nullable=False),
        sa.Column("stamp", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key_id", "scope"),
    )
    op.create_index("ix_tasks_owner_status", "tasks", ["owner_key_id", "status", "api"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_tasks_owner_status", table_name="tasks")
    op.drop_table("rate_limits")
