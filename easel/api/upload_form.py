"""A streaming parser for the OSS-style upload form (fields first, the file part last).

Starlette's request.form() reads the whole body before the route can look at it, so a forged or
expired policy would still cost the server a full upload. UploadStream hands the fields to a check
the moment the file part's headers arrive, before any file byte is kept, and counts the file's
bytes against the exact limit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from easel.errors import EaselError, InvalidParameter

MAX_FIELDS = 20
MAX_FIELD_BYTES = 16 * 1024


class UploadStream:
    """Feed body chunks; `authorised` is set once the policy check passed, `data` holds the file."""

    def __init__(self, content_type: str, max_file_bytes: int, check: Callable[[dict[str, str]], Any]) -> None:
        kind, options = parse_options_header(content_type)
        boundary = options.get(b"boundary")
        if kind != b"multipart/form-data" or not boundary:
            raise InvalidParameter("Uploads must be multipart/form-data with a boundary.")
        self.max_file_bytes = max_file_bytes
        self.check = check
        self.fields: dict[str, str] = {}
        self.data = bytearray()
        self.authorised: Any = None
        self.file_complete = False
        self._part: dict[str, Any] = {}
        self._header = [bytearray(), bytearray()]
        self._parser = MultipartParser(boundary, callbacks={  # type: ignore[arg-type]
            "on_part_begin": self._part_begin,
            "on_header_field": lambda d, s, e: self._header[0].extend(d[s:e]),
            "on_header_value": lambda d, s, e: self._header[1].extend(d[s:e]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
        })

    def feed(self, chunk: bytes) -> None:
        try:
            self._parser.write(chunk)
        except MultipartParseError as exc:
            raise InvalidParameter(f"The upload form is malformed: {exc}.") from None

    def finish(self) -> None:
        try:
            self._parser.finalize()
        except MultipartParseError as exc:
            raise InvalidParameter(f"The upload form is malformed: {exc}.") from None
        if not self.file_complete:
            raise InvalidParameter("The upload form has no file part named 'file'.")

    def _part_begin(self) -> None:
        self._part = {"name": "", "file": False, "value": bytearray(), "skip": False}

    def _header_end(self) -> None:
        name, value = bytes(self._header[0]).lower(), bytes(self._header[1])
        self._header = [bytearray(), bytearray()]
        if name == b"content-disposition":
            _, options = parse_options_header(value)
            self._part["name"] = options.get(b"name", b"").decode("utf-8", "replace")
            self._part["file"] = self._part["name"] == "file"

    def _headers_finished(self) -> None:
        if self._part["file"]:
            if self.authorised is not None:  # one file per policy: a second part is ignored, as OSS does
                self._part["skip"] = True
                return
            # The policy is judged on the fields before the file (OSS requires the file to be last).
            self.authorised = self.check(dict(self.fields))
        elif len(self.fields) >= MAX_FIELDS or self.authorised is not None:
            self._part["skip"] = True  # fields after the file cannot change what was authorised

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._part["skip"]:
            return
        if self._part["file"]:
            if len(self.data) + (end - start) > self.max_file_bytes:
                raise EaselError(f"The file is larger than {_size(self.max_file_bytes)}.", code="RequestTooLarge",
                                 status=413)
            self.data.extend(data[start:end])
            return
        if len(self._part["value"]) + (end - start) > MAX_FIELD_BYTES:
            raise InvalidParameter(f"The upload form field {self._part['name']!r} is too long.")
        self._part["value"].extend(data[start:end])

    def _part_end(self) -> None:
        if self._part["skip"]:
            return
        if self._part["file"]:
            self.file_complete = True
        elif self._part["name"]:
            self.fields[self._part["name"]] = bytes(self._part["value"]).decode("utf-8", "replace")


def _size(limit: int) -> str:
    return f"{limit / 1048576:g} MB" if limit >= 1048576 else f"{limit} bytes"
