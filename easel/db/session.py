"""Database engine and sessions. SQLite (default) gets WAL so readers never wait on the worker's writes."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import DisconnectionError
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
        engine = create_engine(url, pool_size=16, max_overflow=16)
        _ping_when_idle(engine)
    if migrate:
        schema.upgrade(engine)
    else:
        schema.require_current(engine)
    return engine


# A pooled connection idle longer than this is pinged before use. pool_pre_ping pings on every checkout:
# a round trip per transaction, ~15 % of a fast task's worker time; a connection reused within a second
# has just worked, and one that broke in between fails its statement like any network error.
PING_AFTER_IDLE_S = 1.0


def _ping_when_idle(engine: Engine) -> None:
    """Pessimistic disconnect handling for idle connections only (a restarted database, a dropped socket)."""

    def stamp(_dbapi_conn: Any, record: Any, *_: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    def ping(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        if time.monotonic() - record.info.get("idle_since", 0.0) < PING_AFTER_IDLE_S:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:
            raise DisconnectionError("the pooled connection is gone") from exc  # the pool reconnects

    event.listen(engine, "connect", stamp)
    event.listen(engine, "checkin", stamp)
    event.listen(engine, "checkout", ping)


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
        self._autocommit = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        self._checkpointer = SqliteCheckpointer(self.engine) if url.startswith("sqlite") else None

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions() as session, session.begin():
            yield session

    def autocommit(self) -> AbstractContextManager[Connection]:
        """A Core connection whose every statement commits itself: for the hot single statements (a task's
        start and end), one round trip each instead of BEGIN, statement, COMMIT."""
        return self._autocommit.connect()

    def dispose(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stop()
        self.engine.dispose()
