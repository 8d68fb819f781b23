"""Durable task records and the one state machine they follow.

PENDING -> RUNNING -> SUCCEEDED | FAILED ; PENDING -> CANCELED. Every transition is a conditional
UPDATE on the current status, so two workers (threads or processes, SQLite or PostgreSQL) can never
both claim a task, and a cancel can never race a claim.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Connection, bindparam, delete, func, select, update
from sqlalchemy.exc import IntegrityError

from easel.db.models import Blob, Task, TaskSignal, TaskStatus
from easel.db.session import Database
from easel.ids import new_time_ordered_id


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class Owner:
    """Whose task it is: the API key, and the workspace header when one was sent."""

    key_id: str
    workspace: str = ""


@dataclass(frozen=True)
class NewTask:
    model: str
    function: str
    request: dict[str, Any]
    api: str = "dashscope"
    batch_id: str | None = None
    batch_index: int = 0
    # A request that can be judged impossible before any work (e.g. no engine configured) is
    # stored already FAILED, so the client still gets a task id and polls to a clear answer.
    failed_code: str | None = None
    failed_message: str | None = None
    # the queue lane (easel/queue/lanes.py) and the priority within it (higher runs first)
    lane: str = "general"
    priority: int | None = None  # None: 1 for a synchronous call (a client holds its connection), else 0


@dataclass(frozen=True)
class Candidate:
    """Pending work of one key in one lane, as the claim sees it: the queue picks which to start."""

    lane: str
    owner_key_id: str
    priority: int
    oldest: datetime


def first_come(candidates: list[Candidate]) -> Candidate:
    """Highest priority, then the oldest: the claim order when the queue has no fairness to apply."""
    return min(candidates, key=lambda c: (-c.priority, c.oldest))


@dataclass(frozen=True)
class TaskPage:
    items: list[Task]
    total: int


@dataclass(frozen=True)
class TaskFilter:
    status: str | None = None
    model: str | None = None
    start: datetime | None = None
    end: datetime | None = None


@dataclass(frozen=True)
class Outcome:
    """What a finished run produced: per-image results, extra output fields and usage."""

    results: list[dict[str, Any]]
    extra_output: dict[str, Any] | None = None
    usage: dict[str, Any] | None = None

    @property
    def status(self) -> TaskStatus:
        """SUCCEEDED when at least one image was stored, else FAILED."""
        return TaskStatus.SUCCEEDED if any("blob" in r for r in self.results) else TaskStatus.FAILED


TASKS = Task.__table__
# The columns a new task sets (see new_record); the rest start NULL.
NEW_TASK_COLUMNS = (
    "id", "owner_key_id", "workspace", "api", "batch_id", "batch_index", "model", "function", "status",
    "request", "code", "message", "submit_time", "end_time", "attempts", "lane", "priority",
)
# The two statements every task runs, built once: building an UPDATE costs as much CPU as running it.
_START = (
    update(TASKS)
    .where(TASKS.c.id == bindparam("task_id"), TASKS.c.status == TaskStatus.PENDING)
    .values(status=TaskStatus.RUNNING, scheduled_time=bindparam("now"), worker_id=bindparam("worker"),
            heartbeat_at=bindparam("now"), attempts=TASKS.c.attempts + 1)
    .returning(*TASKS.c)
)
_FAIL = (
    update(TASKS)
    .where(TASKS.c.id == bindparam("task_id"), TASKS.c.status == TaskStatus.RUNNING)
    .values(status=TaskStatus.FAILED, code=bindparam("failed_code"), message=bindparam("failed_message"),
            end_time=bindparam("now"))
)
_SQLITE_INSERT = f"INSERT INTO tasks ({', '.join(NEW_TASK_COLUMNS)}) VALUES ({', '.join('?' * len(NEW_TASK_COLUMNS))})"


def _sqlite_value(value: Any) -> Any:
    """What SQLAlchemy's SQLite dialect would store: JSON as text, datetimes as ISO text."""
    if isinstance(value, dict | list):
        return json.dumps(value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


class JobLink(Protocol):
    """The queue's side of a store write, in the same transaction (PostgreSQL: easel/queue/procrastinate.py)."""

    def defer(self, conn: Connection, records: list[dict[str, Any]]) -> None: ...

    def abort(self, conn: Connection, task_id: str) -> None: ...


class TaskStore:
    def __init__(self, db: Database, jobs: JobLink | None = None) -> None:
        self.db = db
        # None: the in-process queue claims from the table itself
        self.jobs = jobs
        self._insert_lock = threading.Lock()
        self._insert_connection: Any = None

    # --- creation and reads -------------------------------------------------------------------
    def create(self, owner: Owner, new: NewTask) -> Task:
        return self.create_many(owner, [new])[0]

    def create_many(self, owner: Owner, news: list[NewTask]) -> list[Task]:
        records = [new_record(owner, new) for new in news]
        self.insert(records)
        return [Task(**record) for record in records]

    def insert(self, records: list[dict[str, Any]]) -> None:
        """One transaction for many rows: Core executemany, several times cheaper per row than the ORM.

        On SQLite the rows go straight to the driver: the group writer runs this while the event loop
        waits for the GIL, so every microsecond of Python here is a microsecond of HTTP not served.
        """
        if self.db.engine.dialect.name == "sqlite":
            self._insert_sqlite(records)
            return
        with self.db.engine.begin() as conn:
            conn.execute(TASKS.insert(), records)
            if self.jobs is not None:  # the task and its job commit together, or neither does
                self.jobs.defer(conn, records)

    def _insert_sqlite(self, records: list[dict[str, Any]]) -> None:
        rows = [tuple(_sqlite_value(record[c]) for c in NEW_TASK_COLUMNS) for record in records]
        with self._insert_lock:
            if self._insert_connection is None:
                # kept checked out: a pool checkout per batch costs more than the insert itself
                self._insert_connection = self.db.engine.raw_connection()
            connection = self._insert_connection
            try:
                connection.cursor().executemany(_SQLITE_INSERT, rows)
                connection.commit()
            except BaseException:
                connection.rollback()
                raise

    def get(self, task_id: str, owner: Owner) -> Task | None:
        """The task if it exists and belongs to this key (and workspace, when one is given)."""
        with self.db.session() as s:
            task = s.get(Task, task_id)
        if task is None or not _owned_by(task, owner):
            return None
        return task

    def batch(self, batch_id: str, owner: Owner) -> list[Task]:
        with self.db.session() as s:
            rows = s.scalars(
                select(Task).where(Task.batch_id == batch_id).order_by(Task.batch_index)
            ).all()
        return [t for t in rows if t.owner_key_id == owner.key_id]

    def list(self, owner: Owner, flt: TaskFilter, page_no: int, page_size: int) -> TaskPage:
        query = select(Task).where(Task.owner_key_id == owner.key_id, Task.api == "dashscope")
        if owner.workspace:
            query = query.where(Task.workspace == owner.workspace)
        if flt.status:
            query = query.where(Task.status == flt.status)
        if flt.model:
            query = query.where(Task.model == flt.model)
        if flt.start:
            query = query.where(Task.submit_time >= flt.start)
        if flt.end:
            query = query.where(Task.submit_time <= flt.end)
        with self.db.session() as s:
            total = s.scalar(select(func.count()).select_from(query.subquery())) or 0
            items = s.scalars(
                query.order_by(Task.submit_time.desc(), Task.id)
                .offset((page_no - 1) * page_size)
                .limit(page_size)
            ).all()
        return TaskPage(list(items), total)

    # --- transitions --------------------------------------------------------------------------
    def cancel(self, task_id: str, owner: Owner) -> bool:
        """PENDING -> CANCELED at once; RUNNING -> CANCELED at the engine's next step (an Easel extension:
        the worker sees the request through `cancel_requested`). False when the task is not this
        owner's or has already ended."""
        task = self.get(task_id, owner)
        if task is None:
            return False
        if self._transition(task_id, TaskStatus.PENDING, status=TaskStatus.CANCELED, end_time=utcnow()):
            self._abort_job(task_id)  # its queued job is cancelled (it would be dropped anyway)
            return True
        if task.status not in (TaskStatus.PENDING, TaskStatus.RUNNING):
            return False
        self._write_signal(task_id, cancel_requested=True)
        self._abort_job(task_id)
        with self.db.session() as s:  # it may have ended while we wrote the request
            return s.scalar(select(Task.status).where(Task.id == task_id)) == TaskStatus.RUNNING

    def _abort_job(self, task_id: str) -> None:
        if self.jobs is not None:
            with self.db.engine.begin() as conn:
                self.jobs.abort(conn, task_id)

    def cancel_requested(self, task_id: str) -> bool:
        signals = TaskSignal.__table__
        with self.db.autocommit() as conn:
            return bool(conn.scalar(select(signals.c.cancel_requested).where(signals.c.task_id == task_id)))

    def set_progress(self, task_id: str, percent: int) -> None:
        self._write_signal(task_id, progress=percent)

    def status_of(self, task_id: str) -> str | None:
        with self.db.autocommit() as conn:
            return conn.scalar(select(TASKS.c.status).where(TASKS.c.id == task_id))

    def progress_of(self, task_id: str) -> int | None:
        with self.db.session() as s:
            return s.scalar(select(TaskSignal.progress).where(TaskSignal.task_id == task_id))

    def _write_signal(self, task_id: str, **values: Any) -> None:
        where = TaskSignal.task_id == task_id
        with self.db.session() as s:
            if s.execute(update(TaskSignal).where(where).values(updated_at=utcnow(), **values)).rowcount:
                return
        try:
            with self.db.session() as s:
                s.add(TaskSignal(task_id=task_id, updated_at=utcnow(), **values))
        except IntegrityError:  # the worker and a cancel wrote the first signal at once
            with self.db.session() as s:
                s.execute(update(TaskSignal).where(where).values(updated_at=utcnow(), **values))

    def end_canceled(self, task_id: str) -> bool:
        """RUNNING -> CANCELED, when the worker stopped a task whose cancellation was requested."""
        return self._transition(task_id, TaskStatus.RUNNING, status=TaskStatus.CANCELED, end_time=utcnow())

    def claim_next(
        self, worker_id: str, lanes: list[str] | None = None, pick: Callable[[list[Candidate]], Candidate] = first_come
    ) -> Task | None:
        """PENDING -> RUNNING for a pending task of `lanes` (None: any); None when there is none.

        `pick` chooses whose work starts (lane, key, priority) from one row per lane and key, so one
        key's hundred tasks cannot starve another key's one; the oldest of the chosen group starts."""
        for _ in range(8):  # another worker may win a race for the same row; try the next one
            groups = self.pending_groups(lanes)
            if not groups:
                return None
            task_id = self.first_in_group(pick(groups))
            if task_id is None:
                continue
            task = self.start(task_id, worker_id)
            if task is not None:
                return task
        return None

    def start(self, task_id: str, worker_id: str) -> Task | None:
        """PENDING -> RUNNING for this worker; None when the task is no longer PENDING (drop the work).

        One statement built once (UPDATE … RETURNING), committing itself, no ORM session: the start is on
        every task's path, the drain rate's too, and a session costs twice the statement."""
        with self.db.autocommit() as conn:
            row = conn.execute(_START, {"task_id": task_id, "now": utcnow(), "worker": worker_id}).first()
        return None if row is None else Task(**row._mapping)

    def pending_groups(self, lanes: list[str] | None = None) -> list[Candidate]:
        """One row per lane and key with pending work (a scan of the pending rows: callers may cache it)."""
        pending = [Task.status == TaskStatus.PENDING]
        if lanes is not None:
            pending.append(Task.lane.in_(lanes))
        with self.db.session() as s:
            rows = s.execute(
                select(Task.lane, Task.owner_key_id, func.max(Task.priority), func.min(Task.submit_time))
                .where(*pending)
                .group_by(Task.lane, Task.owner_key_id)
            ).all()
        return [Candidate(*row) for row in rows]

    def first_in_group(self, group: Candidate) -> str | None:
        """The oldest pending task of a lane, key and priority (one step down the claim index)."""
        with self.db.session() as s:
            return s.scalar(
                select(Task.id)
                .where(Task.status == TaskStatus.PENDING, Task.lane == group.lane,
                       Task.priority == group.priority, Task.owner_key_id == group.owner_key_id)
                .order_by(Task.submit_time, Task.batch_index)
                .limit(1)
            )

    def succeed(self, task_id: str, outcome: Outcome) -> bool:
        ok = [r for r in outcome.results if "blob" in r]
        fields: dict[str, Any] = {
            "status": outcome.status,
            "results": outcome.results,
            "extra_output": outcome.extra_output,
            "usage": outcome.usage if outcome.usage is not None else {"image_count": len(ok)},
            "end_time": utcnow(),
        }
        if not ok:
            first = outcome.results[0] if outcome.results else {}
            fields["code"] = first.get("code", "InternalError")
            fields["message"] = first.get("message", "The task produced no image.")
        return self._transition(task_id, TaskStatus.RUNNING, **fields)

    def fail(self, task_id: str, code: str, message: str) -> bool:
        with self.db.autocommit() as conn:
            result = conn.execute(_FAIL, {"task_id": task_id, "failed_code": code, "failed_message": message,
                                          "now": utcnow()})
        return (result.rowcount or 0) == 1

    def running(self) -> list[tuple[str, str | None, datetime | None, int]]:
        """(id, worker_id, heartbeat_at, attempts) of every RUNNING task."""
        with self.db.session() as s:
            rows = s.execute(
                select(Task.id, Task.worker_id, Task.heartbeat_at, Task.attempts).where(
                    Task.status == TaskStatus.RUNNING
                )
            ).all()
        return [tuple(r) for r in rows]  # type: ignore[misc]

    def heartbeat(self, task_ids: list[str]) -> None:
        if not task_ids:
            return
        with self.db.session() as s:
            s.execute(
                update(Task)
                .where(Task.id.in_(task_ids), Task.status == TaskStatus.RUNNING)
                .values(heartbeat_at=utcnow())
            )

    def requeue(self, task_id: str, worker_id: str | None, give_up: bool) -> bool:
        """RUNNING -> PENDING for an orphaned task, or FAILED when it has crashed workers too often.

        A task that kills its worker every time (say, by exhausting memory) must not loop forever.
        """
        where = [Task.id == task_id, Task.status == TaskStatus.RUNNING, Task.worker_id == worker_id]
        if give_up:
            values: dict[str, Any] = {
                "status": TaskStatus.FAILED, "code": "InternalError", "end_time": utcnow(),
                "message": "The task was interrupted by worker crashes too many times; giving up.",
            }
        else:
            values = {"status": TaskStatus.PENDING, "worker_id": None, "heartbeat_at": None}
        with self.db.session() as s:
            result = s.execute(update(Task).where(*where).values(**values))
        return (result.rowcount or 0) == 1

    def _transition(self, task_id: str, expected: TaskStatus, **values: Any) -> bool:
        with self.db.autocommit() as conn:  # Core, like start(): every task ends through here
            result = conn.execute(
                update(TASKS).where(TASKS.c.id == task_id, TASKS.c.status == expected).values(**values)
            )
        return (result.rowcount or 0) == 1

    # --- retention ----------------------------------------------------------------------------
    def record_blob(self, key: str, owner_key_id: str, size: int) -> None:
        with self.db.session() as s:
            s.merge(Blob(key=key, owner_key_id=owner_key_id, created_at=utcnow(), size=size))

    def blob_owner(self, key: str) -> str | None:
        with self.db.session() as s:
            blob = s.get(Blob, key)
        return blob.owner_key_id if blob else None

    def expired(self, retention: timedelta) -> tuple[list[str], list[str]]:
        """Ids of finished tasks and keys of blobs older than the retention."""
        cutoff = utcnow() - retention
        with self.db.session() as s:
            task_ids = s.scalars(
                select(Task.id).where(Task.end_time.is_not(None), Task.end_time < cutoff)
            ).all()
            blob_keys = s.scalars(select(Blob.key).where(Blob.created_at < cutoff)).all()
        return list(task_ids), list(blob_keys)

    def delete(self, task_ids: list[str], blob_keys: list[str]) -> None:
        with self.db.session() as s:
            if task_ids:
                s.execute(delete(Task).where(Task.id.in_(task_ids)))
                s.execute(delete(TaskSignal).where(TaskSignal.task_id.in_(task_ids)))
            if blob_keys:
                s.execute(delete(Blob).where(Blob.key.in_(blob_keys)))


def _owned_by(task: Task, owner: Owner) -> bool:
    if task.owner_key_id != owner.key_id:
        return False
    return not owner.workspace or task.workspace == owner.workspace


def new_record(owner: Owner, new: NewTask) -> dict[str, Any]:
    """The row for a new task, as plain column values (not yet stored)."""
    now = utcnow()
    failed = new.failed_code is not None
    return {
        "id": new_time_ordered_id(),
        "owner_key_id": owner.key_id,
        "workspace": owner.workspace,
        "api": new.api,
        "batch_id": new.batch_id,
        "batch_index": new.batch_index,
        "model": new.model,
        "function": new.function,
        "status": TaskStatus.FAILED.value if failed else TaskStatus.PENDING.value,
        "request": new.request,
        "code": new.failed_code,
        "message": new.failed_message,
        "submit_time": now,
        "end_time": now if failed else None,
        "attempts": 0,
        "lane": new.lane,
        "priority": new.priority if new.priority is not None else int(new.api == "sync"),
    }
