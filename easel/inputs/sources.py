"""Where an input image comes from: an http(s) URL, a data: URI, or an oss:// key of an earlier upload."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from PIL import Image

from easel.errors import InvalidParameter, InvalidURL
from easel.inputs.decode import ImageLimits, decode_image
from easel.inputs.fetch import FetchPolicy, fetch_url
from easel.storage import BlobStore

UPLOAD_PREFIX = "uploads/"


def upload_blob_key(oss_url: str) -> str:
    return UPLOAD_PREFIX + oss_url[len("oss://"):]


def check_url(value: object, field: str) -> str:
    """Syntax check done when a task is created, before anything is fetched."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidParameter(f"{field} must be a non-empty URL string.")
    url = value.strip()
    lower = url[:16].lower()
    if lower.startswith(("http://", "https://", "oss://")):
        return url
    if lower.startswith("data:"):
        if ";base64," not in url[:256]:
            raise InvalidURL(f"{field} is a data: URI without ';base64,'; use data:<mime>;base64,<data>.")
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

    def load_image(self, url: str, key_id: str, limits: ImageLimits, what: str) -> Image.Image:
        return decode_image(self.read_bytes(url, key_id, limits.max_bytes), limits, what)


def _decode_data_uri(url: str, max_bytes: int) -> bytes:
    _, _, payload = url.partition(";base64,")
    if len(payload) > (max_bytes * 4) // 3 + 4:
        raise InvalidParameter(f"The data: URI holds more than {max_bytes // 1048576} MB.")
    try:
        return base64.b64decode(payload, validate=False)
    except (binascii.Error, ValueError) as exc:
        raise InvalidURL("The data: URI's base64 payload is malformed.") from exc
