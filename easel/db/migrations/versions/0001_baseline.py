"""Baseline: the schema Easel made with create_all before migrations (keys, tasks, signals, blobs, nonces, quota).

Revision ID: 0001_baseline
Revises:
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from easel.db.migrations.adopt import missing

revision = "0001_baseline"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    if missing("api_keys"):
        op.create_table(
            "api_keys",
            sa.Column("id", sa.String(length=32), nullable=False),
            sa.Column("name", sa.String(length=200), nullable=False),
            sa.Column("key_hash", sa.String(length=64), nullable=False),
            sa.Column("key_prefix", sa.String(length=16), nullable=False),
            sa.Column("created_at", sa.DateTime(), nullable=False),
            sa.Column("revoked_at", sa.DateTime(), nullable=True),
            sa.PrimaryKeyConstraint("id"),
        )
        op.create_index("ix_api_keys_key_hash", "api_keys", ["key_hash"], unique=True)
    if missing("blobs"):
        op.create_table(
            "blobs",
            sa.Column("key", sa.String(length=512), nullable=False),
            sa.Column("owner_key_id", sa.String(length=32), nullable=False),
            sa.Column("created_at", sa.DateTime(), nullable=False),
            sa.Column("size", sa.Integer(), nullable=False),
            sa.PrimaryKeyConstraint("key"),
        )
        op.create_index("ix_blobs_created_at", "blobs", ["created_at"], unique=False)
    if missing("nonces"):
        op.create_table(
            "nonces",
            sa.Column("nonce", sa.String(length=128), nullable=False),
            sa.Column("key_id", sa.String(length=32), nullable=False),
            sa.Column("seen_at", sa.DateTime(), nullable=False),
            sa.PrimaryKeyConstraint("nonce", "key_id"),
        )
        op.create_index("ix_nonces_seen_at", "nonces", ["seen_at"], unique=False)
    if missing("quota_usage"):
        op.create_table(
            "quota_usage",
            sa.Column("key_id", sa.String(length=32), nullable=False),
            sa.Column("api", sa.String(length=16), nullable=False),
            sa.Column("used", sa.Integer(), nullable=False),
            sa.PrimaryKeyConstraint("key_id", "api"),
        )
    if missing("task_signals"):
        op.create_table(
            "task_signals",
            sa.Column("task_id", sa.String(length=64), nullable=False),
            sa.Column("progress", sa.Integer(), nullable=True),
            sa.Column("cancel_requested", sa.Boolean(), nullable=False),
            sa.Column("updated_at", sa.DateTime(), nullable=False),
            sa.PrimaryKeyConstraint("task_id"),
        )
    if missing("tasks"):
        op.create_table(
            "tasks",
            sa.Column("id", sa.String(length=64), nullable=False),
            sa.Column("owner_key_id", sa.String(length=32), nullable=False),
            sa.Column("workspace", sa.String(length=128), nullable=False),
            sa.Column("api", sa.String(length=16), nullable=False),
            sa.Column("batch_id", sa.String(length=64), nullable=True),
            sa.Column("batch_index", sa.Integer(), nullable=False),
            sa.Column("model", sa.String(length=128), nullable=False),
            sa.Column("function", sa.String(length=64), nullable=False),
            sa.Column("status", sa.String(length=16), nullable=False),
            sa.Column("request", sa.JSON(), nullable=False),
            sa.Column("results", sa.JSON(), nullable=True),
            sa.Column("extra_output", sa.JSON(), nullable=True),
            sa.Column("usage", sa.JSON(), nullable=True),
            sa.Column("code", sa.String(length=64), nullable=True),
            sa.Column("message", sa.Text(), nullable=True),
            sa.Column("submit_time", sa.DateTime(), nullable=False),
            sa.Column("scheduled_time", sa.DateTime(), nullable=True),
            sa.Column("end_time", sa.DateTime(), nullable=True),
            sa.Column("attempts", sa.Integer(), nullable=False),
            sa.Column("worker_id", sa.String(length=128), nullable=True),
            sa.Column("heartbeat_at", sa.DateTime(), nullable=True),
            sa.PrimaryKeyConstraint("id"),
        )
        op.create_index("ix_tasks_batch", "tasks", ["batch_id"], unique=False,
                        sqlite_where=sa.text("batch_id IS NOT NULL"), postgresql_where=sa.text("batch_id IS NOT NULL"))
        op.create_index("ix_tasks_owner_submit", "tasks", ["owner_key_id", "submit_time"], unique=False)
        op.create_index("ix_tasks_status_submit", "tasks", ["status", "submit_time"], unique=False)


def downgrade() -> None:
    for table in ("tasks", "task_signals", "quota_usage", "nonces", "blobs", "api_keys"):
        op.drop_table(table)
