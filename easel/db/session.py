"""Database engine and sessions. SQLite (default) gets WAL so readers never wait on the worker's writes."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from easel.db import migrate as schema

log = logging.getLogger("easel.db")


def make_engine(url: str, migrate: bool = True) -> Engine:
    """An engine on a database at the newest schema revision: migrated here when `migrate`, else checked
    (EASEL_AUTO_MIGRATE=0: the deployment runs `easel migrate` itself)."""
    if url.startswith("sqlite"):
        _ensure_sqlite_dir(url)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, pool_size=16)
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(url, pool_size=16, max_overflow=16, pool_pre_ping=True)
    if migrate:
        schema.upgrade(engine)
    else:
        schema.require_current(engine)
    return engine


def _ensure_sqlite_dir(url: str) -> None:
    path = url.split("///", 1)[-1]
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # NORMAL in WAL mode: a commit survives a crash of Easel; only an OS crash may lose the last ones.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    # No checkpoint inside commits: it fsyncs, and in a commit it would cost every create ~90 µs.
    # The Database's checkpointer thread does it instead (see SqliteCheckpointer).
    cursor.execute("PRAGMA wal_autocheckpoint=0")
    cursor.close()


class SqliteCheckpointer:
    """Moves the WAL into the database file every second, off the request path."""

    def __init__(self, engine: Engine, interval_s: float = 1.0) -> None:
        self.engine = engine
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="easel-sqlite-checkpoint")
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                with self.engine.connect() as conn:
                    conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
            except Exception:
                log.exception("WAL checkpoint failed; will retry")

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        with contextlib.suppress(Exception), self.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


class Database:
    def __init__(self, url: str, migrate: bool = True) -> None:
        self.url = url
        self.engine = make_engine(url, migrate)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._checkpointer = SqliteCheckpointer(self.engine) if url.startswith("sqlite") else None

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions() as session, session.begin():
            yield session

    def dispose(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stop()
        self.engine.dispose()
