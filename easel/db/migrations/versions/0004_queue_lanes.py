"""Queue lanes: each task's lane (the engine task its plan runs) and its priority, and the claim index.

Revision ID: 0004_queue_lanes
Revises: 0003_key_limits
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_queue_lanes"
down_revision = "0003_key_limits"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # tasks stored before lanes existed run in the general lane, at the normal priority
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("lane", sa.String(length=32), nullable=False, server_default="general"))
        batch.add_column(sa.Column("priority", sa.Integer(), nullable=False, server_default="0"))
    op.create_index("ix_tasks_claim", "tasks", ["status", "lane", "priority", "owner_key_id", "submit_time"])


def downgrade() -> None:
    op.drop_index("ix_tasks_claim", table_name="tasks")
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("priority")
        batch.drop_column("lane")
