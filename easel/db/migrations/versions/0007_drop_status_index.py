"""Drop ix_tasks_status_submit: every query that filters on status alone is served by ix_tasks_claim, which
leads with status too (the in-process claim, RUNNING lookups, the queue-depth metrics), and each index on
tasks is one more b-tree written by every create and every state change.

Revision ID: 0007_drop_status_index
Revises: 0006_job_task_index
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0007_drop_status_index"
down_revision = "0006_job_task_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_tasks_status_submit", table_name="tasks")


def downgrade() -> None:
    op.create_index("ix_tasks_status_submit", "tasks", ["status", "submit_time"])
