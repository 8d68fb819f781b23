"""Replay guard (X-Ca-Nonce), per-key rate and concurrency limits and per-key quotas, all kept in the database
so that they hold across API nodes."""

from __future__ import annotations

import functools
import threading
import time
import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import timedelta
from typing import Any, ClassVar

from anyio import to_thread
from sqlalchemy import CursorResult, TextClause, delete, select, text, update
from sqlalchemy.exc import IntegrityError

from easel.db.models import Nonce, QuotaUsage, TaskStatus
from easel.db.session import Database
from easel.errors import Throttling
from easel.tasks.store import utcnow


class NonceGuard:
    """Each (key, nonce) is accepted once within the window; stored in the database, so a restart
    or a second API node cannot be used to replay a request."""

    def __init__(self, db: Database, window_s: int) -> None:
        self.db = db
        self.window = timedelta(seconds=window_s)

    def accept(self, key_id: str, nonce: str) -> bool:
        now = utcnow()
        try:
            with self.db.session() as s:
                s.execute(delete(Nonce).where(Nonce.key_id == key_id, Nonce.nonce == nonce,
                                              Nonce.seen_at < now - self.window))
                s.add(Nonce(key_id=key_id, nonce=nonce, seen_at=now))
        except IntegrityError:
            return False
        return True

    def purge(self) -> None:
        with self.db.session() as s:
            s.execute(delete(Nonce).where(Nonce.seen_at < utcnow() - self.window))


# Written as SQL once, not built per call: building a SQLAlchemy expression costs ~10x the UPDATE itself.
# Plain SQL with :named parameters, which SQLite (3.35+, also through its own driver) and PostgreSQL both
# run. The refill never runs backwards when the calling node's clock lags the one that last spent (nodes
# are expected to run NTP).
_REFILLED = "tokens + (CASE WHEN stamp < :now THEN :now - stamp ELSE 0 END) * :rate"
_AVAILABLE = f"(CASE WHEN {_REFILLED} > :cap THEN :cap ELSE {_REFILLED} END)"
_SPEND = (
    f"UPDATE rate_limits SET tokens = {_AVAILABLE} - 1, stamp = CASE WHEN stamp < :now THEN :now ELSE stamp END "
    f"WHERE key_id = :key AND scope = :scope AND {_AVAILABLE} >= 1 RETURNING tokens"
)
_CREATE_ROW = (
    "INSERT INTO rate_limits (key_id, scope, tokens, stamp) VALUES (:key, :scope, :tokens, :now) "
    "ON CONFLICT (key_id, scope) DO NOTHING RETURNING key_id"
)
_RESERVED = "SELECT tokens, stamp FROM rate_limits WHERE key_id = :key AND scope = :scope"
# at most :limit rows are read: the count only has to tell whether the limit is reached
_ACTIVE = (
    f"SELECT count(*) FROM (SELECT 1 FROM tasks WHERE owner_key_id = :key AND status IN ('{TaskStatus.PENDING}', "
    f"'{TaskStatus.RUNNING}') AND api IN ('dashscope', 'sync') LIMIT :limit) AS active"  # relight: its own quota
)
_SET_RESERVED = "UPDATE rate_limits SET tokens = :tokens, stamp = :now WHERE key_id = :key AND scope = :scope"
_RELEASE = "UPDATE rate_limits SET tokens = tokens - 1 WHERE key_id = :key AND scope = :scope AND tokens >= 1"


class TokenBucket:
    """`rate` calls per second per key, bursts up to max(1, rate): one bucket row per (key, scope) in the
    database (rate_limits), refilled and spent by one conditional UPDATE, so the limit holds across API
    nodes."""

    def __init__(self, db: Database, scope: str, rate_per_s: float) -> None:
        self.db = db
        self.scope = scope
        self.rate = rate_per_s
        self.capacity = max(1.0, rate_per_s)
        self.sql = LimitSql.of(db)

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def allow(self, key_id: str) -> bool:
        if not self.enabled:
            return True
        now = time.time()
        with self.sql.transaction() as first:
            if first(_SPEND, {"key": key_id, "scope": self.scope, "now": now, "rate": self.rate,
                              "cap": self.capacity}) is not None:
                return True
            # no row yet (this key's first call here), or an empty bucket
            return _create_row(first, key_id, self.scope, self.capacity - 1.0, now)


