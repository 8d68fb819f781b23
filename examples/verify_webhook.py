import hashlib
import hmac
import time


def verify_easel_webhook(secret: str, body: bytes, signature_header: str, tolerance_s: int = 300) -> bool:
    """True when `body` (the raw request bytes) was signed by Easel with `secret` less than
    `tolerance_s` seconds ago. signature_header is the X-Easel-Signature value: t=<unix>,v1=<hex>."""
    try:
        fields = dict(part.split("=", 1) for part in signature_header.split(","))
        timestamp = int(fields["t"])
        given = fields["v1"]
    except (KeyError, ValueError):
        return False
    if abs(time.time() - timestamp) > tolerance_s:
        return False  # too old (or from the future): refuse replays of a captured delivery
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, given)
