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
    url_allowlist: tuple[str, ...]
    retention_hours: float
    purge_interval_s: float
    fetch_timeout_s: float
    fetch_max_bytes: int
    upload_max_bytes: int
    max_task_attempts: int
    superres_model: str
    inpaint_onnx_path: str | None
    # Relight market API: per-key call quota (0 = unlimited) and submits per second per key.
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
    )
    validate_allowlist(settings.url_allowlist)
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
