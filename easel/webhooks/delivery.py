"""WebhookDispatcher: a thread that turns ended tasks into signed POSTs and retries them until they land.

Every poll it (1) renders the body of each waiting delivery whose task has ended and makes it due,
(2) claims the due ones (a lease in the database, so two processes never send one at once) and posts
each from a small thread pool. Nothing here touches a task: a slow, failing or refused receiver never
delays or fails the work it reports on. State lives in the database, so a restart resumes pending
deliveries, re-signed with a fresh timestamp at each attempt.

Each attempt goes through the input fetcher's SSRF guard (resolved, vetted, connected to the checked
address), so a callback URL whose DNS changed since the create still cannot reach an internal address.
"""

from __future__ import annotations

import logging
import ssl
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import certifi
import httpx

from easel.db.models import WebhookDelivery
from easel.errors import EaselError
from easel.inputs.fetch import vet_destination
from easel.observability.context import task_scope
from easel.observability.metrics import WEBHOOK_DELIVERIES
from easel.services import Services
from easel.tasks.store import utcnow
from easel.webhooks.signing import SIGNATURE_HEADER, signature
from easel.webhooks.store import DELIVERED, FAILED, PENDING, Due, WebhookStore

log = logging.getLogger("easel.webhooks")

POLL_S = 0.5
SENDERS = 4

# the body to send for a delivery whose subject has ended; None when the subject is gone
Renderer = Callable[[Services, WebhookDelivery], str | None]


class WebhookDispatcher:
    def __init__(self, services: Services, renderers: dict[str, Renderer], poll_s: float = POLL_S) -> None:
        self.services = services
        self.settings = services.settings
        self.store = WebhookStore(services.db)
        self.renderers = renderers
        self.poll_s = poll_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="easel-webhooks")
        self._senders = ThreadPoolExecutor(SENDERS, thread_name_prefix="easel-webhook-send")
        self._in_flight = threading.Semaphore(SENDERS)
        timeout = httpx.Timeout(self.settings.webhook_timeout_s, connect=min(5.0, self.settings.webhook_timeout_s))
        self._client = httpx.Client(follow_redirects=False, timeout=timeout,
                                    verify=ssl.create_default_context(cafile=certifi.where()))
        self._next_purge = 0.0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._senders.shutdown(wait=True, cancel_futures=True)
        self._client.close()

    def _loop(self) -> None:
        while not self._stop.wait(self.poll_s):
            try:
                self.run_once()
            except Exception:
                log.exception("webhook dispatch failed; will retry")

    def run_once(self) -> None:
        self._make_due()
        free = 0
        while self._in_flight.acquire(blocking=False):
            free += 1
        if free:
            lease = timedelta(seconds=self.settings.webhook_timeout_s + 60)
            due = self.store.claim_due(lease, free)
            for item in due:
                self._senders.submit(self._attempt_and_release, item)
            for _ in range(free - len(due)):
                self._in_flight.release()
        if time.monotonic() >= self._next_purge:
            self._next_purge = time.monotonic() + self.settings.purge_interval_s
            self.store.purge(timedelta(hours=self.settings.retention_hours))

    def _make_due(self) -> None:
        for row in self.store.ended():
            with task_scope(row.subject):
                body = self.renderers[row.kind](self.services, row)
                if body is None:  # the task was purged before it could be reported
                    self.store.finish(row.id, FAILED, row.attempts, "the task no longer exists")
                    continue
                self.store.make_due(row.id, body)

    def _attempt_and_release(self, item: Due) -> None:
        try:
            with task_scope(item.subject):
                self.attempt(item)
        except Exception:
            log.exception("webhook delivery %s crashed; it will be retried", item.id)
        finally:
            self._in_flight.release()

    def attempt(self, item: Due) -> None:
        attempt = item.attempts + 1
        secret = self.store.secret_of(item.key_id)
        if secret is None:
            self._give_up(item, attempt, "refused", "the key has no webhook secret any more")
            return
        try:
            pinned, host_header, server_name = vet_destination(item.url, self.settings.url_allowlist)
        except EaselError as exc:
            self._give_up(item, attempt, "refused", exc.message.replace("image URL", "callback URL"))
            return
        body = item.body.encode()
        headers = {
            "Host": host_header, "Content-Type": "application/json", "User-Agent": "easel-webhook/1",
            SIGNATURE_HEADER: signature(secret, body, int(time.time())),
            "X-Easel-Delivery": item.id, "X-Easel-Attempt": str(attempt),
        }
        error, retryable = self._post(pinned, body, headers, server_name)
        if error is None:
            self.store.finish(item.id, DELIVERED, attempt, None)
            WEBHOOK_DELIVERIES.labels("delivered").inc()
            log.info("webhook %s delivered to %s (attempt %d)", item.id, item.url, attempt)
        elif retryable and attempt < self.settings.webhook_max_attempts:
            delay = min(self.settings.webhook_retry_max_s, self.settings.webhook_retry_base_s * 2 ** (attempt - 1))
            self.store.finish(item.id, PENDING, attempt, error, utcnow() + timedelta(seconds=delay))
            WEBHOOK_DELIVERIES.labels("retry").inc()
            log.warning("webhook %s to %s failed (%s); retry %d in %.1f s", item.id, item.url, error, attempt, delay)
        else:
            self._give_up(item, attempt, "failed", error)

    def _post(self, url: str, body: bytes, headers: dict[str, str], server_name: str) -> tuple[str | None, bool]:
        """(error or None, whether to retry): retried on network errors, timeouts, 5xx, 408 and 429."""
        try:
            # streamed and never read: a receiver's answer body is not ours to buffer
            with self._client.stream("POST", url, content=body, headers=headers,
                                     extensions={"sni_hostname": server_name}) as response:
                status = response.status_code
        except httpx.HTTPError as exc:
            return f"{exc.__class__.__name__}: {exc}", True
        if 200 <= status < 300:
            return None, False
        return f"HTTP {status}", status >= 500 or status in (408, 429)

    def _give_up(self, item: Due, attempt: int, outcome: str, error: str) -> None:
        self.store.finish(item.id, FAILED, attempt, error)
        WEBHOOK_DELIVERIES.labels(outcome).inc()
        log.warning("webhook %s to %s %s after %d attempt(s): %s", item.id, item.url,
                    "refused" if outcome == "refused" else "given up", attempt, error)

