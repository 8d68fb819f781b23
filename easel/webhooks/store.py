"""Webhook records: each key's secret and default URL, and the deliveries owed (see models.WebhookDelivery)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, exists, select, update
from sqlalchemy.exc import IntegrityError

from easel.db.models import ApiKey, KeyWebhook, Task, TaskStatus, WebhookDelivery
from easel.db.session import Database
from easel.ids import new_id
from easel.tasks.store import utcnow
from easel.webhooks.signing import new_secret

TERMINAL = (TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.CANCELED)
# A key's webhook settings reach every process within this time (the create path reads them per request).
_CACHE_TTL_S = 5.0

WAITING, PENDING, DELIVERED, FAILED = "waiting", "pending", "delivered", "failed"
TASK, RELIGHT = "task", "relight"


@dataclass(frozen=True)
class KeySettings:
    secret: str | None
    default_url: str | None


@dataclass(frozen=True)
class Due:
    """A delivery claimed for one attempt."""

    id: str
    subject: str
    key_id: str
    url: str
    body: str
    attempts: int


class WebhookStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._cache: dict[str, tuple[KeySettings, float]] = {}
        self._lock = threading.Lock()

    # --- per-key settings (the `easel keys callback` command) -----------------------------------
    def find_key(self, key_id_or_prefix: str) -> str | None:
        with self.db.session() as s:
            return s.scalar(select(ApiKey.id).where(
                (ApiKey.id == key_id_or_prefix) | (ApiKey.key_prefix == key_id_or_prefix),
                ApiKey.revoked_at.is_(None)))

    def configure(self, key_id: str, default_url: str | None, *, set_url: bool, rotate: bool) -> str | None:
        """Set (or, with default_url None, clear) the key's default URL when set_url; make a secret when the
        key has none or rotate is asked. Returns the new secret (shown once), or None when it is unchanged."""
        created: str | None = None
        with self.db.session() as s:
            row = s.get(KeyWebhook, key_id)
            if row is None:
                created = new_secret()
                row = KeyWebhook(key_id=key_id, secret=created, default_url=None, updated_at=utcnow())
                s.add(row)
            elif rotate:
                created = row.secret = new_secret()
            if set_url:
                row.default_url = default_url
            row.updated_at = utcnow()
        with self._lock:
            self._cache.pop(key_id, None)
        return created

    def cached(self, key_id: str) -> KeySettings | None:
        """The key's settings if read recently; None means "ask settings_for()"."""
        with self._lock:
            hit = self._cache.get(key_id)
        return hit[0] if hit is not None and hit[1] > time.monotonic() else None

    def settings_for(self, key_id: str) -> KeySettings:
        if (hit := self.cached(key_id)) is not None:
            return hit
        now = time.monotonic()
        with self.db.session() as s:
            row = s.get(KeyWebhook, key_id)
        found = KeySettings(row.secret, row.default_url) if row else KeySettings(None, None)
        with self._lock:
            self._cache[key_id] = (found, now + _CACHE_TTL_S)
        return found

    def secret_of(self, key_id: str) -> str | None:
        with self.db.session() as s:
            return s.scalar(select(KeyWebhook.secret).where(KeyWebhook.key_id == key_id))

    # --- deliveries ------------------------------------------------------------------------------
    def register(self, kind: str, subject: str, key_id: str, url: str, base_url: str) -> None:
        now = utcnow()
        row = WebhookDelivery(id=new_id(), kind=kind, subject=subject, key_id=key_id, url=url, base_url=base_url,
                              state=WAITING, attempts=0, created_at=now, updated_at=now)
        try:
            with self.db.session() as s:
                s.add(row)
        except IntegrityError:
            pass  # already registered (a retried request): one delivery per subject

    def ended(self, limit: int = 100) -> list[WebhookDelivery]:
        """Waiting deliveries whose task (or every task of whose relight batch) has ended."""
        task_ended = and_(WebhookDelivery.kind == TASK, exists().where(
            Task.id == WebhookDelivery.subject, Task.status.in_(TERMINAL)))
        batch_ended = and_(
            WebhookDelivery.kind == RELIGHT,
            exists().where(Task.batch_id == WebhookDelivery.subject),
            ~exists().where(Task.batch_id == WebhookDelivery.subject, Task.status.not_in(TERMINAL)),
        )
        with self.db.session() as s:
            return list(s.scalars(select(WebhookDelivery).where(
                WebhookDelivery.state == WAITING, task_ended | batch_ended).limit(limit)))

    def make_due(self, delivery_id: str, body: str) -> bool:
        now = utcnow()
        with self.db.session() as s:
            result = s.execute(update(WebhookDelivery).where(
                WebhookDelivery.id == delivery_id, WebhookDelivery.state == WAITING,
            ).values(state=PENDING, body=body, next_attempt_at=now, updated_at=now))
        return (result.rowcount or 0) == 1

    def claim_due(self, lease: timedelta, limit: int) -> list[Due]:
        """Pending deliveries whose time has come, each leased to the caller for one attempt."""
        now = utcnow()
        free = (WebhookDelivery.lease_until.is_(None)) | (WebhookDelivery.lease_until < now)
        with self.db.session() as s:
            candidates = s.scalars(select(WebhookDelivery.id).where(
                WebhookDelivery.state == PENDING, WebhookDelivery.next_attempt_at <= now, free,
            ).order_by(WebhookDelivery.next_attempt_at).limit(limit)).all()
        claimed = []
        for delivery_id in candidates:
            with self.db.session() as s:
                won = s.execute(update(WebhookDelivery).where(
                    WebhookDelivery.id == delivery_id, WebhookDelivery.state == PENDING, free,
                ).values(lease_until=now + lease)).rowcount
                if won:
                    row = s.get(WebhookDelivery, delivery_id)
                    assert row is not None and row.body is not None
                    claimed.append(Due(row.id, row.subject, row.key_id, row.url, row.body, row.attempts))
        return claimed

    def finish(self, delivery_id: str, state: str, attempts: int, error: str | None,
               retry_at: datetime | None = None) -> None:
        """Record an attempt: delivered, failed for good, or (state PENDING) due again at retry_at."""
        with self.db.session() as s:
            s.execute(update(WebhookDelivery).where(WebhookDelivery.id == delivery_id).values(
                state=state, attempts=attempts, last_error=error[:2000] if error else None,
                next_attempt_at=retry_at, lease_until=None, updated_at=utcnow()))

    def purge(self, retention: timedelta) -> int:
        """Forget settled deliveries, and waiting ones whose task is gone, older than the retention."""
        cutoff = utcnow() - retention
        with self.db.session() as s:
            result = s.execute(delete(WebhookDelivery).where(
                WebhookDelivery.created_at < cutoff,
                WebhookDelivery.state.in_([DELIVERED, FAILED])
                | (WebhookDelivery.state == WAITING) & ~exists().where(
                    (Task.id == WebhookDelivery.subject) | (Task.batch_id == WebhookDelivery.subject)),
            ))
        return result.rowcount or 0

    def get(self, kind: str, subject: str) -> WebhookDelivery | None:
        with self.db.session() as s:
            return s.scalar(select(WebhookDelivery).where(WebhookDelivery.kind == kind,
                                                          WebhookDelivery.subject == subject))
