"""Settings: the one place where Easel reads its configuration (environment variables EASEL_*).

Defaults work on a fresh machine with no services: a SQLite file and a result directory under
EASEL_HOME (default ~/.easel) and in-process workers.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default).strip() or default


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    return float(raw) if raw else default


def _env_list(name: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in os.environ.get(name, "").split(",") if item.strip())


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
LOG_FORMATS = ("text", "json")


@dataclass(frozen=True)
class Settings:
    home: Path
    database_url: str
    # "local" keeps blobs under home/blobs; "s3://bucket[/prefix]" uses an S3-compatible store.
    storage_url: str
    s3_endpoint_url: str | None
    # Base of result/upload URLs given to clients. Empty: derived from each request's Host.
    public_url: str
    host: str
    port: int
    workers: int
    # CPU cores the in-process queue's CPU lanes share (easel/queue/lanes.py); default: this machine's
    core_budget: int
    # PostgreSQL queue: a worker silent this long is dead, and its jobs are retried elsewhere
    stalled_after_s: float
    url_allowlist: tuple[str, ...]
    retention_hours: float
    purge_interval_s: float
    fetch_timeout_s: float
    fetch_max_bytes: int
    upload_max_bytes: int
    max_task_attempts: int
    superres_model: str
    inpaint_onnx_path: str | None
    # Relight market API: per-key call quota (0 = unlimited) and submits per second per key (0 = off;
    # shared by all API nodes through the database, like the DashScope limits below).
    relight_quota: int
    relight_rate_per_s: float
    nonce_window_s: int
    # How long a synchronous call (qwen-image-edit) waits for its task before answering 504.
    sync_timeout_s: float
    secret_key: bytes = field(repr=False, default=b"")
    # Slow-client limits (seconds): to send a request's headers, to send its body, idle between requests.
    http_header_timeout_s: float = 10.0
    http_body_timeout_s: float = 120.0
    http_keepalive_timeout_s: float = 5.0
    # Logs: "text" (human-readable) or "json" (one object per line). The access log (a line per request)
    # is off by default: it costs ~25 µs a request, over a tenth of a create's time.
    log_format: str = "text"
    # The root level: INFO includes procrastinate's two lines per job; WARNING keeps only problems.
    log_level: str = "INFO"
    access_log: bool = False
    # GET /metrics: open when empty, else it requires "Authorization: Bearer <metrics_token>".
    metrics_token: str = field(repr=False, default="")
    # `easel worker` serves its own metrics on this port (0: none).
    metrics_port: int = 0
    # Webhooks: per-attempt timeout, attempts before giving up, first retry delay (doubling, capped).
    webhook_timeout_s: float = 10.0
    webhook_max_attempts: int = 10
    webhook_retry_base_s: float = 5.0
    webhook_retry_max_s: float = 3600.0
    # Schema migrations at start (SQLite and PostgreSQL). Off: the deployment runs `easel migrate` itself,
    # and a process refuses to start on an older schema.
    auto_migrate: bool = True
    # Per-key limits on the DashScope API, shared by all API nodes through the database (0 = off):
    # creates per second (token bucket, bursts up to max(1, rate)) and PENDING + RUNNING tasks at once.
    key_create_qps: float = 0.0
    key_max_active_tasks: int = 0

    @property
    def blob_dir(self) -> Path:
        return self.home / "blobs"

    def with_overrides(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]


def load_settings() -> Settings:
    home = Path(_env("EASEL_HOME", str(Path.home() / ".easel"))).expanduser()
    settings = Settings(
        home=home,
        database_url=_env("EASEL_DATABASE_URL", f"sqlite:///{home / 'easel.db'}"),
        storage_url=_env("EASEL_STORAGE_URL", "local"),
        s3_endpoint_url=os.environ.get("EASEL_S3_ENDPOINT_URL") or None,
        public_url=os.environ.get("EASEL_PUBLIC_URL", "").rstrip("/"),
        host=_env("EASEL_HOST", "127.0.0.1"),
        port=_env_int("EASEL_PORT", 8000),
        workers=_env_int("EASEL_WORKERS", 2),
        core_budget=max(1, _env_int("EASEL_CORE_BUDGET", os.cpu_count() or 1)),
        stalled_after_s=_env_float("EASEL_STALLED_AFTER_S", 30.0),
        url_allowlist=_env_list("EASEL_URL_ALLOWLIST"),
        retention_hours=_env_float("EASEL_RETENTION_HOURS", 24.0),
        purge_interval_s=_env_float("EASEL_PURGE_INTERVAL_S", 300.0),
        fetch_timeout_s=_env_float("EASEL_FETCH_TIMEOUT_S", 20.0),
        fetch_max_bytes=_env_int("EASEL_FETCH_MAX_BYTES", 10 * 1024 * 1024),
        upload_max_bytes=_env_int("EASEL_UPLOAD_MAX_BYTES", 100 * 1024 * 1024),
        max_task_attempts=_env_int("EASEL_MAX_TASK_ATTEMPTS", 3),
        superres_model=_env("EASEL_SUPERRES_MODEL", "x4plus"),
        inpaint_onnx_path=os.environ.get("EASEL_INPAINT_ONNX") or None,
        relight_quota=_env_int("EASEL_RELIGHT_QUOTA", 0),
        relight_rate_per_s=_env_float("EASEL_RELIGHT_RATE_PER_S", 10.0),
        nonce_window_s=_env_int("EASEL_NONCE_WINDOW_S", 900),
        sync_timeout_s=_env_float("EASEL_SYNC_TIMEOUT_S", 600.0),
        http_header_timeout_s=_env_float("EASEL_HTTP_HEADER_TIMEOUT_S", 10.0),
        http_body_timeout_s=_env_float("EASEL_HTTP_BODY_TIMEOUT_S", 120.0),
        http_keepalive_timeout_s=_env_float("EASEL_HTTP_KEEPALIVE_TIMEOUT_S", 5.0),
        log_format=_env("EASEL_LOG_FORMAT", "text").lower(),
        log_level=_env("EASEL_LOG_LEVEL", "INFO").upper(),
        access_log=_env("EASEL_ACCESS_LOG", "0").lower() in ("1", "true", "yes", "on"),
        metrics_token=os.environ.get("EASEL_METRICS_TOKEN", "").strip(),
        metrics_port=_env_int("EASEL_METRICS_PORT", 0),
        webhook_timeout_s=_env_float("EASEL_WEBHOOK_TIMEOUT_S", 10.0),
        webhook_max_attempts=max(1, _env_int("EASEL_WEBHOOK_MAX_ATTEMPTS", 10)),
        webhook_retry_base_s=_env_float("EASEL_WEBHOOK_RETRY_BASE_S", 5.0),
        webhook_retry_max_s=_env_float("EASEL_WEBHOOK_RETRY_MAX_S", 3600.0),
        auto_migrate=_env("EASEL_AUTO_MIGRATE", "1").lower() in ("1", "true", "yes", "on"),
        key_create_qps=_env_float("EASEL_KEY_CREATE_QPS", 0.0),
        key_max_active_tasks=_env_int("EASEL_KEY_MAX_ACTIVE_TASKS", 0),
    )
    validate_allowlist(settings.url_allowlist)
    if settings.log_format not in LOG_FORMATS:
        raise ValueError(f"EASEL_LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}, not {settings.log_format!r}.")
    if settings.log_level not in LOG_LEVELS:
        raise ValueError(f"EASEL_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, not {settings.log_level!r}.")
    return replace(settings, secret_key=_load_secret(settings))


def validate_allowlist(entries: tuple[str, ...]) -> None:
    """Fail at start-up, not on the first fetch, when an allow-list entry is malformed."""
    for entry in entries:
        if "/" in entry:
            ipaddress.ip_network(entry, strict=False)


def _load_secret(settings: Settings) -> bytes:
    """The key that signs result URLs and upload policies; kept in EASEL_SECRET or home/secret.key.

    Several processes (API nodes, workers) must share it, so it is persisted, not per-process.
    """
    from_env = os.environ.get("EASEL_SECRET", "")
    if from_env:
        return from_env.encode()
    path = settings.home / "secret.key"
    settings.home.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass  # another process made it first; read theirs
    else:
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
    return path.read_text().strip().encode()
