"""For the first revisions only: databases made before migrations existed (Base.metadata.create_all) already
have some of these tables, exactly as the models made them. Those tables are kept, and only missing ones
are created, so such a database is adopted without losing a row."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op


def missing(table: str) -> bool:
    if context.is_offline_mode():  # --sql renders the script for an empty database
        return True
    return not sa.inspect(op.get_bind()).has_table(table)
