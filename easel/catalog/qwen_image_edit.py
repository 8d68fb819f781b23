"""qwen-image-edit (seed 002): instruction editing of one image, answered synchronously.

Instruction editing creates new content, so it needs an instruct_edit engine (engines.toml); none
ships for CPU. Without one, a request is still fully validated (its image fetched and decoded)
before the answer is EngineUnavailable. With one, the call runs as a task on a worker like any other
and the answer waits for it.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from easel.catalog.base import CatalogModel, RunContext, ValidRequest, parse_contract
from easel.catalog.capabilities import engine_gap, engine_status
from easel.engines.base import EngineRequest, EngineTask
from easel.engines.manager import Engines
from easel.engines.watermark import add_ai_mark
from easel.errors import EaselError, InvalidParameter
from easel.ids import random_seed
from easel.inputs.decode import ImageLimits
from easel.tasks.store import Outcome
from easel.wire_types import WireBool

IMAGE_LIMITS = ImageLimits(min_side=384, max_side=3072, max_bytes=10 * 1024 * 1024)
TEXT_MAX, NEGATIVE_MAX = 800, 500
OUTPUT_AREA = 1024 * 1024


class QwenEditParameters(BaseModel):
    model_config = ConfigDict(extra="ignore")

    negative_prompt: str = Field("", max_length=NEGATIVE_MAX)
    watermark: WireBool = False


class QwenImageEdit(CatalogModel):
    name = "qwen-image-edit"
    parameters_model = QwenEditParameters
    routes = frozenset({"multimodal-generation/generation"})
    synchronous = True
    input_limits = IMAGE_LIMITS
    summary = "通义千问 图像编辑: one image edited by an instruction, answered synchronously"

    def validate(self, body: dict[str, Any]) -> ValidRequest:
        inp = body.get("input")
        if not isinstance(inp, dict) or not isinstance(inp.get("messages"), list) or not inp["messages"]:
            raise InvalidParameter("input.messages is required: one user message with an image and a text.")
        image, text = _image_and_text(inp["messages"])
        params = parse_contract(QwenEditParameters, body.get("parameters"), "parameters")
        request = {"image": image, "text": text, "parameters": params.model_dump(), "seed": random_seed()}
        return ValidRequest(function="", request=request, image_urls=[("input.messages[].content[].image", image)])

    def capability_gap(self, request: ValidRequest, engines: Engines) -> EaselError | None:
        return engine_gap(engines, EngineTask.INSTRUCT_EDIT, f"{self.name} (instruction editing)")

    def engine_task(self, request: ValidRequest, engines: Engines) -> EngineTask | None:
        return EngineTask.INSTRUCT_EDIT

    def run(self, request: dict[str, Any], ctx: RunContext) -> Outcome:
        image = ctx.load_image(request["image"], IMAGE_LIMITS, "image").convert("RGB")
        params = QwenEditParameters.model_validate(request["parameters"])
        size = output_size(image.size)
        engine_request = EngineRequest(image=image, prompt=request["text"], negative_prompt=params.negative_prompt,
                                       size=size, seed=request.get("seed", 0))
        (edited,) = ctx.run_engine(EngineTask.INSTRUCT_EDIT, engine_request)
        saved = ctx.save_image(add_ai_mark(edited) if params.watermark else edited, 0)
        return Outcome(results=[saved], usage={"width": size[0], "height": size[1], "image_count": 1})

    def describe(self, engines: Engines) -> dict[str, Any]:
        entry = super().describe(engines)
        entry["synchronous"] = True
        entry["status"] = engine_status(engines, EngineTask.INSTRUCT_EDIT)
        return entry


def output_size(input_size: tuple[int, int]) -> tuple[int, int]:
    """Seed 002's example answers 1248x832: about a megapixel at the input's aspect ratio, sides a
    multiple of 32 (the rule of Qwen-Image-Edit's own pipeline)."""
    ratio = input_size[0] / input_size[1]
    width = math.sqrt(OUTPUT_AREA * ratio)
    height = width / ratio
    return max(32, round(width / 32) * 32), max(32, round(height / 32) * 32)


def _image_and_text(messages: list[Any]) -> tuple[str, str]:
    users = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"]
    if len(users) != 1 or not isinstance(users[0].get("content"), list):
        raise InvalidParameter("input.messages must hold one user message whose content is a list.")
    images = [c["image"] for c in users[0]["content"] if isinstance(c, dict) and "image" in c]
    texts = [c["text"] for c in users[0]["content"] if isinstance(c, dict) and "text" in c]
    if len(images) != 1 or not isinstance(images[0], str) or not images[0]:
        raise InvalidParameter("The user message must contain exactly one {\"image\": URL or base64} entry.")
    if len(texts) != 1 or not isinstance(texts[0], str) or not texts[0].strip():
        raise InvalidParameter("The user message must contain exactly one non-empty {\"text\": ...} entry.")
    if len(texts[0]) > TEXT_MAX:
        raise InvalidParameter(f"The text is {len(texts[0])} characters; at most {TEXT_MAX}.")
    return _as_url(images[0]), texts[0]


def _as_url(image: str) -> str:
    """The seed allows "URL或Base64": bare base64 is wrapped as a data: URI."""
    if image.startswith(("http://", "https://", "oss://", "data:", "file://")):
        return image
    if len(image) > 64 and image[:8].isascii():
        return "data:image/png;base64," + image
    return image
