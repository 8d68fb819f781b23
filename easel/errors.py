"""Errors that carry a DashScope code. Raised anywhere (inputs, catalog, tasks), rendered by the API.

The HTTP status travels with the error so the API layer does not need a table of its own.
"""

from __future__ import annotations


class EaselError(Exception):
    """An error with a DashScope `code`, a message that says what to fix, and an HTTP status."""

    status = 400
    code = "InvalidParameter"

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status


class InvalidParameter(EaselError):
    code = "InvalidParameter"


class InvalidURL(EaselError):
    code = "InvalidURL"


class InvalidImageFormat(EaselError):
    code = "InvalidImageFormat"


class InvalidImageResolution(EaselError):
    code = "InvalidImageResolution"


class InvalidApiKey(EaselError):
    status = 401
    code = "InvalidApiKey"


class AccessDenied(EaselError):
    status = 403
    code = "AccessDenied"


class UnsupportedOperation(EaselError):
    code = "UnsupportedOperation"


class EngineUnavailable(EaselError):
    """The configured engines cannot honestly do this request; the message says what to configure."""

    code = "EngineUnavailable"


class ResourceNotFound(EaselError):
    status = 404
    code = "ResourceNotFound"


class Throttling(EaselError):
    """A per-key limit (easel.auth.limits): code Throttling.RateQuota or Throttling.AllocationQuota."""

    status = 429
    code = "Throttling"