class ActiveTasks:
    """At most `limit` PENDING + RUNNING tasks per key (DashScope and synchronous calls), across API nodes.

    Counting the key's tasks and inserting the new one happen in different transactions (the group
    writer inserts), so an admission is first reserved on the key's "active" row: admissions of one key
    are serialised by that row (a row lock on PostgreSQL, the write lock on SQLite), and each counts the
    tasks stored plus the reservations not yet inserted. A reservation is released once its task is
    stored; reservations older than RESERVATION_TTL_S are void (a node died in between).
    """

    SCOPE = "active"
    RESERVATION_TTL_S = 30.0

    def __init__(self, db: Database, limit: int) -> None:
        self.limit = limit
        self.sql = LimitSql.of(db)
        self._reserved = _RESERVED + (" FOR UPDATE" if db.engine.dialect.name == "postgresql" else "")

    @property
    def enabled(self) -> bool:
        return self.limit > 0

    def reserve(self, key_id: str) -> bool:
        now = time.time()
        key = {"key": key_id, "scope": self.SCOPE}
        with self.sql.transaction() as first:
            _create_row(first, key_id, self.SCOPE, 0.0, now)  # first: on SQLite this takes the write lock
            row = first(self._reserved, key)
            assert row is not None
            tokens, stamp = row
            reserved = int(tokens) if now - stamp < self.RESERVATION_TTL_S else 0
            counted = first(_ACTIVE, {"key": key_id, "limit": self.limit})
            active = counted[0] if counted else 0
            if active + reserved >= self.limit:
                return False
            first(_SET_RESERVED, {**key, "tokens": reserved + 1, "now": now})
            return True

    def release(self, key_id: str) -> None:
        with self.sql.transaction() as first:
            first(_RELEASE, {"key": key_id, "scope": self.SCOPE})


class KeyLimits:
    """The DashScope API's per-key limits on creates (EASEL_KEY_CREATE_QPS, EASEL_KEY_MAX_ACTIVE_TASKS),
    answered as the cloud does: HTTP 429, Throttling.RateQuota / Throttling.AllocationQuota."""

    def __init__(self, db: Database, create_qps: float, max_active_tasks: int) -> None:
        self.creates = TokenBucket(db, "create", create_qps)
        self.active = ActiveTasks(db, max_active_tasks)
        self.sqlite = db.engine.dialect.name == "sqlite"

    @property
    def enabled(self) -> bool:
        return self.creates.enabled or self.active.enabled

    @asynccontextmanager
    async def creating(self, key_id: str) -> AsyncIterator[None]:
        """Around storing a key's new task: refuses it when over a limit, free when limits are off."""
        if not self.enabled:
            yield
            return
        reserved = bool(await self._run(self._admit, key_id))
        try:
            yield
        finally:
            if reserved:
                await self._run(self.active.release, key_id)

    async def _run(self, check: Callable[[str], bool | None], key_id: str) -> bool | None:
        """SQLite: on the event loop, as the group writer inserts (easel/tasks/writer.py): a ~35 µs
        statement costs less than two thread hops, and a write from a thread would make the loop's next
        insert meet SQLite's busy-wait sleeps. A networked database: in a thread."""
        if self.sqlite:
            return check(key_id)
        return await to_thread.run_sync(check, key_id)

    def _admit(self, key_id: str) -> bool:
        if not self.creates.allow(key_id):
            raise Throttling(f"Requests rate limit exceeded, please try again later. (请求频率超限: this key may "
                             f"create {self.creates.rate:g} tasks a second.)", code="Throttling.RateQuota")
        if not self.active.enabled:
            return False
        if not self.active.reserve(key_id):
            raise Throttling(f"Allocated quota exceeded, please increase your quota limit. (this key already has "
                             f"{self.active.limit} tasks PENDING or RUNNING, the most it may have at once; "
                             "try again when one ends.)",
                             code="Throttling.AllocationQuota")
        return True


