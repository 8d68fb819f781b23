"""PostgreSQL only: procrastinate's schema (procrastinate 3.10.0), the job queue workers on many machines share.

Easel's tasks stay the source of truth for DashScope state; a job only says which task to start, in which
lane (procrastinate queue). SQLite deployments queue in process and get nothing here. A later procrastinate
version brings its migrations (procrastinate/sql/migrations) as a revision after this one.

Revision ID: 0005_procrastinate
Revises: 0004_queue_lanes
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import context, op

from easel.db.migrations.adopt import missing

revision = "0005_procrastinate"
down_revision = "0004_queue_lanes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_context().dialect.name != "postgresql" or not missing("procrastinate_jobs"):
        return
    from procrastinate.schema import SchemaManager

    schema = SchemaManager.get_schema()
    if context.is_offline_mode():  # `easel migrate --sql`
        op.execute(schema)
    else:
        # the driver's own connection: the schema's functions hold '%' and ':' that no layer may rewrite
        op.get_bind().connection.driver_connection.execute(schema)
    # Tasks queued by the earlier in-process queue get their jobs; RUNNING ones whose worker has been silent
    # for 60 s (that queue's orphan rule) are orphans and start again. Live earlier workers finish theirs.
    op.execute("UPDATE tasks SET status = 'PENDING', worker_id = NULL, heartbeat_at = NULL WHERE status = 'RUNNING'"
               " AND (heartbeat_at IS NULL OR heartbeat_at < (now() AT TIME ZONE 'UTC') - interval '60 seconds')")
    op.execute("INSERT INTO procrastinate_jobs (queue_name, task_name, priority, args)"
               " SELECT lane, 'easel.run_task', priority, jsonb_build_object('task_id', id) FROM tasks"
               " WHERE status = 'PENDING'")


def downgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    op.execute("DROP TABLE IF EXISTS procrastinate_events, procrastinate_periodic_defers, procrastinate_jobs, "
               "procrastinate_workers CASCADE")
    op.execute("DROP TYPE IF EXISTS procrastinate_job_to_defer_v1, procrastinate_job_event_type, "
               "procrastinate_job_status CASCADE")
