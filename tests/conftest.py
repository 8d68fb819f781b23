"""Shared fixtures: real Easel servers in subprocesses on loopback, a loopback image host, test images."""

from __future__ import annotations

import contextlib
import functools
import http.server
import io
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import dashscope
import httpx
import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class EaselServer:
    """One `easel serve` subprocess with its own EASEL_HOME."""

    home: Path
    env_overrides: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api(self) -> str:
        return self.url + "/api/v1"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "EASEL_HOME": str(self.home),
                # the loopback image host used by tests must be admitted explicitly
                "EASEL_URL_ALLOWLIST": "127.0.0.1",
                # the fast Real-ESRGAN model keeps the suite quick; x4plus is tested at engine level
                "EASEL_SUPERRES_MODEL": "animevideov3",
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(self.env_overrides)
        return env

    def cli(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "easel", *args], env=self.env(), capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    def new_key(self, name: str = "test") -> str:
        return self.cli("keys", "create", "--name", name).strip()

    def start(self) -> EaselServer:
        self.home.mkdir(parents=True, exist_ok=True)
        self.log_path = self.home / f"server-{time.time_ns()}.log"
        log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "easel", "serve", "--port", str(self.port)],
            env=self.env(), stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"easel serve exited early:\n{self.log_path.read_text()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            time.sleep(0.1)
        raise RuntimeError(f"easel serve did not become ready:\n{self.log_path.read_text()}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


# engines.toml lines that keep tiny random-weight pipelines fast: a 64x64 work area, two steps
TINY = "max_area = 4096\nsteps = 2\n"


def engines_toml(home: Path, text: str) -> dict[str, str]:
    """Write `text` as the engines.toml in `home`; the environment an EaselServer needs to read it."""
    home.mkdir(parents=True, exist_ok=True)
    path = home / "engines.toml"
    path.write_text(text)
    return {"EASEL_ENGINES": str(path), "HF_HUB_OFFLINE": "1"}


@pytest.fixture(scope="session")
def tiny_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the tiny diffusion fixtures are saved, once per session (their builders cache per root)."""
    return tmp_path_factory.mktemp("tiny-models")


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EaselServer]:
    srv = EaselServer(tmp_path_factory.mktemp("easel-home")).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def api_only_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EaselServer]:
    """No workers: tasks stay PENDING, so cancel and listing can be tested deterministically."""
    env = {"EASEL_WORKERS": "0", "EASEL_UPLOAD_MAX_BYTES": str(2 * 1024 * 1024)}
    srv = EaselServer(tmp_path_factory.mktemp("easel-api-only"), env).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def api_key(server: EaselServer) -> str:
    return server.new_key("main")


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@dataclass
class ImageHost:
    """A plain HTTP server on loopback serving files from a directory (stands in for a public host)."""

    root: Path
    port: int

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}"

    def put(self, name: str, data: bytes) -> str:
        (self.root / name).write_bytes(data)
        return self.url(name)

    def put_image(self, name: str, image: Image.Image, fmt: str = "PNG") -> str:
        buffer = io.BytesIO()
        image.save(buffer, fmt)
        return self.put(name, buffer.getvalue())


@pytest.fixture(scope="session")
def image_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ImageHost]:
    root = tmp_path_factory.mktemp("image-host")
    handler = functools.partial(_QuietHandler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield ImageHost(root, httpd.server_address[1])
    httpd.shutdown()


def photo(size: tuple[int, int] = (512, 512), name: str = "astronaut") -> Image.Image:
    """A real photo from scikit-image, resized to `size` (width, height)."""
    import skimage.data

    rgb = getattr(skimage.data, name)()
    if rgb.ndim == 2:
        rgb = np.stack([rgb] * 3, axis=-1)
    return Image.fromarray(rgb[:, :, :3]).resize(size, Image.Resampling.LANCZOS)


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()

@pytest.fixture
def use_server(monkeypatch: pytest.MonkeyPatch) -> Callable[[EaselServer, str], None]:
    """Point the SDK at a server with a key, as DASHSCOPE_HTTP_BASE_URL/DASHSCOPE_API_KEY would."""

    def point(srv: EaselServer, key: str) -> None:
        monkeypatch.setattr(dashscope, "base_http_api_url", srv.api)
        monkeypatch.setattr(dashscope, "api_key", key)

    return point


@pytest.fixture
def sdk(server: EaselServer, api_key: str, use_server: Callable[[EaselServer, str], None]) -> EaselServer:
    use_server(server, api_key)
    return server


def download(url: str) -> Image.Image:
    response = httpx.get(url, timeout=30)
    assert response.status_code == 200, response.text
    image = Image.open(io.BytesIO(response.content))
    image.load()
    return image


@contextlib.contextmanager
def postgres_schema_server(home: Path) -> Iterator[tuple[EaselServer, str, object, str]]:
    """An API-only server on a fresh schema of the test PostgreSQL: (server, key, admin engine, schema).

    The schema is dropped afterwards; tests may drop it earlier to break the database under the server."""
    with postgres_schema() as (url, admin, schema):
        srv = EaselServer(home, {"EASEL_DATABASE_URL": url, "EASEL_WORKERS": "0"})
        key = srv.new_key()
        srv.start()
        try:
            yield srv, key, admin, schema
        finally:
            srv.stop()


POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@contextlib.contextmanager
def postgres_schema() -> Iterator[tuple[str, object, str]]:
    """A fresh schema on the test PostgreSQL (trust auth, database `test`): (a database URL whose search_path
    is that schema, an AUTOCOMMIT admin engine, the schema's name). Dropped afterwards, if still there."""
    from sqlalchemy import create_engine, text

    schema = f"easel_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield f"{POSTGRES}?options=-csearch_path%3D{schema}", admin, schema
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        admin.dispose()
