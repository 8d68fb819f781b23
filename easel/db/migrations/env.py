"""Alembic environment: runs on the connection easel.db.migrate hands over, or renders SQL offline (--sql)."""

from __future__ import annotations

from alembic import context

from easel.db.models import Base

config = context.config


def _configure(**kwargs: object) -> None:
    context.configure(
        target_metadata=Base.metadata,
        compare_type=True,
        # SQLite cannot ALTER most things: batch mode rebuilds the table instead
        render_as_batch=True,
        **kwargs,
    )


if context.is_offline_mode():
    _configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    _configure(connection=config.attributes["connection"])
    with context.begin_transaction():
        context.run_migrations()
