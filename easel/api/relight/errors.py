"""The seed's status-code table (seed 000, section 六) and how Easel's own errors map onto it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RelightCode:
    status: int
    code: str
    message: str


INTERNAL = RelightCode(500, "23500000", "Internal server error")
UNAUTHORIZED = RelightCode(401, "23500001", "Authorization required to perform current operation")
NO_SERVICE = RelightCode(404, "23500002", "Specified service does not exist")
CREDIT_EXHAUSTED = RelightCode(403, "23500003", "User credit points are exhausted")
THROTTLED = RelightCode(403, "23500004", "Request was denied due to request throttling")
BAD_IMAGE_URL = RelightCode(400, "23500006", "The image url provided is invalid or non-accessible")
BAD_IMAGE = RelightCode(400, "23500007", "The uploaded image does not meet the requirements")
NO_RESULT = RelightCode(400, "23500008", "No records found related to the specified resultKey parameter")
MISSING_PARAMETER = RelightCode(400, "23500009", "Required parameters cannot be empty")
JOB_FAILED = RelightCode(500, "23500011", "Job execution failed")
MISSING_BODY = RelightCode(400, "23500012", "Required request body is missing")
ILLEGAL_PARAMETER = RelightCode(400, "23500013", "Illegal input parameter found")


class RelightError(Exception):
    """An answer from the code table, with a detail that says exactly what to fix."""

    def __init__(self, code: RelightCode, detail: str = "") -> None:
        super().__init__(detail or code.message)
        self.code = code
        self.detail = detail

    @property
    def message(self) -> str:
        return f"{self.code.message}: {self.detail}" if self.detail else self.code.message


def code_for(code: str, message: str) -> RelightCode:
    """The table row for a DashScope-style code raised by the shared input and engine code."""
    if code == "InvalidURL":
        return BAD_IMAGE_URL
    if code in ("InvalidImageFormat", "InvalidImageResolution"):
        return BAD_IMAGE
    if code == "InvalidParameter" and " MB" in message:
        return BAD_IMAGE  # over the byte limit
    if code == "InvalidParameter":
        return ILLEGAL_PARAMETER
    return JOB_FAILED
