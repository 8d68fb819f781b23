"""Database tables: API keys, tasks, stored blobs, relight nonces and webhooks (SQLAlchemy 2, SQLite or PostgreSQL)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, Index, Integer, String, Text, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class TaskStatus(StrEnum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELED = "CANCELED"
    UNKNOWN = "UNKNOWN"  # only ever reported, for ids we do not know; never stored

    @property
    def terminal(self) -> bool:
        return self in (TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.CANCELED)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    # sha256 of the secret: keys are 192-bit random tokens, so a fast hash is enough to make a
    # leaked database useless for calling the API.
    key_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    key_prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class Task(Base):
    __tablename__ = "tasks"
    __table_args__ = (
        # the in-process queue's claim: pending tasks of the served lanes, by priority and key; also every
        # query on status alone (RUNNING lookups, queue-depth metrics)
        Index("ix_tasks_claim", "status", "lane", "priority", "owner_key_id", "submit_time"),
        Index("ix_tasks_owner_submit", "owner_key_id", "submit_time"),
        # per-key concurrency limits count a key's PENDING and RUNNING tasks from the index alone (easel.auth.limits)
        Index("ix_tasks_owner_status", "owner_key_id", "status", "api"),
        # only relight tasks have a batch; a partial index costs DashScope creates nothing
        Index("ix_tasks_batch", "batch_id", sqlite_where=text("batch_id IS NOT NULL"),
              postgresql_where=text("batch_id IS NOT NULL")),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner_key_id: Mapped[str] = mapped_column(String(32))
    workspace: Mapped[str] = mapped_column(String(128), default="")
    # "dashscope" tasks are polled on /tasks; "relight" tasks belong to a relight batch.
    api: Mapped[str] = mapped_column(String(16), default="dashscope")
    batch_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    batch_index: Mapped[int] = mapped_column(Integer, default=0)
    model: Mapped[str] = mapped_column(String(128))
    function: Mapped[str] = mapped_column(String(64), default="")
    status: Mapped[str] = mapped_column(String(16), default=TaskStatus.PENDING)
    request: Mapped[dict[str, Any]] = mapped_column(JSON)
    # results: list of {"blob": key} or {"code", "message"}; extra: model-specific output fields
    results: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
    extra_output: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    usage: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    message: Mapped[str | None] = mapped_column(Text, nullable=True)
    submit_time: Mapped[datetime] = mapped_column(DateTime)
    scheduled_time: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    end_time: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # the queue lane (easel/queue/lanes.py: the engine task the plan runs) and the priority in it
    lane: Mapped[str] = mapped_column(String(32), default="general")
    priority: Mapped[int] = mapped_column(Integer, default=0)
    # "host:pid:n" of the worker running it, and when that worker last said it is alive: how a
    # restarted process (or another node) tells an orphaned RUNNING task from a live one.
    worker_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class Blob(Base):
    """Every stored object (uploads and results), so retention can purge any storage backend."""

    __tablename__ = "blobs"

    key: Mapped[str] = mapped_column(String(512), primary_key=True)
    owner_key_id: Mapped[str] = mapped_column(String(32), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    size: Mapped[int] = mapped_column(Integer, default=0)


class Nonce(Base):
    """X-Ca-Nonce values seen on the relight API, kept for the replay window."""

    __tablename__ = "nonces"

    nonce: Mapped[str] = mapped_column(String(128), primary_key=True)
    key_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(DateTime, index=True)


class QuotaUsage(Base):
    """Calls counted against a key's quota on one API (e.g. relight images submitted)."""

    __tablename__ = "quota_usage"

    key_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    api: Mapped[str] = mapped_column(String(16), primary_key=True)
    used: Mapped[int] = mapped_column(Integer, default=0)


class TaskSignal(Base):
    """What a RUNNING task reports and is told while it runs: progress, and a requested cancellation.

    A table of its own (not columns on tasks) so databases made by earlier versions gain it through
    create_all, and the hot task row is not rewritten on every diffusion step.
    """

    __tablename__ = "task_signals"

    task_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    progress: Mapped[int | None] = mapped_column(Integer, nullable=True)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class KeyWebhook(Base):
    """A key's webhook settings: the secret that signs its deliveries and an optional default callback URL.

    A table of its own (not columns on api_keys), so databases made by earlier versions gain it through
    create_all. The secret is stored as is: signing needs it, exactly as the receiver does.
    """

    __tablename__ = "key_webhooks"

    key_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    secret: Mapped[str] = mapped_column(String(128))
    default_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class WebhookDelivery(Base):
    """One callback owed for a task (kind "task") or a relight batch (kind "relight", subject its result_key).

    state: waiting (the subject has not ended) -> pending (body rendered, due at next_attempt_at) ->
    delivered | failed (gave up or refused). Claimed for an attempt by a conditional UPDATE of
    lease_until, so any number of processes can deliver without sending one twice at once.
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_state_due", "state", "next_attempt_at"),
        Index("ix_webhook_deliveries_subject", "kind", "subject", unique=True),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str] = mapped_column(String(32))
    url: Mapped[str] = mapped_column(Text)
    # where the create came in: result links in the body point there (unless EASEL_PUBLIC_URL is set)
    base_url: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default="waiting")
    body: Mapped[str | None] = mapped_column(Text, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class RateLimit(Base):
    """Per-key limit state that every API node shares (easel.auth.limits).

    scope "create" / "relight": a token bucket (tokens left, stamp = epoch seconds of the last refill);
    scope "active": admissions granted but not yet inserted as tasks (tokens), as of stamp.
    """

    __tablename__ = "rate_limits"

    key_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    scope: Mapped[str] = mapped_column(String(16), primary_key=True)
    tokens: Mapped[float] = mapped_column(Float)
    stamp: Mapped[float] = mapped_column(Float)
