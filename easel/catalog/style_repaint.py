"""wanx-style-repaint-v1 (seed 004): a portrait repainted in one of ten styles, asynchronous."""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from easel.catalog.base import CatalogModel, RunContext, ValidRequest, parse_contract
from easel.engines.manager import Engines
from easel.errors import EaselError
from easel.inputs.decode import ImageLimits
from easel.tasks.store import Outcome
from easel.wire_types import WireInt

# seed 004: 256x256 to 5760x3240, at most 10 MB, JPEG/PNG/JPG/BMP/WEBP
IMAGE_LIMITS = ImageLimits(min_side=256, max_bytes=10 * 1024 * 1024, max_box=(5760, 3240),
                           formats=frozenset({"JPEG", "PNG", "BMP", "WEBP"}))
STYLE_NAMES = (
    "复古漫画", "3D童话", "二次元", "小清新", "未来科技", "国画古风", "将军百战", "炫彩卡通", "清雅国风", "喜迎新年",
)


class StyleRepaintInput(BaseModel):
    model_config = ConfigDict(extra="ignore")

    image_url: str
    style_index: WireInt = Field(ge=0, le=len(STYLE_NAMES) - 1)


class NoFace(EaselError):
    code = "InvalidImage.NoFace"


class WanxStyleRepaint(CatalogModel):
    name = "wanx-style-repaint-v1"
    routes = frozenset({"image-generation/generation"})
    summary = "通义万相 人像风格重绘: a portrait in one of ten styles (style_index 0-9)"

    def validate(self, body: dict[str, Any]) -> ValidRequest:
        inp = parse_contract(StyleRepaintInput, body.get("input"), "input")
        return ValidRequest(function="", request={"input": inp.model_dump()},
                            image_urls=[("input.image_url", inp.image_url)])

    def run(self, request: dict[str, Any], ctx: RunContext) -> Outcome:
        from easel.engines.portrait import NoFaceError, repaint

        inp = StyleRepaintInput.model_validate(request["input"])
        image = ctx.load_image(inp.image_url, IMAGE_LIMITS, "image")
        try:
            result = repaint(np.asarray(image.convert("RGB")), inp.style_index)
        except NoFaceError as exc:
            raise NoFace(
                f"No clear face was found in image_url ({exc.message}); use a photo in which one face is "
                "clearly visible, frontal and not too small."
            ) from None
        saved = ctx.save_image(result, 0, fmt="JPEG")
        # seed 004's success example also carries error_code 0 / error_message "Success"
        return Outcome(results=[saved], extra_output={"result_url": {"$url": saved["blob"]},
                                                      "style_index": inp.style_index, "error_code": 0,
                                                      "error_message": "Success"})

    def describe(self, engines: Engines) -> dict[str, Any]:
        from easel.engines.portrait import STYLES

        entry = super().describe(engines)
        entry["styles"] = {
            str(style.index): {"name": style.name_zh, "english": style.name_en,
                               "how": style.method, "cpu_note": style.approximation}
            for style in STYLES
        }
        return entry
