"""Applying the schema history: `easel migrate`, and at start unless EASEL_AUTO_MIGRATE=0.

A database made before migrations existed (create_all, no alembic_version table) is adopted: the first
revisions create only the tables it lacks (easel/db/migrations/adopt.py), so its rows are kept.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

log = logging.getLogger("easel.db")
# alembic says "Context impl SQLiteImpl." and more at INFO on every start; one line of ours says what changed
logging.getLogger("alembic.runtime.migration").setLevel(logging.WARNING)

MIGRATIONS = Path(__file__).parent / "migrations"
# any fixed 64-bit number: serialises migrations of one PostgreSQL database across starting nodes
_PG_LOCK = 0x6561_7365_6C5F_6462


class SchemaOutOfDate(RuntimeError):
    pass


def alembic_config(url: str = "") -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("file_template", "%%(rev)s")  # rev ids are NNNN_what: versions/NNNN_what.py
    if url:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head() -> str:
    revision = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert revision is not None, "easel/db/migrations/versions has no revisions"
    return revision


def current(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


class Migrated(NamedTuple):
    before: str | None  # None: a new database, or one made before migrations existed
    after: str


def upgrade(engine: Engine) -> Migrated | None:
    """Bring the database to the newest revision; what changed, or None when it already was there."""
    target = head()
    if current(engine) == target:
        return None
    with _exclusive(engine) as conn:
        found = MigrationContext.configure(conn).get_current_revision()
        if found == target:  # another process did it while this one waited
            return None
        config = alembic_config()
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
        conn.commit()
    log.info("database schema migrated: %s -> %s", found or "none (new or made before migrations)", target)
    return Migrated(found, target)


def require_current(engine: Engine) -> None:
    """For deployments that run `easel migrate` themselves: refuse to run on an older schema."""
    found, wanted = current(engine), head()
    if found != wanted:
        raise SchemaOutOfDate(f"the database schema is at revision {found or 'none'}, this Easel needs "
                              f"{wanted}: run `easel migrate` (or unset EASEL_AUTO_MIGRATE=0)")


def upgrade_sql(url: str) -> str:
    """The SQL that migrates an empty database of this URL's kind to the newest revision (for DBAs)."""
    buffer = io.StringIO()
    config = alembic_config(url)
    config.output_buffer = buffer
    command.upgrade(config, "head", sql=True)
    return buffer.getvalue()


@contextlib.contextmanager
def _exclusive(engine: Engine) -> Iterator[Connection]:
    """One migrating process per database: a transaction-scoped advisory lock on PostgreSQL, a lock file
    beside the database file on SQLite."""
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK})
            yield conn
            return
        database = engine.url.database
        if engine.dialect.name != "sqlite" or not database or database == ":memory:":
            yield conn
            return
        with open(f"{database}.migrate-lock", "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield conn
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
