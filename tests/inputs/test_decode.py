"""Decoding untrusted bytes: formats, truncation, pixel bombs, EXIF orientation, per-model limits."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from easel.errors import InvalidImageFormat, InvalidImageResolution, InvalidParameter
from easel.inputs.decode import ImageLimits, decode_image

LIMITS = ImageLimits(min_side=512, max_side=4096)


def encode(image: Image.Image, fmt: str, **kwargs: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **kwargs)
    return buffer.getvalue()


def gradient(width: int = 640, height: int = 520) -> Image.Image:
    x = np.linspace(0, 255, width, dtype=np.uint8)[None, :].repeat(height, 0)
    return Image.fromarray(np.stack([x, x[::-1], np.full_like(x, 90)], axis=-1))


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "BMP", "TIFF", "WEBP"])
def test_supported_formats_decode(fmt: str) -> None:
    image = decode_image(encode(gradient(), fmt), LIMITS)
    assert image.size == (640, 520)


def test_format_allow_list_is_per_model() -> None:
    no_tiff = ImageLimits(min_side=256, formats=frozenset({"JPEG", "PNG", "BMP"}))
    with pytest.raises(InvalidImageFormat, match="TIFF"):
        decode_image(encode(gradient(), "TIFF"), no_tiff)


@pytest.mark.parametrize("data", [b"", b"hello, not an image", b"GIF89a" + b"\0" * 50, b"<svg></svg>"])
def test_non_images_are_refused(data: bytes) -> None:
    with pytest.raises(InvalidImageFormat):
        decode_image(data, LIMITS)


def test_gif_is_not_among_supported_formats() -> None:
    with pytest.raises(InvalidImageFormat, match="supported formats"):
        decode_image(encode(gradient(), "GIF"), LIMITS)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_truncated_files_are_refused(fmt: str) -> None:
    data = encode(gradient(), fmt)
    with pytest.raises(InvalidImageFormat, match="truncated or corrupt"):
        decode_image(data[: len(data) // 2], LIMITS)


def _png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG claiming a huge size: the classic decompression bomb."""
    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def test_pixel_bomb_is_refused_before_decoding() -> None:
    with pytest.raises((InvalidImageResolution, InvalidImageFormat)):
        decode_image(_png_header_only(50_000, 50_000), LIMITS)


@pytest.mark.parametrize(("size", "ok"), [((511, 600), False), ((512, 512), True), ((4096, 600), True),
                                          ((4097, 600), False)])
def test_resolution_limits(size: tuple[int, int], ok: bool) -> None:
    data = encode(Image.new("RGB", size, "gray"), "PNG")
    if ok:
        assert decode_image(data, LIMITS).size == size
    else:
        with pytest.raises(InvalidImageResolution, match=f"{size[0]}x{size[1]}"):
            decode_image(data, LIMITS)


def test_byte_limit() -> None:
    small = ImageLimits(max_bytes=1000)
    with pytest.raises(InvalidParameter, match="the limit is"):
        decode_image(encode(gradient(), "PNG"), small)


def test_exif_orientation_is_applied() -> None:
    image = gradient(640, 520)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise for display
    upright = decode_image(encode(image, "JPEG", exif=exif.tobytes()), LIMITS)
    assert upright.size == (520, 640)
