"""Where an input image comes from: an http(s) URL, a data: URI, or an oss:// key of an earlier upload."""

from __future__ import annotations

import asyncio
import base64
import binascii
from dataclasses import dataclass, field

from PIL import Image

from easel.errors import InvalidParameter, InvalidURL
from easel.inputs.decode import ImageLimits, decode_image
from easel.inputs.fetch import FetchPolicy, fetch_url, fetch_url_async, split_http_url
from easel.storage import BlobStore

UPLOAD_PREFIX = "uploads/"
# Every model's seed document caps one input image at 10 MB.
DEFAULT_MAX_BYTES = ImageLimits().max_bytes
# Concurrent http(s) input fetches per API key on the asynchronous paths.
FETCHES_PER_KEY = 4
# oss:// keys are stored in a 512-character column; nothing longer can name an upload.
MAX_KEY_URL = 500


def upload_blob_key(oss_url: str) -> str:
    return UPLOAD_PREFIX + oss_url[len("oss://"):]


def check_url(value: object, field: str, max_bytes: int = DEFAULT_MAX_BYTES) -> str:
    """Syntax check done when a task is created, before anything is fetched or stored: a malformed
    URL or a data: URI over the image byte limit is refused here, so it never reaches the task row."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidParameter(f"{field} must be a non-empty URL string.")
    url = value.strip()
    if not url.isprintable():  # a NUL would reach the database (PostgreSQL refuses it: a 500)
        raise InvalidURL(f"{field} contains control characters.")
    lower = url[:16].lower()
    if lower.startswith(("http://", "https://")):
        try:
            split_http_url(url)
        except InvalidURL as exc:
            raise InvalidURL(f"{field}: {exc.message}") from None
        return url
    if lower.startswith("oss://"):
        if len(url) > MAX_KEY_URL:
            raise InvalidURL(f"{field} is longer than any upload key ({MAX_KEY_URL} characters).")
        return url
    if lower.startswith("data:"):
        if ";base64," not in url[:256]:
            raise InvalidURL(f"{field} is a data: URI without ';base64,'; use data:<mime>;base64,<data>.")
        if len(url) > data_uri_max_chars(max_bytes):
            raise InvalidParameter(f"{field} is a data: URI of more than {max_bytes // 1048576} MB; the limit "
                                   f"is {max_bytes // 1048576} MB per image.")
        return url
    if lower.startswith("file://"):
        raise InvalidParameter(
            f"{field} is a local file:// path, which the server cannot read. The dashscope SDK uploads "
            "local files given as base_image_url etc. (not inside extra_input); otherwise pass an http(s) "
            "URL, a data: URI or an oss:// key from /api/v1/uploads."
        )
    raise InvalidURL(f"{field} must be an http(s) URL, a data: URI or an oss:// upload key.")


@dataclass
class InputResolver:
    blobs: BlobStore
    policy: FetchPolicy
    owner_of_blob: object  # Callable[[str], str | None]: who uploaded a blob
    _fetch_slots: dict[str, asyncio.Semaphore] = field(default_factory=dict, repr=False)

    def check_upload(self, url: str, key_id: str, field: str) -> None:
        """An oss:// key must name an upload made with the same API key."""
        if not url.startswith("oss://"):
            return
        if self.owner_of_blob(upload_blob_key(url)) != key_id:  # type: ignore[operator]
            raise InvalidParameter(
                f"{field} names {url}, which is not a file uploaded with this API key (or it has expired)."
            )

    def read_bytes(self, url: str, key_id: str, max_bytes: int) -> bytes:
        if url.startswith("oss://"):
            self.check_upload(url, key_id, "the input")
            data = self.blobs.get(upload_blob_key(url))
            if data is None:
                raise InvalidURL(f"The uploaded file {url} is gone (uploads expire with the retention period).")
            return data
        if url[:5].lower() == "data:":
            return _decode_data_uri(url, max_bytes)
        return fetch_url(url, FetchPolicy(max_bytes, self.policy.timeout_s, self.policy.allowlist))

    async def read_bytes_async(self, url: str, key_id: str, max_bytes: int) -> bytes:
        """read_bytes() for the event loop: http(s) is fetched without holding a thread, at most
        FETCHES_PER_KEY at once per API key (one caller's slow URLs queue behind each other, not in
        front of everyone else's); uploads and data: URIs (local, quick) are read on a worker thread."""
        if not url[:8].lower().startswith(("http://", "https://")):
            return await asyncio.to_thread(self.read_bytes, url, key_id, max_bytes)
        slot = self._fetch_slots.setdefault(key_id, asyncio.Semaphore(FETCHES_PER_KEY))
        async with slot:
            return await fetch_url_async(url, FetchPolicy(max_bytes, self.policy.timeout_s, self.policy.allowlist))

    async def load_images_async(self, urls: list[str], key_id: str, limits: ImageLimits,
                                what: str) -> list[Image.Image]:
        """load_image() of several inputs on the event loop, within one deadline (the fetch timeout) for
        all of them; the first failure cancels the rest. Decoding runs on a worker thread."""
        async def one(url: str) -> Image.Image:
            data = await self.read_bytes_async(url, key_id, limits.max_bytes)
            return await asyncio.to_thread(decode_image, data, limits, what)

        jobs = [asyncio.ensure_future(one(url)) for url in urls]
        try:
            return list(await asyncio.wait_for(asyncio.gather(*jobs), self.policy.timeout_s))
        except TimeoutError:
            raise InvalidURL(f"Timed out fetching the input images ({self.policy.timeout_s:.0f} s limit).") from None
        finally:
            for job in jobs:
                job.cancel()

    def load_image(self, url: str, key_id: str, limits: ImageLimits, what: str) -> Image.Image:
        return decode_image(self.read_bytes(url, key_id, limits.max_bytes), limits, what)


def data_uri_max_chars(max_bytes: int) -> int:
    """The longest data: URI whose base64 payload can still decode to max_bytes (plus its header)."""
    return (max_bytes * 4) // 3 + 4 + 256


def _decode_data_uri(url: str, max_bytes: int) -> bytes:
    _, _, payload = url.partition(";base64,")
    if len(payload) > (max_bytes * 4) // 3 + 4:
        raise InvalidParameter(f"The data: URI holds more than {max_bytes // 1048576} MB.")
    try:
        return base64.b64decode(payload, validate=False)
    except (binascii.Error, ValueError) as exc:
        raise InvalidURL("The data: URI's base64 payload is malformed.") from exc
