"""The long-lived objects one Easel process shares: database, stores, keys, input resolver."""

from __future__ import annotations

from dataclasses import dataclass

from easel.auth.keys import KeyRing
from easel.auth.limits import NonceGuard, Quota, RateLimiter
from easel.config import Settings
from easel.engines.config import load_engines_config
from easel.engines.manager import Engines
from easel.inputs.fetch import FetchPolicy
from easel.inputs.sources import InputResolver
from easel.storage import BlobStore, make_blob_store
from easel.tasks.db import Database
from easel.tasks.store import TaskStore


@dataclass
class Services:
    settings: Settings
    db: Database
    store: TaskStore
    keys: KeyRing
    blobs: BlobStore
    inputs: InputResolver
    nonces: NonceGuard
    relight_rate: RateLimiter
    relight_quota: Quota
    engines: Engines

    @classmethod
    def build(cls, settings: Settings) -> Services:
        settings.home.mkdir(parents=True, exist_ok=True)
        engines = Engines(load_engines_config(settings.home, settings.superres_model, settings.inpaint_onnx_path))
        db = Database(settings.database_url)
        store = TaskStore(db)
        blobs = make_blob_store(settings)
        policy = FetchPolicy(settings.fetch_max_bytes, settings.fetch_timeout_s, settings.url_allowlist)
        return cls(
            settings=settings,
            db=db,
            store=store,
            keys=KeyRing(db),
            blobs=blobs,
            inputs=InputResolver(blobs, policy, store.blob_owner),
            nonces=NonceGuard(db, settings.nonce_window_s),
            relight_rate=RateLimiter(settings.relight_rate_per_s),
            relight_quota=Quota(db, "relight", settings.relight_quota),
            engines=engines,
        )

    def close(self) -> None:
        self.db.dispose()
