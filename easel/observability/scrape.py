"""GET /metrics, and the gauges computed when it is scraped.

Queue depth is not counted but read from the task store at scrape time, so it is right however many
processes (API nodes, `easel worker`s) share the database; it is exposed by the API's /metrics only.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from easel.catalog.registry import MODELS
from easel.db.models import Task, TaskStatus
from easel.db.session import Database
from easel.errors import InvalidApiKey


class QueueDepth(Collector):
    """easel_queue_depth{lane}: PENDING tasks per model (a lane is a model today), and
    easel_tasks_running{lane}, read from the database at each scrape."""

    def __init__(self, db: Database, lanes: list[str]) -> None:
        self.db = db
        self.lanes = lanes

    def collect(self) -> Iterator[GaugeMetricFamily]:
        counts = {(status, lane): 0 for status in (TaskStatus.PENDING, TaskStatus.RUNNING) for lane in self.lanes}
        with self.db.session() as s:
            rows = s.execute(
                select(Task.status, Task.model, func.count())
                .where(Task.status.in_([TaskStatus.PENDING, TaskStatus.RUNNING]))
                .group_by(Task.status, Task.model)
            ).all()
        for status, model, count in rows:
            counts[(TaskStatus(status), model)] = count
        pending = GaugeMetricFamily("easel_queue_depth", "Tasks waiting for a worker, by lane (model).",
                                    labels=["lane"])
        running = GaugeMetricFamily("easel_tasks_running", "Tasks being run by a worker, by lane (model).",
                                    labels=["lane"])
        for (status, lane), count in sorted(counts.items()):
            (pending if status == TaskStatus.PENDING else running).add_metric([lane], count)
        yield pending
        yield running


def exposition(db: Database | None, lanes: list[str]) -> bytes:
    """This process's metrics, plus the queue gauges when `db` is given."""
    text = generate_latest(REGISTRY)
    if db is not None:
        scrape = CollectorRegistry(auto_describe=False)
        scrape.register(QueueDepth(db, lanes))
        text += generate_latest(scrape)
    return text


router = APIRouter()


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    services = request.app.state.services
    token = services.settings.metrics_token
    if token:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
            raise InvalidApiKey("GET /metrics needs 'Authorization: Bearer <EASEL_METRICS_TOKEN>'.")
    return Response(exposition(services.db, sorted(MODELS)), media_type=CONTENT_TYPE_LATEST)



def serve_worker_metrics(host: str, port: int) -> None:
    """`easel worker --metrics-port`: this process's metrics (task durations, engine loads, input fetch errors,
    webhook deliveries) at http://host:port/metrics, from a daemon thread. No queue gauges: the API's
    /metrics has them, read from the shared database."""
    start_http_server(port, addr=host)
