"""Webhook bodies: exactly what the subject's own read answers (GET /api/v1/tasks/{id}, relight query)."""

from __future__ import annotations

import json

from easel.api.dashscope.render import UrlMaker, task_body
from easel.api.relight.router import query_answer
from easel.db.models import WebhookDelivery
from easel.ids import new_id
from easel.services import Services
from easel.tasks.store import Owner
from easel.webhooks.delivery import Renderer
from easel.webhooks.store import RELIGHT, TASK


def _base_url(services: Services, delivery: WebhookDelivery) -> str:
    return services.settings.public_url or delivery.base_url


def render_task(services: Services, delivery: WebhookDelivery) -> str | None:
    task = services.store.get(delivery.subject, Owner(delivery.key_id))
    if task is None:
        return None
    urls = UrlMaker(services.blobs, _base_url(services, delivery), services.settings.retention_hours)
    return json.dumps(task_body(task, urls, new_id()), ensure_ascii=False, separators=(",", ":"))


def render_relight_batch(services: Services, delivery: WebhookDelivery) -> str | None:
    tasks = services.store.batch(delivery.subject, Owner(delivery.key_id))
    if not tasks:
        return None
    return bytes(query_answer(services, delivery.subject, tasks, _base_url(services, delivery)).body).decode()


RENDERERS: dict[str, Renderer] = {TASK: render_task, RELIGHT: render_relight_batch}
