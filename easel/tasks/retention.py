"""Purging finished tasks and stored files once they are older than the retention period."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from easel.services import Services

log = logging.getLogger("easel.retention")


def purge_expired(services: Services) -> tuple[int, int]:
    """Delete expired task records and blobs; returns (tasks, blobs) deleted."""
    retention = timedelta(hours=services.settings.retention_hours)
    task_ids, blob_keys = services.store.expired(retention)
    deleted = []
    for key in blob_keys:
        try:
            services.blobs.delete(key)
        except Exception:  # the record stays, so the next round retries
            log.exception("could not delete blob %s", key)
        else:
            deleted.append(key)
    services.store.delete(task_ids, deleted)
    services.nonces.purge()
    return len(task_ids), len(deleted)


class Janitor:
    """Runs purge_expired every `interval_s` in a daemon thread."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.interval_s = services.settings.purge_interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="easel-janitor")

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while True:
            try:
                tasks, blobs = purge_expired(self.services)
                if tasks or blobs:
                    log.info("purged %d expired tasks and %d files", tasks, blobs)
            except Exception:
                log.exception("purge failed")
            if self._stop.wait(self.interval_s):
                return
