"""Decoding untrusted image bytes: format allow-list, pixel-bomb guard, truncation, EXIF orientation."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from easel.errors import InvalidImageFormat, InvalidImageResolution, InvalidParameter

# Refuse before decoding anything larger: a 100 KB PNG can claim 50000x50000 pixels.
MAX_PIXELS = 64_000_000
# Pillow's own guard is set above ours, so ours (with a clear message) is the one that trips.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS * 2

ALL_FORMATS = frozenset({"JPEG", "PNG", "BMP", "TIFF", "WEBP"})
FORMAT_NAMES = {"JPEG": "JPG/JPEG", "PNG": "PNG", "BMP": "BMP", "TIFF": "TIFF", "WEBP": "WEBP"}


@dataclass(frozen=True)
class ImageLimits:
    """What one model accepts for one image input (from its seed document)."""

    min_side: int = 1
    max_side: int = 8192
    max_bytes: int = 10 * 1024 * 1024
    formats: frozenset[str] = ALL_FORMATS
    # Some models state their bound as a box (e.g. 5760x3240) rather than per side.
    max_box: tuple[int, int] | None = None

    def describe(self) -> str:
        return ", ".join(sorted(FORMAT_NAMES[f] for f in self.formats))


def decode_image(data: bytes, limits: ImageLimits, what: str = "image") -> Image.Image:
    """A fully loaded, upright PIL image, or an InvalidImage*/InvalidParameter error saying why not."""
    if len(data) > limits.max_bytes:
        raise InvalidParameter(
            f"The {what} is {len(data) / 1048576:.1f} MB; the limit is {limits.max_bytes // 1048576} MB."
        )
    image = _open(data, what)
    # Phone cameras write MPO: a JPEG whose first frame is the photo (the rest are previews/depth).
    fmt = "JPEG" if image.format == "MPO" else image.format
    if fmt not in limits.formats:
        raise InvalidImageFormat(
            f"The {what} is {image.format or 'an unknown format'}; supported formats: {limits.describe()}."
        )
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise InvalidImageResolution(f"The {what} is {width}x{height}, far beyond any supported size.")
    # Image.open read only the header: refuse by the declared size before any pixel is decoded,
    # so a small file claiming huge dimensions costs nothing. The checks are orientation-free.
    check_resolution(image.size, limits, what)
    _load(image, what)
    if image.format == "MPO":
        image = image.copy()  # a plain single-frame image; downstream code never sees the extra frames
    image = ImageOps.exif_transpose(image) or image
    return image


def check_resolution(size: tuple[int, int], limits: ImageLimits, what: str = "image") -> None:
    width, height = size
    too_small = min(width, height) < limits.min_side
    if limits.max_box is not None:
        box_long, box_short = max(limits.max_box), min(limits.max_box)
        too_large = max(width, height) > box_long or min(width, height) > box_short
        bound = f"{box_long}x{box_short}"
    else:
        too_large = max(width, height) > limits.max_side
        bound = f"{limits.max_side}x{limits.max_side}"
    if too_small or too_large:
        raise InvalidImageResolution(
            f"The {what} is {width}x{height}; each side must be at least {limits.min_side} px "
            f"and the image at most {bound}."
        )


def _open(data: bytes, what: str) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(data))
    except (UnidentifiedImageError, Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise InvalidImageFormat(f"The {what} is not a readable image ({exc.__class__.__name__}).") from exc
    except Exception as exc:  # Pillow raises many types for hostile headers
        raise InvalidImageFormat(f"The {what} is not a readable image: {exc}.") from exc


def _load(image: Image.Image, what: str) -> None:
    try:
        image.load()
    except Exception as exc:  # truncated data, corrupt chunks, decoder errors
        raise InvalidImageFormat(f"The {what} is truncated or corrupt and cannot be decoded: {exc}.") from exc
