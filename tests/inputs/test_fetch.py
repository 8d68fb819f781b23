"""The SSRF guard and fetch limits, against real HTTP servers on loopback."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator

import pytest

from easel.errors import InvalidParameter, InvalidURL
from easel.inputs.fetch import FetchPolicy, fetch_url

PAYLOAD = b"\x89PNG-pretend-image-bytes" * 10


class Handler(http.server.BaseHTTPRequestHandler):
    redirect_to = ""

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        if self.path == "/ok":
            self._send(PAYLOAD)
        elif self.path == "/big":
            self._send(b"x" * (2 * 1024 * 1024))
        elif self.path == "/big-chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            chunk = b"y" * 65536
            for _ in range(40):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.write(b"0\r\n\r\n")
        elif self.path == "/slow":
            time.sleep(3)
            self._send(PAYLOAD)
        elif self.path.startswith("/redirect"):
            self.send_response(302)
            self.send_header("Location", self.path.split("?to=", 1)[1])
            self.end_headers()
        elif self.path == "/loop":
            self.send_response(302)
            self.send_header("Location", "/loop")
            self.end_headers()
        else:
            self.send_response(404)
            self.end_headers()

    def _send(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield httpd.server_address[1]
    httpd.shutdown()


def policy(*allow: str, max_bytes: int = 1024 * 1024, timeout: float = 5.0) -> FetchPolicy:
    return FetchPolicy(max_bytes=max_bytes, timeout_s=timeout, allowlist=allow)


def test_allowlisted_loopback_is_fetched(port: int) -> None:
    assert fetch_url(f"http://127.0.0.1:{port}/ok", policy("127.0.0.1")) == PAYLOAD
    assert fetch_url(f"http://127.0.0.1:{port}/ok", policy("127.0.0.0/8")) == PAYLOAD
    assert fetch_url(f"http://localhost:{port}/ok", policy("localhost")) == PAYLOAD


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/ok",
        "http://localhost:{port}/ok",  # a name that resolves to loopback
        "http://2130706433:{port}/ok",  # 127.0.0.1 written as one number
        "http://[::ffff:127.0.0.1]:{port}/ok",  # IPv4-mapped IPv6
        "http://169.254.169.254/latest/meta-data/",  # cloud metadata
        "http://10.1.2.3/x.png",
        "http://192.168.1.1/x.png",
        "http://[fe80::1]/x.png",
        "http://0.0.0.0:{port}/ok",
    ],
)
def test_non_public_addresses_are_refused(port: int, url: str) -> None:
    with pytest.raises(InvalidURL, match="non-public address"):
        fetch_url(url.format(port=port), policy())


def test_redirect_to_a_refused_address_is_refused(port: int) -> None:
    # the first hop is admitted by name, the redirect target only by its address, which is not
    url = f"http://localhost:{port}/redirect?to=http://127.0.0.1:{port}/ok"
    with pytest.raises(InvalidURL, match="non-public address"):
        fetch_url(url, policy("localhost"))


def test_redirects_are_followed_when_allowed(port: int) -> None:
    url = f"http://127.0.0.1:{port}/redirect?to=/ok"
    assert fetch_url(url, policy("127.0.0.1")) == PAYLOAD


def test_redirect_loop_stops(port: int) -> None:
    with pytest.raises(InvalidURL, match="redirects"):
        fetch_url(f"http://127.0.0.1:{port}/loop", policy("127.0.0.1"))


@pytest.mark.parametrize("path", ["/big", "/big-chunked"])
def test_size_limit(port: int, path: str) -> None:
    with pytest.raises(InvalidParameter, match="larger than 1 MB"):
        fetch_url(f"http://127.0.0.1:{port}{path}", policy("127.0.0.1"))


def test_timeout(port: int) -> None:
    started = time.monotonic()
    with pytest.raises(InvalidURL, match="Timed out"):
        fetch_url(f"http://127.0.0.1:{port}/slow", policy("127.0.0.1", timeout=1.0))
    assert time.monotonic() - started < 2.5


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://127.0.0.1:{port}/missing", "HTTP 404"),
        ("ftp://example.com/x.png", "Only http and https"),
        ("http://no-such-host.invalid/x.png", "cannot be resolved"),
        ("http://127.0.0.1:9/x.png", "Could not fetch"),
    ],
)
def test_unreachable_or_wrong(port: int, url: str, message: str) -> None:
    with pytest.raises(InvalidURL, match=message):
        fetch_url(url.format(port=port), policy("127.0.0.1"))
