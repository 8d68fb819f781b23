"""The real dashscope SDK, pointed at a real Easel server on loopback."""

from __future__ import annotations

import io
from collections.abc import Callable

import dashscope
import httpx
import pytest
from PIL import Image

from tests.conftest import EaselServer


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
