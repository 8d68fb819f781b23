"""wanx-x-painting (seed 001): repaint the masked area of an image from a prompt, asynchronous.

On CPU engines a removal prompt is served by inpainting; a prompt asking for new content needs a
generative engine (see capabilities.py).
"""

from __future__ import annotations

from typing import Any, Literal

from PIL import Image
from pydantic import BaseModel, ConfigDict, Field, field_validator

from easel.catalog.base import CatalogModel, RunContext, ValidRequest, parse_contract
from easel.catalog.capabilities import engine_gap, engine_status, is_removal_prompt
from easel.catalog.masks import edit_area
from easel.engines import framing
from easel.engines.base import EngineRequest, EngineTask
from easel.engines.manager import Engines
from easel.engines.watermark import add_ai_mark
from easel.errors import EaselError, InvalidParameter
from easel.ids import random_seed
from easel.inputs.decode import ImageLimits
from easel.tasks.store import Outcome
from easel.wire_types import WireBool, WireInt

# seed 001: JPG/JPEG/PNG/BMP, larger than 256x256 and smaller than 4096x4096 (strictly), at most 10 MB
IMAGE_LIMITS = ImageLimits(min_side=257, max_side=4095, max_bytes=10 * 1024 * 1024,
                           formats=frozenset({"JPEG", "PNG", "BMP"}))
PROMPT_MAX = 75  # "长度不超过75个字符,超过部分会自动截断"
SIZES = ("1024*1024", "720*1280", "1280*720")
Style = Literal["<auto>", "<3d cartoon>", "<anime>", "<oil painting>", "<watercolor>", "<sketch>",
                "<chinese painting>", "<flat illustration>"]
# The words the stylization table understands for each documented style.
STYLE_WORDS = {
    "<3d cartoon>": "3D卡通", "<anime>": "动漫", "<oil painting>": "油画", "<watercolor>": "水彩",
    "<sketch>": "素描", "<chinese painting>": "国画", "<flat illustration>": "扁平插画",
}
# What a generative fill engine is told for each style.
STYLE_PROMPTS = {
    "<3d cartoon>": "3D cartoon style", "<anime>": "anime style", "<oil painting>": "oil painting",
    "<watercolor>": "watercolor painting", "<sketch>": "pencil sketch",
    "<chinese painting>": "traditional Chinese ink painting",
    "<flat illustration>": "flat illustration",
}


class XPaintingInput(BaseModel):
    model_config = ConfigDict(extra="ignore")

    prompt: str
    base_image_url: str
    mask_image_url: str

    @field_validator("prompt")
    @classmethod
    def _truncate(cls, value: str) -> str:
        return value[:PROMPT_MAX]


class XPaintingParameters(BaseModel):
    model_config = ConfigDict(extra="ignore")

    style: Style = "<auto>"
    size: str = "1024*1024"
    n: WireInt = Field(1, ge=1, le=4)
    seed: WireInt | None = Field(None, ge=0, le=2147483647)
    watermark: WireBool = False
    mask_color: list[list[int]] = Field(default_factory=list)

    @field_validator("mask_color")
    @classmethod
    def _rgb_triples(cls, value: list[list[int]]) -> list[list[int]]:
        for color in value:
            if len(color) != 3 or any(not 0 <= c <= 255 for c in color):
                raise ValueError("each mask_color entry must be an [R, G, B] list of 0-255 integers")
        return value


class WanxXPainting(CatalogModel):
    name = "wanx-x-painting"
    input_model = XPaintingInput
    parameters_model = XPaintingParameters
    # The SDK sends this model to text2image unless the caller passes task="image2image" (PROTOCOL §3.1).
    routes = frozenset({"image2image/image-synthesis", "text2image/image-synthesis"})
    summary = "通义万相 局部重绘: repaint the masked area from a prompt"

    def validate(self, body: dict[str, Any]) -> ValidRequest:
        inp = parse_contract(XPaintingInput, body.get("input"), "input")
        params = parse_contract(XPaintingParameters, body.get("parameters"), "parameters")
        if params.seed is None:
            params.seed = random_seed()
        request = {"input": inp.model_dump(), "parameters": params.model_dump()}
        urls = [("input.base_image_url", inp.base_image_url), ("input.mask_image_url", inp.mask_image_url)]
        return ValidRequest(function="", request=request, image_urls=urls)

    def capability_gap(self, request: ValidRequest, engines: Engines) -> EaselError | None:
        size = request.request["parameters"]["size"]
        if size not in SIZES:  # seed 001 answers this as a FAILED task, not a refused create
            return InvalidParameter(f"The size is not match the allowed size {list(SIZES)}, got {size!r}.")
        task, what = self.plan(request.request["input"]["prompt"])
        return engine_gap(engines, task, what)

    def engine_task(self, request: ValidRequest, engines: Engines) -> EngineTask | None:
        return self.plan(request.request["input"]["prompt"])[0]

    def plan(self, prompt: str) -> tuple[EngineTask, str]:
        if is_removal_prompt(prompt):
            return EngineTask.ERASE, f"{self.name} with a removal prompt"
        return EngineTask.FILL, f"{self.name} with a prompt that asks for new content"

    def run(self, request: dict[str, Any], ctx: RunContext) -> Outcome:
        inp = XPaintingInput.model_validate(request["input"])
        params = XPaintingParameters.model_validate(request["parameters"])
        base = ctx.load_image(inp.base_image_url, IMAGE_LIMITS, "base image").convert("RGB")
        mask = ctx.load_image(inp.mask_image_url, IMAGE_LIMITS, "mask image")
        area = edit_area(mask, base.size, params.mask_color)
        task, _ = self.plan(inp.prompt)
        prompt = inp.prompt
        if task == EngineTask.FILL and params.style != "<auto>":
            prompt = f"{prompt}, {STYLE_PROMPTS[params.style]}"
        images = ctx.run_engine(task, EngineRequest(image=base, prompt=prompt, mask=area, n=params.n,
                                                     seed=params.seed or 0))
        if task == EngineTask.ERASE and params.style != "<auto>":
            images = [_restyle(image, params.style, (params.seed or 0) + i, ctx) for i, image in enumerate(images)]
        width, height = (int(v) for v in params.size.split("*"))
        # when the output's aspect crops the picture, the heads stay inside, then as much of the edited area
        keep = [*framing.head_boxes(base), framing.mask_box(area)] if (width, height) != base.size else []
        keep = [box for box in keep if box is not None]
        results = []
        for index, image in enumerate(images):
            framed = framing.cover_crop(image, (width, height), keep)
            results.append(ctx.save_image(add_ai_mark(framed) if params.watermark else framed, index))
        return Outcome(results=results)

    def describe(self, engines: Engines) -> dict[str, Any]:
        entry = super().describe(engines)
        entry["prompts"] = {
            "removal (empty, 删除/去掉/remove …)": engine_status(engines, EngineTask.ERASE),
            "new content": engine_status(engines, EngineTask.FILL),
        }
        entry["styles"] = ("with a fill engine, part of the prompt; after a removal, applied to the result by the "
                           "stylize engine; <auto> keeps the photo's look")
        return entry


def _restyle(image: Image.Image, style: str, seed: int, ctx: RunContext) -> Image.Image:
    # an instruction both the CPU style table (it reads the style word) and an instruct_edit model understand
    request = EngineRequest(image=image, prompt=f"转换成{STYLE_WORDS[style]}风格", strength=0.8, seed=seed)
    return ctx.run_engine(EngineTask.STYLIZE, request)[0]

