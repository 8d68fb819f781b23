"""The long-lived objects one Easel process shares: database, stores, keys, input resolver."""

from __future__ import annotations

from dataclasses import dataclass

from easel.auth.keys import KeyRing
from easel.auth.limits import KeyLimits, NonceGuard, Quota, TokenBucket
from easel.config import Settings
from easel.db.session import Database
from easel.engines.config import load_engines_config
from easel.engines.manager import Engines
from easel.inputs.fetch import FetchPolicy
from easel.inputs.sources import InputResolver
from easel.queue import job_link
from easel.storage import BlobStore, make_blob_store
from easel.tasks.store import TaskStore
from easel.webhooks.store import WebhookStore


@dataclass
class Services:
    settings: Settings
    db: Database
    store: TaskStore
    keys: KeyRing
    blobs: BlobStore
    inputs: InputResolver
    nonces: NonceGuard
    relight_rate: TokenBucket
    relight_quota: Quota
    engines: Engines
    webhooks: WebhookStore
    key_limits: KeyLimits

    @classmethod
    def build(cls, settings: Settings) -> Services:
        settings.home.mkdir(parents=True, exist_ok=True)
        engines = Engines(load_engines_config(settings.home, settings.superres_model, settings.inpaint_onnx_path))
        db = Database(settings.database_url, settings.auto_migrate)
        store = TaskStore(db, job_link(settings.database_url))
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
            relight_rate=TokenBucket(db, "relight", settings.relight_rate_per_s),
            relight_quota=Quota(db, "relight", settings.relight_quota),
            engines=engines,
            webhooks=WebhookStore(db),
            key_limits=KeyLimits(db, settings.key_create_qps, settings.key_max_active_tasks),
        )

    def close(self) -> None:
        self.db.dispose()
