"""Replay guard (X-Ca-Nonce), per-key rate limits and per-key quotas."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from easel.tasks.db import Database
from easel.tasks.models import Nonce, QuotaUsage
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


class RateLimiter:
    """Token bucket per key: `rate` requests per second, bursts up to max(1, rate). Per process."""

    def __init__(self, rate_per_s: float) -> None:
        self.rate = rate_per_s
        self.capacity = max(1.0, rate_per_s)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def allow(self, key_id: str) -> bool:
        if self.rate <= 0:
            return True
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key_id, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            if tokens < 1.0:
                self._buckets[key_id] = (tokens, now)
                return False
            self._buckets[key_id] = (tokens - 1.0, now)
            return True


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
