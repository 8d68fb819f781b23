"""Request contract of the relight API, from seed 000 (section 四 and 五)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from easel.api.relight.errors import ILLEGAL_PARAMETER, MISSING_PARAMETER, RelightError
from easel.wire_types import WireFloat, WireInt

MAX_TASKS = 10
MIN_SIDE, MAX_SIDE = 400, 4096
MAX_PROMPT = 500


class RelightTaskIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    image: str = Field(min_length=1)
    mask: str | None = None
    positive_prompt: str = Field(min_length=1, max_length=MAX_PROMPT)
    # not in the seed's table: an extension for the generative engine (ignored by the CPU relight, with a note)
    negative_prompt: str | None = Field(None, max_length=MAX_PROMPT)
    guidance_scale: WireFloat = Field(ge=1.0, le=20.0)
    steps: WireInt = Field(ge=15, le=50)
    seed: WireInt | None = Field(None, ge=0, le=2**31 - 1)


def parse_task_list(body: Any) -> list[RelightTaskIn]:
    """data.task_list validated; missing pieces -> 23500009, wrong ones -> 23500013."""
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict) or "task_list" not in data:
        raise RelightError(MISSING_PARAMETER, "data.task_list is required")
    task_list = data["task_list"]
    if not isinstance(task_list, list):
        raise RelightError(ILLEGAL_PARAMETER, "data.task_list must be an array")
    if not task_list:
        raise RelightError(MISSING_PARAMETER, "data.task_list is empty; submit 1 to 10 tasks")
    if len(task_list) > MAX_TASKS:
        raise RelightError(ILLEGAL_PARAMETER, f"data.task_list has {len(task_list)} tasks; at most {MAX_TASKS}")
    return [_parse_task(item, index) for index, item in enumerate(task_list)]


def _parse_task(item: Any, index: int) -> RelightTaskIn:
    where = f"data.task_list[{index}]"
    if not isinstance(item, dict):
        raise RelightError(ILLEGAL_PARAMETER, f"{where} must be an object")
    try:
        return RelightTaskIn.model_validate(item)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"])
        if err["type"] == "missing" or (err["type"] == "string_too_short" and not item.get(field)):
            raise RelightError(MISSING_PARAMETER, f"{where}.{field} is required") from None
        raise RelightError(ILLEGAL_PARAMETER, f"{where}.{field}: {err['msg']} (got {err.get('input')!r:.60})") from None


def parse_result_key(body: Any) -> str:
    data = body.get("data") if isinstance(body, dict) else None
    key = data.get("result_key") if isinstance(data, dict) else None
    if key is None or key == "":
        raise RelightError(MISSING_PARAMETER, "data.result_key is required")
    if not isinstance(key, str):
        raise RelightError(ILLEGAL_PARAMETER, "data.result_key must be a string")
    return key
