"""Prometheus metrics: the counters and histograms every part of Easel updates (served by scrape.py).

One process, one registry (prometheus_client's default, with its process and GC collectors). This module
imports nothing of Easel's, so any layer (input fetching, engines, workers) can count without cycles.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

HTTP_REQUESTS = Counter(
    "easel_http_requests", "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"],
)
HTTP_DURATION = Histogram(
    "easel_http_request_duration_seconds", "Time to answer an HTTP request, by method and route template.",
    ["method", "route"], buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
TASK_DURATION = Histogram(
    "easel_task_duration_seconds", "Time a worker spent running a task, by model, function and outcome "
    "(succeeded, failed, canceled).", ["model", "function", "outcome"],
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 1800),
)
ENGINE_LOAD = Histogram(
    "easel_engine_load_seconds", "Time to load an engine backend (weights into memory), by backend.",
    ["backend"], buckets=(0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600),
)
INPUT_FETCH_ERRORS = Counter(
    "easel_input_fetch_errors", "http(s) input fetches that failed, by reason.", ["reason"],
)
WEBHOOK_DELIVERIES = Counter(
    "easel_webhook_deliveries", "Webhook delivery attempts, by outcome (delivered, retry, failed, refused).",
    ["outcome"],
)


def observe_task_end(model: str, function: str, status: str, seconds: float) -> None:
    """A worker ran a task for `seconds`; `status` is how it ended (a RUNNING one was interrupted)."""
    outcome = status.lower() if status in ("SUCCEEDED", "FAILED", "CANCELED") else "interrupted"
    TASK_DURATION.labels(model, function, outcome).observe(seconds)
