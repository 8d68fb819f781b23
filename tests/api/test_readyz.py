"""/readyz: 200 with each part's state when ready; 503 naming the database once it is gone."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import EaselServer

POSTGRES = ("127.0.0.1", 5432)


class TcpProxy:
    """Forwards a loopback port to PostgreSQL; close() cuts every connection and refuses new ones,
    which is what a database host that went away looks like to the server."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
                upstream = socket.create_connection(self.target)
            except OSError:
                return
            if self.closed:
                client.close()
                upstream.close()
                return
            self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.closed = True
        # shutdown first: on Linux a bare close() does not wake the thread blocked in accept()
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        for sock in self.sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


@pytest.fixture
def proxied_server(tmp_path: Path) -> Iterator[tuple[EaselServer, TcpProxy]]:
    # `make test` needs PostgreSQL (README, Tests): without it this fails rather than skipping
    socket.create_connection(POSTGRES, timeout=2).close()
    proxy = TcpProxy(POSTGRES)
    # no workers: this server shares the test database and must not claim other servers' tasks
    env = {"EASEL_DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:{proxy.port}/test", "EASEL_WORKERS": "0"}
    srv = EaselServer(tmp_path / "home", env).start()
    yield srv, proxy
    proxy.close()
    srv.stop()


def test_ready_server_reports_its_parts(server: EaselServer) -> None:
    response = httpx.get(server.url + "/readyz", timeout=30)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] in ("ready", "degraded") and body["failing"] == {}
    assert "upscale" in body["engines"]  # EASEL_SUPERRES_MODEL configures the [upscale] table


def test_readyz_fails_when_the_database_is_gone(proxied_server: tuple[EaselServer, TcpProxy]) -> None:
    srv, proxy = proxied_server
    assert httpx.get(srv.url + "/readyz", timeout=30).status_code == 200
    proxy.close()
    response = httpx.get(srv.url + "/readyz", timeout=30)
    assert response.status_code == 503, response.text
    body = response.json()
    assert body["status"] == "unready" and set(body["failing"]) == {"database"}
    assert httpx.get(srv.url + "/healthz").status_code == 200  # liveness is not readiness


def test_broken_engine_table_is_reported_not_unready(tmp_path: Path) -> None:
    """A broken table is reported (degraded, 200): every node reads the same engines.toml, so the
    load balancer gains nothing by dropping this one, and the working functions stay served."""
    config = tmp_path / "engines.toml"
    config.write_text("[fill]\nbackend = 'sdxl-inpaint'\nweights = '/models/sdxl-missing'\n")
    srv = EaselServer(tmp_path / "home", {"EASEL_ENGINES": str(config), "EASEL_WORKERS": "0"}).start()
    try:
        response = httpx.get(srv.url + "/readyz", timeout=30)
    finally:
        srv.stop()
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "degraded" and body["broken_engines"] == ["fill"]
    assert "/models/sdxl-missing" in body["engines"]["fill"]
