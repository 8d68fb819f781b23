"""The signature a receiver checks: HMAC-SHA256 over "{timestamp}.{body}" with the key's webhook secret,
sent as `X-Easel-Signature: t=<unix seconds>,v1=<hex digest>` (examples/verify_webhook.py checks it)."""

from __future__ import annotations

import hashlib
import hmac
import secrets

SIGNATURE_HEADER = "X-Easel-Signature"
CALLBACK_HEADER = "X-Easel-Callback"
SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_hex(24)


def signature(secret: str, body: bytes, timestamp: int) -> str:
    """The X-Easel-Signature value for `body` sent at `timestamp`."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"
