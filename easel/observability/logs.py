"""Logging set-up for `easel serve` and `easel worker`: human-readable lines (default) or JSON lines.

EASEL_LOG_FORMAT=json writes one JSON object per line: time, level, logger, message, and request_id /
task_id where known (see context.py), plus `exception` with the traceback. Every logger goes through the
root handler, uvicorn's and Python warnings included, so nothing else is written to stderr in that form.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from easel.observability.context import current_request, current_task_id

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# LogRecord attributes that are not `extra=` fields
_STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class ContextFilter(logging.Filter):
    """Stamps request_id and task_id on each record, in the thread that writes it."""

    def filter(self, record: logging.LogRecord) -> bool:
        ctx = current_request()
        if not hasattr(record, "request_id"):
            record.request_id = ctx.request_id if ctx is not None else None
        if not hasattr(record, "task_id"):
            record.task_id = current_task_id()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in ("request_id", "task_id"):
            value = getattr(record, name, None)
            if value:
                entry[name] = value
        for name, value in vars(record).items():  # extra={...} fields, e.g. the access log's
            if name not in _STANDARD and name not in entry and name not in ("request_id", "task_id"):
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """The human-readable line, ending in request_id=... / task_id=... where known."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        ids = [f"{name}={value}" for name in ("request_id", "task_id") if (value := getattr(record, name, None))]
        if not ids:
            return line
        first, newline, rest = line.partition("\n")  # after the message, before any traceback
        return f"{first} {' '.join(ids)}{newline}{rest}"


def configure_logging(log_format: str, level: int | str = logging.INFO) -> None:
    """Replace the root handlers with one that writes `log_format` ("text" or "json") to stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(True)
