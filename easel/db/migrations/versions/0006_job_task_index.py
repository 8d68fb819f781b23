"""PostgreSQL only: an index from a task id to its live procrastinate job, for cancelling.

Cancelling a task finds its job by `args->>'task_id'` (easel/queue/procrastinate.py, _ABORT); without
an index that is a scan of every queued job, so a cancel slows as the backlog grows (10 000 queued jobs:
a scan of all of them per cancel). Partial: finished jobs are deleted or never looked up.

Revision ID: 0006_job_task_index
Revises: 0005_procrastinate
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0006_job_task_index"
down_revision = "0005_procrastinate"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    op.execute("CREATE INDEX IF NOT EXISTS easel_jobs_task_id ON procrastinate_jobs ((args->>'task_id'))"
               " WHERE status IN ('todo', 'doing')")


def downgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX IF EXISTS easel_jobs_task_id")
