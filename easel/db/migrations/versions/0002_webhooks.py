"""Webhooks: a key's signing secret and default URL, and the deliveries owed.

Revision ID: 0002_webhooks
Revises: 0001_baseline
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from easel.db.migrations.adopt import missing

revision = "0002_webhooks"
down_revision = "0001_baseline"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # guarded too: development builds made these tables with create_all before this revision existed
    if missing("key_webhooks"):
        op.create_table(
            "key_webhooks",
            sa.Column("key_id", sa.String(length=32), nullable=False),
            sa.Column("secret", sa.String(length=128), nullable=False),
            sa.Column("default_url", sa.Text(), nullable=True),
            sa.Column("updated_at", sa.DateTime(), nullable=False),
            sa.PrimaryKeyConstraint("key_id"),
        )
    if missing("webhook_deliveries"):
        op.create_table(
            "webhook_deliveries",
            sa.Column("id", sa.String(length=64), nullable=False),
            sa.Column("kind", sa.String(length=16), nullable=False),
            sa.Column("subject", sa.String(length=64), nullable=False),
            sa.Column("key_id", sa.String(length=32), nullable=False),
            sa.Column("url", sa.Text(), nullable=False),
            sa.Column("base_url", sa.Text(), nullable=False),
            sa.Column("state", sa.String(length=16), nullable=False),
            sa.Column("body", sa.Text(), nullable=True),
            sa.Column("attempts", sa.Integer(), nullable=False),
            sa.Column("next_attempt_at", sa.DateTime(), nullable=True),
            sa.Column("lease_until", sa.DateTime(), nullable=True),
            sa.Column("last_error", sa.Text(), nullable=True),
            sa.Column("created_at", sa.DateTime(), nullable=False),
            sa.Column("updated_at", sa.DateTime(), nullable=False),
            sa.PrimaryKeyConstraint("id"),
        )
        op.create_index("ix_webhook_deliveries_state_due", "webhook_deliveries", ["state", "next_attempt_at"],
                        unique=False)
        op.create_index("ix_webhook_deliveries_subject", "webhook_deliveries", ["kind", "subject"], unique=True)


def downgrade() -> None:
    op.drop_table("webhook_deliveries")
    op.drop_table("key_webhooks")
