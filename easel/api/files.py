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
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from easel.api.common import authenticate, new_request_id, public_base_url, services_of
from easel.errors import AccessDenied, EaselError, InvalidParameter, ResourceNotFound
from easel.inputs.sources import UPLOAD_PREFIX
from easel.storage import sign, verify_signature

router = APIRouter()

POLICY_TTL_S = 300
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
    services = services_of(request)
    limit = services.settings.upload_max_bytes
    declared = request.headers.get("content-length", "")
    if not declared.isdigit():
        raise EaselError("Uploads need a Content-Length header.", code="InvalidParameter", status=411)
    if int(declared) > limit + 64 * 1024:
        raise EaselError(f"The file is larger than {limit // 1048576} MB.", code="RequestTooLarge", status=413)
    form = await request.form(max_files=1, max_fields=20)
    try:
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidParameter("The upload form has no file part named 'file'.")
        key, owner = _authorised_key(services.settings.secret_key, fields)
        data = await upload.read()
    finally:
        await form.close()
    content_type = fields.get("x-oss-content-type") or "application/octet-stream"
    await run_in_threadpool(_store_upload, services, key, owner, data, content_type)
    return Response(status_code=200)


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
    return key, policy["kid"]


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
    if not expires.isdigit() or not verify_signature(services.settings.secret_key, signature, key, expires):
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
