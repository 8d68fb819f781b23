"""Hostile inputs below the HTTP layer: IPv6 addresses that carry IPv4, decompression bombs, MPO photos."""

from __future__ import annotations

import http.server
import io
import ipaddress
import struct
import threading
import zlib
from collections.abc import Iterator

import pytest
from PIL import Image, ImageFile

from easel.errors import InvalidImageResolution, InvalidURL
from easel.inputs.decode import ImageLimits, decode_image
from easel.inputs.fetch import FetchPolicy, _address_allowed, fetch_url

EMBEDDED_V4 = [
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254 (cloud metadata)
    "64:ff9b:1::7f00:1",  # local-use NAT64
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
    "2002:a00:1::1",  # 6to4 of 10.0.0.1
    "::7f00:1",  # IPv4-compatible 127.0.0.1
    "::a9fe:a9fe",
    "::ffff:127.0.0.1",  # IPv4-mapped
    "::ffff:a9fe:a9fe",
    "fec0::1",  # site-local
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
]


def policy(*allow: str) -> FetchPolicy:
    return FetchPolicy(max_bytes=1024 * 1024, timeout_s=3.0, allowlist=allow)


@pytest.mark.parametrize("address", EMBEDDED_V4)
def test_ipv6_carrying_non_public_ipv4_is_refused_before_connecting(address: str) -> None:
    with pytest.raises(InvalidURL, match="non-public"):
        fetch_url(f"http://[{address}]:9/a.png", policy())


def test_allowlisted_ipv4_admits_its_embedded_forms() -> None:
    """An administrator who admits 10.0.0.0/8 admits it in any spelling; other prefixes stay refused."""
    assert _address_allowed(ipaddress.ip_address("::ffff:10.1.2.3"), ("10.0.0.0/8",))
    assert _address_allowed(ipaddress.ip_address("64:ff9b::a01:203"), ("10.0.0.0/8",))
    assert not _address_allowed(ipaddress.ip_address("64:ff9b::7f00:1"), ("10.0.0.0/8",))
    assert _address_allowed(ipaddress.ip_address("2002:808:808::1"), ())  # 6to4 of 8.8.8.8 is public


class _Redirector(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.send_response(302)
        self.send_header("Location", self.path.split("?to=", 1)[1])
        self.end_headers()


@pytest.fixture(scope="module")
def redirector() -> Iterator[int]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Redirector)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield httpd.server_address[1]
    httpd.shutdown()


@pytest.mark.parametrize(("target", "reason"), [
    ("http://[64:ff9b::a9fe:a9fe]/latest", "non-public"), ("http://[::a00:1]:80/", "non-public"),
    ("http://[2002:a9fe:a9fe::1]/", "non-public"), ("http://127.0.0.1:99999/", "malformed"),
    ("http://[::1", ""),  # httpx itself rejects this Location; still InvalidURL
])
def test_redirects_to_embedded_or_malformed_addresses_are_refused(redirector: int, target: str,
                                                                  reason: str) -> None:
    with pytest.raises(InvalidURL, match=reason):
        fetch_url(f"http://127.0.0.1:{redirector}/r?to={target}", policy("127.0.0.1"))


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares width x height but carries one row of data: tiny on the wire."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * (width + 1))) + \
        chunk(b"IEND", b"")


@pytest.mark.parametrize("size", [(8000, 8000), (4097, 500), (500, 4097)])
def test_over_sized_header_is_refused_without_decoding(monkeypatch: pytest.MonkeyPatch,
                                                       size: tuple[int, int]) -> None:
    def no_decoding(self: ImageFile.ImageFile) -> None:
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    with pytest.raises(InvalidImageResolution, match=f"{size[0]}x{size[1]}"):
        decode_image(_png_header_only(*size), ImageLimits(min_side=400, max_side=4096))


def test_mpo_photo_decodes_its_first_frame() -> None:
    first = Image.new("RGB", (640, 480), (200, 30, 30))
    second = Image.new("RGB", (320, 240), (30, 30, 200))
    buffer = io.BytesIO()
    first.save(buffer, "MPO", save_all=True, append_images=[second])
    assert Image.open(io.BytesIO(buffer.getvalue())).format == "MPO"
    image = decode_image(buffer.getvalue(), ImageLimits(min_side=64, formats=frozenset({"JPEG", "PNG"})))
    assert image.size == (640, 480)
    assert getattr(image, "n_frames", 1) == 1
    r, _g, b = image.convert("RGB").getpixel((320, 240))
    assert r > 150 and b < 80
