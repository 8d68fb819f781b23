"""The SDK's upload flow (policy, then an OSS-style form POST) and signed downloads of stored files.

The form POST carries no API key (PROTOCOL.md §7.3), so the policy Easel issues is the credential:
base64 JSON naming the key, the upload directory and an expiry, HMAC-signed with the server secret.
"""

from __future__ import annotations

import base64
import json
import mimetypes
import secrets
import time
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from easel.api.common import authenticate, new_request_id, public_base_url, services_of
from easel.api.upload_form import UploadStream
from easel.db.models import Blob
from easel.errors import AccessDenied, EaselError, InvalidParameter, ResourceNotFound
from easel.inputs.sources import UPLOAD_PREFIX
from easel.storage import sign, verify_signature

router = APIRouter()

POLICY_TTL_S = 300
MAX_NAME_BYTES = 255
UPLOAD_PATH = "/api/v1/uploads/oss"


def get_policy(request: Request) -> JSONResponse:
    owner = authenticate(request)
    if request.query_params.get("action", "getPolicy") != "getPolicy":
        raise InvalidParameter("action must be getPolicy.")
    services = services_of(request)
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    upload_dir = f"easel-uploads/{owner.key_id}/{day}/{secrets.token_hex(8)}"
    policy = _encode_policy({"dir": upload_dir, "kid": owner.key_id, "exp": int(time.time()) + POLICY_TTL_S})
    max_mb = services.settings.upload_max_bytes // (1024 * 1024)
    data = {
        "policy": policy,
        "signature": sign(services.settings.secret_key, "upload-policy", policy),
        "upload_dir": upload_dir,
        "upload_host": public_base_url(request) + UPLOAD_PATH,
        "expire_in_seconds": POLICY_TTL_S,
        "max_file_size_mb": max_mb,
        "capacity_limit_mb": max_mb,
        "oss_access_key_id": owner.key_id,
        "x_oss_object_acl": "private",
        "x_oss_forbid_overwrite": "true",
        "model": request.query_params.get("model", ""),
    }
    return JSONResponse({"request_id": new_request_id(), "data": data})


async def receive_upload(request: Request) -> Response:
    """The form POST. The policy is checked when the file part begins, before any file byte is kept;
    RequestGuard has already capped the whole body at the limit plus room for the form fields."""
    services = services_of(request)
    if not _is_small_int(request.headers.get("content-length", "")):
        raise EaselError("Uploads need a Content-Length header.", code="InvalidParameter", status=411)
    secret = services.settings.secret_key
    stream = UploadStream(request.headers.get("content-type", ""), services.settings.upload_max_bytes,
                          lambda fields: _authorised_key(secret, fields))
    vetted = False
    async for chunk in request.stream():
        stream.feed(chunk)
        if stream.authorised is not None and not vetted:
            # Database checks, once, as soon as the file starts: at most one chunk has been read past it.
            await run_in_threadpool(_check_target, services, *stream.authorised, stream.fields)
            vetted = True
    stream.finish()
    key, owner = stream.authorised
    content_type = stream.fields.get("x-oss-content-type") or "application/octet-stream"
    await run_in_threadpool(_store_upload, services, key, owner, bytes(stream.data), content_type)
    return Response(status_code=200)


def _check_target(services: Any, key: str, owner: str, fields: dict[str, str]) -> None:
    """The issuing key is still active, the policy names one object, and overwrites are honoured."""
    if not services.keys.is_active(owner):
        raise AccessDenied("The API key this upload policy was issued to has been revoked.")
    directory = key.rsplit("/", 1)[0] + "/"
    used = _keys_under(services, UPLOAD_PREFIX + directory)
    if any(k != UPLOAD_PREFIX + key for k in used):
        raise AccessDenied("This upload policy was already used for another object; request a new policy.")
    if UPLOAD_PREFIX + key in used and fields.get("x-oss-forbid-overwrite", "false").strip().lower() == "true":
        raise EaselError("The object already exists and x-oss-forbid-overwrite is true.",
                         code="FileAlreadyExists", status=409)


def _keys_under(services: Any, prefix: str) -> list[str]:
    with services.db.session() as s:
        return list(s.scalars(select(Blob.key).where(Blob.key.startswith(prefix, autoescape=True)).limit(2)))


def _store_upload(services: Any, key: str, owner: str, data: bytes, content_type: str) -> None:
    services.blobs.put(UPLOAD_PREFIX + key, data, content_type)
    services.store.record_blob(UPLOAD_PREFIX + key, owner, len(data))


def _authorised_key(secret: bytes, fields: dict[str, str]) -> tuple[str, str]:
    """The object key, if the form's policy is ours, unexpired, and the key lies in its directory."""
    policy_text = fields.get("policy", "")
    if not verify_signature(secret, fields.get("Signature", ""), "upload-policy", policy_text):
        raise AccessDenied("The upload policy signature does not match; request a new policy.")
    policy = _decode_policy(policy_text)
    if policy["exp"] < time.time():
        raise AccessDenied("The upload policy has expired; request a new policy.")
    key = fields.get("key", "")
    name = key[len(policy["dir"]) + 1:]
    if not key.startswith(policy["dir"] + "/") or not name or "/" in name or name in (".", "..") or "\\" in key:
        raise AccessDenied("The object key must be a file name inside the policy's upload_dir.")
    _check_file_name(name)
    return key, policy["kid"]


def _check_file_name(name: str) -> None:
    """A name every storage backend can hold: file systems refuse NUL and names over 255 bytes."""
    if len(name.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
        raise InvalidParameter(f"The object key's file name is longer than {MAX_NAME_BYTES} bytes.")
    if not name.isprintable():
        raise InvalidParameter("The object key's file name contains control characters.")


def _is_small_int(text: str) -> bool:
    """ASCII digits that int() accepts quickly ('²'.isdigit() is True, and 5000 digits raise ValueError)."""
    return text.isascii() and text.isdigit() and len(text) <= 18


def _encode_policy(policy: dict[str, Any]) -> str:
    return base64.b64encode(json.dumps(policy, separators=(",", ":")).encode()).decode()


def _decode_policy(text: str) -> dict[str, Any]:
    try:
        policy = json.loads(base64.b64decode(text))
        return {"dir": str(policy["dir"]), "kid": str(policy["kid"]), "exp": int(policy["exp"])}
    except (ValueError, KeyError, TypeError) as exc:
        raise AccessDenied("The upload policy is malformed.") from exc


def download(request: Request, key: str) -> Response:
    """A stored file, for whoever holds a valid, unexpired signed link."""
    services = services_of(request)
    expires = request.query_params.get("Expires", "")
    signature = request.query_params.get("Signature", "")
    if not _is_small_int(expires) or not verify_signature(services.settings.secret_key, signature, key, expires):
        raise AccessDenied("The link's signature is invalid.")
    if int(expires) < time.time():
        raise AccessDenied("The link has expired.")
    data = services.blobs.get(key)
    if data is None:
        raise ResourceNotFound("The file no longer exists (results are kept for the retention period).")
    media_type = mimetypes.guess_type(key)[0] or "application/octet-stream"
    return Response(data, media_type=media_type, headers={"Cache-Control": "private, max-age=3600"})


router.add_api_route("/api/v1/uploads", get_policy, methods=["GET"])
router.add_api_route("/api/v1/uploads/", get_policy, methods=["GET"], include_in_schema=False)
router.add_api_route(UPLOAD_PATH, receive_upload, methods=["POST"])
router.add_api_route("/files/{key:path}", download, methods=["GET"])
