"""qwen-image-edit (seed 002): instruction editing of one image, answered synchronously.

Instruction editing creates new content, so it needs a generative engine; none ships for CPU. The
contract, the input checks and the synchronous answer are real: a request is fully validated (its
image fetched and decoded) before the engine check answers EngineUnavailable.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from easel.catalog.base import CatalogModel, RunContext, ValidRequest, parse_contract
from easel.catalog.capabilities import GENERATIVE_MISSING, needs_generative
from easel.errors import EaselError, InvalidParameter
from easel.inputs.decode import ImageLimits
from easel.tasks.store import Outcome

IMAGE_LIMITS = ImageLimits(min_side=384, max_side=3072, max_bytes=10 * 1024 * 1024)
TEXT_MAX, NEGATIVE_MAX = 800, 500


class QwenEditParameters(BaseModel):
    model_config = ConfigDict(extra="ignore")

    negative_prompt: str = Field("", max_length=NEGATIVE_MAX)
    watermark: bool = False


class QwenImageEdit(CatalogModel):
    name = "qwen-image-edit"
    routes = frozenset({"multimodal-generation/generation"})
    synchronous = True
    summary = "通义千问 图像编辑: one image edited by an instruction, answered synchronously"

    def validate(self, body: dict[str, Any]) -> ValidRequest:
        inp = body.get("input")
        if not isinstance(inp, dict) or not isinstance(inp.get("messages"), list) or not inp["messages"]:
            raise InvalidParameter("input.messages is required: one user message with an image and a text.")
        image, text = _image_and_text(inp["messages"])
        params = parse_contract(QwenEditParameters, body.get("parameters"), "parameters")
        request = {"image": image, "text": text, "parameters": params.model_dump()}
        return ValidRequest(function="", request=request, image_urls=[("input.messages[].content[].image", image)])

    def capability_gap(self, request: ValidRequest) -> EaselError | None:
        return self._missing_engine()

    def run(self, request: dict[str, Any], ctx: RunContext) -> Outcome:
        ctx.load_image(request["image"], IMAGE_LIMITS, "image")
        raise self._missing_engine()

    def _missing_engine(self) -> EaselError:
        return needs_generative(f"{self.name} (instruction editing)")

    def describe(self) -> dict[str, Any]:
        entry = super().describe()
        entry["synchronous"] = True
        entry["status"] = f"not available: {GENERATIVE_MISSING}"
        return entry


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
