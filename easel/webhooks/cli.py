"""`easel keys callback KEY [URL] [--clear] [--secret]`: a key's default callback URL and signing secret."""

from __future__ import annotations

import sys

from easel.config import Settings
from easel.db.session import Database
from easel.errors import EaselError
from easel.webhooks.callbacks import vet_callback
from easel.webhooks.store import WebhookStore


def configure_key_callback(settings: Settings, key: str, url: str | None, *, clear: bool, rotate: bool) -> int:
    if url is not None and clear:
        print("easel keys callback: give a URL or --clear, not both", file=sys.stderr)
        return 2
    if url is not None:
        try:
            url = vet_callback(url, settings.url_allowlist)
        except EaselError as exc:
            print(f"easel keys callback: {exc.message}", file=sys.stderr)
            return 1
    db = Database(settings.database_url, settings.auto_migrate)
    try:
        store = WebhookStore(db)
        key_id = store.find_key(key)
        if key_id is None:
            print(f"no active key matches {key!r}", file=sys.stderr)
            return 1
        secret = store.configure(key_id, url, set_url=url is not None or clear, rotate=rotate)
        current = store.settings_for(key_id)
    finally:
        db.dispose()
    print(f"{key_id}\tdefault callback: {current.default_url or '-'}")
    if secret is not None:
        print(secret)
        print("^ the webhook signing secret of this key, shown only this once", file=sys.stderr)
    return 0
