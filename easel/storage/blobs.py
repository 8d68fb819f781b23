"""BlobStore backends and signed, expiring download links."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import tempfile
from abc import ABC, abstractmethod
from pathlib import Path
from urllib.parse import quote

from easel.config import Settings


def sign(secret: bytes, *parts: str) -> str:
    message = "\n".join(parts).encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()[:40]


def verify_signature(secret: bytes, signature: str, *parts: str) -> bool:
    # Compared as bytes: compare_digest raises TypeError on a non-ASCII str (e.g. Signature=%E2%98%83).
    return hmac.compare_digest(sign(secret, *parts).encode(), signature.encode("utf-8", "replace"))


class BlobStore(ABC):
    @abstractmethod
    def put(self, key: str, data: bytes, content_type: str) -> None: ...

    @abstractmethod
    def get(self, key: str) -> bytes | None: ...

    @abstractmethod
    def delete(self, key: str) -> None: ...

    @abstractmethod
    def url(self, key: str, expires_ts: int, base_url: str) -> str:
        """A link that lets anyone holding it download the blob until `expires_ts` (epoch seconds)."""


class LocalBlobStore(BlobStore):
    """Files under a directory; links point back at Easel's own signed /files route."""

    def __init__(self, root: Path, secret: bytes) -> None:
        self.root = root
        self.secret = secret
        root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise ValueError(f"blob key escapes the store: {key!r}")
        return path

    def put(self, key: str, data: bytes, content_type: str) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        # write-then-rename: a reader never sees half a file
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)

    def get(self, key: str) -> bytes | None:
        try:
            return self._path(key).read_bytes()
        except (FileNotFoundError, IsADirectoryError, ValueError):
            return None

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError, ValueError):
            self._path(key).unlink()

    def url(self, key: str, expires_ts: int, base_url: str) -> str:
        signature = sign(self.secret, key, str(expires_ts))
        return f"{base_url}/files/{quote(key)}?Expires={expires_ts}&Signature={signature}"


class S3BlobStore(BlobStore):
    """Any S3-compatible store (AWS, MinIO, Ceph, OSS in S3 mode); links are S3 presigned URLs."""

    def __init__(self, bucket: str, prefix: str, endpoint_url: str | None) -> None:
        import boto3  # optional dependency: pip install 'easel[s3]'

        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.client = boto3.client("s3", endpoint_url=endpoint_url)

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def put(self, key: str, data: bytes, content_type: str) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data, ContentType=content_type)

    def get(self, key: str) -> bytes | None:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()
        except self.client.exceptions.NoSuchKey:
            return None

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def url(self, key: str, expires_ts: int, base_url: str) -> str:
        import time

        ttl = max(1, expires_ts - int(time.time()))
        return self.client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": self._key(key)}, ExpiresIn=min(ttl, 7 * 86400)
        )


def make_blob_store(settings: Settings) -> BlobStore:
    if settings.storage_url.startswith("s3://"):
        bucket, _, prefix = settings.storage_url[len("s3://"):].partition("/")
        return S3BlobStore(bucket, prefix, settings.s3_endpoint_url)
    if settings.storage_url != "local":
        raise ValueError(f"EASEL_STORAGE_URL must be 'local' or 's3://bucket[/prefix]', not {settings.storage_url!r}")
    return LocalBlobStore(settings.blob_dir, settings.secret_key)
