"""Blob storage for uploads and results: a local directory by default, any S3-compatible store optionally."""

from easel.storage.blobs import (
    BlobStore,
    LocalBlobStore,
    S3BlobStore,
    make_blob_store,
    sign,
    verify_signature,
)

__all__ = ["BlobStore", "LocalBlobStore", "S3BlobStore", "make_blob_store", "sign", "verify_signature"]