def _create_row(first: Statement, key_id: str, scope: str, tokens: float, now: float) -> bool:
    """Create the (key, scope) row unless it exists; True when this call created it (RETURNING, not
    rowcount: psycopg reports -1 for an INSERT ... ON CONFLICT)."""
    return first(_CREATE_ROW, {"key": key_id, "scope": scope, "tokens": tokens, "now": now}) is not None


# runs one statement of the current transaction; answers its first row
Statement = Callable[[str, dict[str, Any]], tuple[Any, ...] | None]


class LimitSql:
    """Runs the limits' statements, one transaction per check; one per Database.

    SQLite: on one connection kept open, under a lock, so this process's checks queue in Python rather
    than meet SQLite's busy-wait sleeps (1, 2, 5 ms ...), and pay no pool checkout (dearer than the
    UPDATE). PostgreSQL: pooled connections, concurrent; the rows' locks order them.
    """

    _instances: ClassVar[weakref.WeakKeyDictionary[Database, LimitSql]] = weakref.WeakKeyDictionary()
    _instances_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, db: Database) -> None:
        self.db = db
        self.sqlite = db.engine.dialect.name == "sqlite"
        self._lock = threading.Lock()
        self._connection: Any = None

    @classmethod
    def of(cls, db: Database) -> LimitSql:
        with cls._instances_lock:
            if db not in cls._instances:
                cls._instances[db] = cls(db)
            return cls._instances[db]

    @contextmanager
    def transaction(self) -> Iterator[Statement]:
        if not self.sqlite:
            with self.db.engine.begin() as conn:
                # a limit's state is worth no disk flush: a crash forgets at most the last instants' counts
                conn.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
                yield lambda sql, params: _first(conn.execute(_text(sql), params))
            return
        with self._lock:
            if self._connection is None:
                self._connection = self.db.engine.raw_connection()
            connection = self._connection
            cursor = connection.cursor()
            try:
                yield lambda sql, params: cursor.execute(sql, params).fetchone()
                connection.commit()
            except BaseException:
                connection.rollback()
                raise


@functools.cache
def _text(sql: str) -> TextClause:
    return text(sql)


def _first(result: CursorResult[Any]) -> tuple[Any, ...] | None:
    row = result.first() if result.returns_rows else None
    return None if row is None else tuple(row)


class Quota:
    """A per-key allowance of units (0 = unlimited), consumed atomically."""

    def __init__(self, db: Database, api: str, limit: int) -> None:
        self.db = db
        self.api = api
        self.limit = limit

    def consume(self, key_id: str, units: int) -> bool:
        if self.limit <= 0:
            return True
        try:
            return self._consume(key_id, units)
        except IntegrityError:  # two first uses raced to create the counter; it exists now
            return self._consume(key_id, units)

    def _consume(self, key_id: str, units: int) -> bool:
        with self.db.session() as s:
            if s.get(QuotaUsage, (key_id, self.api)) is None:
                s.add(QuotaUsage(key_id=key_id, api=self.api, used=0))
                s.flush()
            result = s.execute(
                update(QuotaUsage)
                .where(QuotaUsage.key_id == key_id, QuotaUsage.api == self.api,
                       QuotaUsage.used + units <= self.limit)
                .values(used=QuotaUsage.used + units)
            )
            return (result.rowcount or 0) == 1

    def refund(self, key_id: str, units: int) -> None:
        """Give back units consumed for work that was then refused."""
        if self.limit <= 0:
            return
        with self.db.session() as s:
            s.execute(
                update(QuotaUsage)
                .where(QuotaUsage.key_id == key_id, QuotaUsage.api == self.api, QuotaUsage.used >= units)
                .values(used=QuotaUsage.used - units)
            )

    def used(self, key_id: str) -> int:
        with self.db.session() as s:
            return s.scalar(select(QuotaUsage.used).where(QuotaUsage.key_id == key_id,
                                                          QuotaUsage.api == self.api)) or 0
