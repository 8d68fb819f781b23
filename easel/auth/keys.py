"""API keys: created once and shown once, stored only as a hash, revocable."""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update

from easel.db.models import ApiKey
from easel.db.session import Database
from easel.tasks.store import utcnow

KEY_PREFIX = "sk-"
# Revocation reaches every process within this time; within one process it is immediate.
_CACHE_TTL_S = 5.0


@dataclass(frozen=True)
class KeyInfo:
    id: str
    name: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class KeyRing:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._cache: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def create(self, name: str = "") -> tuple[KeyInfo, str]:
        """A new key; the secret is returned here and never again."""
        secret = KEY_PREFIX + secrets.token_hex(24)
        row = ApiKey(
            id="key-" + secrets.token_hex(6),
            name=name,
            key_hash=hash_key(secret),
            key_prefix=secret[:10],
            created_at=utcnow(),
        )
        with self.db.session() as s:
            s.add(row)
        return _info(row), secret

    def list(self) -> list[KeyInfo]:
        with self.db.session() as s:
            return [_info(r) for r in s.scalars(select(ApiKey).order_by(ApiKey.created_at))]

    def count_active(self) -> int:
        with self.db.session() as s:
            return s.scalar(select(func.count()).where(ApiKey.revoked_at.is_(None))) or 0

    def revoke(self, key_id_or_prefix: str) -> bool:
        with self.db.session() as s:
            result = s.execute(
                update(ApiKey)
                .where(
                    (ApiKey.id == key_id_or_prefix) | (ApiKey.key_prefix == key_id_or_prefix),
                    ApiKey.revoked_at.is_(None),
                )
                .values(revoked_at=utcnow())
            )
        with self._lock:
            self._cache.clear()
        return (result.rowcount or 0) > 0

    def cached(self, secret: str) -> str | None:
        """The key id if this secret was authenticated recently; None means "ask authenticate()"."""
        with self._lock:
            hit = self._cache.get(hash_key(secret))
        return hit[0] if hit and hit[1] > time.monotonic() else None

    def is_active(self, key_id: str) -> bool:
        """Whether the key with this id exists and is not revoked (e.g. for credentials issued to it)."""
        with self.db.session() as s:
            return s.scalar(select(ApiKey.id).where(ApiKey.id == key_id, ApiKey.revoked_at.is_(None))) is not None

    def authenticate(self, secret: str) -> str | None:
        """The key id for a valid, unrevoked secret; None otherwise."""
        if not secret:
            return None
        if (key_id := self.cached(secret)) is not None:
            return key_id
        digest = hash_key(secret)
        now = time.monotonic()
        with self.db.session() as s:
            key_id = s.scalar(
                select(ApiKey.id).where(ApiKey.key_hash == digest, ApiKey.revoked_at.is_(None))
            )
        if key_id is not None:
            with self._lock:
                self._cache[digest] = (key_id, now + _CACHE_TTL_S)
        return key_id


def _info(row: ApiKey) -> KeyInfo:
    return KeyInfo(row.id, row.name, row.key_prefix, row.created_at, row.revoked_at)
