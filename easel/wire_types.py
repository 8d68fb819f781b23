"""Field types for the wire contracts: the seeds type these fields as integers and booleans, so text
("3", "yes") and booleans standing in for numbers (`"n": true`) are refused instead of coerced."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Strict


def _number_not_text(value: Any) -> Any:
    if isinstance(value, str | bool):
        raise ValueError("must be a JSON number, not " + ("a boolean" if isinstance(value, bool) else "a string"))
    return value


# An integer field: 3 (and 3.0, which JSON encoders produce) but not "3" or true.
WireInt = Annotated[int, BeforeValidator(_number_not_text)]
# A float field: 0.5 or 1, but not "0.5" or true.
WireFloat = Annotated[float, BeforeValidator(_number_not_text)]
# A boolean field: true / false only.
WireBool = Annotated[bool, Strict()]
