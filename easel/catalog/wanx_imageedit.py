"""wanx2.1-imageedit (seed 002): one model, ten editing functions, asynchronous.

The contract below is the seed's parameter table: ranges, defaults and which functions need a mask.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Any

import numpy as np
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field, field_validator

from easel.catalog.base import CatalogModel, RunContext, ValidRequest, parse_contract
from easel.catalog.capabilities import engine_gap, engine_status, is_removal_prompt
from easel.catalog.masks import edit_area
from easel.engines.base import EngineRequest, EngineTask
from easel.engines.lines import extract_lines, sketch_lines
from easel.engines.manager import Engines
from easel.engines.watermark import add_ai_mark
from easel.errors import EaselError, InvalidImageResolution, InvalidParameter
from easel.ids import random_seed
from easel.inputs.decode import ImageLimits
from easel.tasks.store import Outcome
from easel.wire_types import WireBool, WireFloat, WireInt

IMAGE_LIMITS = ImageLimits(min_side=512, max_side=4096, max_bytes=10 * 1024 * 1024)
# Our own bound, not the seed's: 4096 px x4 would be a 16384-px (800 MB) image.
MAX_OUTPUT_SIDE = 8192


class Function(StrEnum):
    STYLIZATION_ALL = "stylization_all"
    STYLIZATION_LOCAL = "stylization_local"
    DESCRIPTION_EDIT = "description_edit"
    DESCRIPTION_EDIT_WITH_MASK = "description_edit_with_mask"
    REMOVE_WATERMARK = "remove_watermark"
    EXPAND = "expand"
    SUPER_RESOLUTION = "super_resolution"
    COLORIZATION = "colorization"
    DOODLE = "doodle"
    CONTROL_CARTOON_FEATURE = "control_cartoon_feature"


NEEDS_MASK = frozenset({Function.DESCRIPTION_EDIT_WITH_MASK})


class ImageEditInput(BaseModel):
    model_config = ConfigDict(extra="ignore")

    function: Function
    # Required by the seed; may be empty (e.g. removing a small object with a mask).
    prompt: str = Field(max_length=800)
    base_image_url: str
    mask_image_url: str | None = None


class ImageEditParameters(BaseModel):
    model_config = ConfigDict(extra="ignore")

    n: WireInt = Field(1, ge=1, le=4)
    seed: WireInt | None = Field(None, ge=0, le=2147483647)
    watermark: WireBool = False
    strength: WireFloat = Field(0.5, ge=0.0, le=1.0)
    top_scale: WireFloat = Field(1.0, ge=1.0, le=2.0)
    bottom_scale: WireFloat = Field(1.0, ge=1.0, le=2.0)
    left_scale: WireFloat = Field(1.0, ge=1.0, le=2.0)
    right_scale: WireFloat = Field(1.0, ge=1.0, le=2.0)
    # The seed documents integers 1-4; fractional factors are accepted too (network, then resize).
    upscale_factor: WireFloat = Field(1.0, ge=1.0, le=4.0)
    is_sketch: WireBool = False

    @field_validator("n", "seed", mode="before")
    @classmethod
    def _no_fractional_counts(cls, value: Any) -> Any:
        if isinstance(value, float) and not value.is_integer():
            raise ValueError("must be a whole number")
        return value


class WanxImageEdit(CatalogModel):
    name = "wanx2.1-imageedit"
    input_model = ImageEditInput
    parameters_model = ImageEditParameters
    routes = frozenset({"image2image/image-synthesis", "text2image/image-synthesis"})
    summary = "通义万相 general image editing: ten functions selected by input.function"

    def validate(self, body: dict[str, Any]) -> ValidRequest:
        inp = parse_contract(ImageEditInput, body.get("input"), "input")
        params = parse_contract(ImageEditParameters, body.get("parameters"), "parameters")
        if params.seed is None:  # fixed now, so a rerun after a crash gives the same images
            params.seed = random_seed()
        if inp.function in NEEDS_MASK and not inp.mask_image_url:
            raise InvalidParameter(f"input.mask_image_url is required for function {inp.function.value}.")
        urls = [("input.base_image_url", inp.base_image_url)]
        if inp.mask_image_url:
            urls.append(("input.mask_image_url", inp.mask_image_url))
        request = {"input": inp.model_dump(mode="json"), "parameters": params.model_dump(mode="json")}
        return ValidRequest(function=inp.function.value, request=request, image_urls=urls)

    def capability_gap(self, request: ValidRequest, engines: Engines) -> EaselError | None:
        task, what = engine_plan(request.function, request.request["input"]["prompt"])
        return engine_gap(engines, task, what)

    def engine_task(self, request: ValidRequest, engines: Engines) -> EngineTask | None:
        return engine_plan(request.function, request.request["input"]["prompt"])[0]

    def run(self, request: dict[str, Any], ctx: RunContext) -> Outcome:
        inp = ImageEditInput.model_validate(request["input"])
        params = ImageEditParameters.model_validate(request["parameters"])
        images = HANDLERS[inp.function.value](inp, params, ctx)
        # every image its own entry and link, also where a deterministic engine repeats one image
        results = [ctx.save_image(add_ai_mark(image) if params.watermark else image, index)
                   for index, image in enumerate(images)]
        return Outcome(results=results)

    def describe(self, engines: Engines) -> dict[str, Any]:
        entry = super().describe(engines)
        functions: dict[str, str] = {}
        for function in Function:
            if function == Function.DESCRIPTION_EDIT_WITH_MASK:
                functions[function.value] = (
                    f"removal (empty prompt, or 删除/去掉/remove …): {engine_status(engines, EngineTask.ERASE)}; "
                    f"new content: {engine_status(engines, EngineTask.FILL)}")
            else:
                functions[function.value] = engine_status(engines, engine_plan(function.value, "x")[0])
        entry["functions"] = functions
        return entry


def engine_plan(function: str, prompt: str) -> tuple[EngineTask, str]:
    """The engine task a function needs, and how to name the request in a refusal."""
    if function == Function.DESCRIPTION_EDIT_WITH_MASK:
        if is_removal_prompt(prompt):
            return EngineTask.ERASE, f"{function} with a removal prompt"
        return EngineTask.FILL, f"{function} with a prompt that asks for new content"
    return FUNCTION_TASKS[Function(function)], f"function {function}"


def _super_resolution(inp: ImageEditInput, params: ImageEditParameters, ctx: RunContext) -> list[Image.Image]:
    """Deterministic on the CPU engine: `seed` changes nothing, and the n images are equal."""
    base = ctx.load_image(inp.base_image_url, IMAGE_LIMITS, "base image")
    factor = params.upscale_factor
    out_w, out_h = round(base.width * factor), round(base.height * factor)
    if max(out_w, out_h) > MAX_OUTPUT_SIDE:
        raise InvalidImageResolution(
            f"super_resolution would make a {out_w}x{out_h} image; the largest output is "
            f"{MAX_OUTPUT_SIDE} px per side. Use a smaller upscale_factor or a smaller image."
        )
    has_alpha = base.mode in ("RGBA", "LA", "PA") or (base.mode == "P" and "transparency" in base.info)
    request = EngineRequest(image=base.convert("RGB"), n=params.n, seed=params.seed or 0,
                            params={"factor": factor})
    results = ctx.run_engine(EngineTask.UPSCALE, request)
    if has_alpha:
        alpha = base.convert("RGBA").getchannel("A").resize(results[0].size, Image.Resampling.LANCZOS)
        results = [_with_alpha(result, alpha) for result in results]
    return results


def _with_alpha(image: Image.Image, alpha: Image.Image) -> Image.Image:
    out = image.copy()
    out.putalpha(alpha)
    return out


def _base(inp: ImageEditInput, ctx: RunContext) -> Image.Image:
    return ctx.load_image(inp.base_image_url, IMAGE_LIMITS, "base image").convert("RGB")


def _request(inp: ImageEditInput, params: ImageEditParameters, image: Image.Image, /, **extra: Any) -> EngineRequest:
    return EngineRequest(image=image, prompt=inp.prompt, n=params.n, seed=params.seed or 0, **extra)


def eraser(ctx: RunContext) -> Callable[[np.ndarray, np.ndarray, int], np.ndarray]:
    """(rgb, mask, seed) -> rgb through the deployment's erase engine (text removal uses it twice)."""
    def erase(rgb: np.ndarray, mask: np.ndarray, seed: int) -> np.ndarray:
        request = EngineRequest(image=Image.fromarray(rgb), mask=mask > 0, seed=seed)
        return np.asarray(ctx.run_engine(EngineTask.ERASE, request)[0].convert("RGB"))
    return erase


def _remove_watermark(inp: ImageEditInput, params: ImageEditParameters, ctx: RunContext) -> list[Image.Image]:
    """PP-OCRv4 finds the text (the prompt narrows it to a script, or to watermarks), the erase engine fills it."""
    from easel.engines.text import remove_text

    rgb = np.asarray(_base(inp, ctx))
    erase = eraser(ctx)
    results = [remove_text(rgb, inp.prompt, seed=seed, erase=erase) for seed in _seeds(params)]
    if not any(mask.any() for _, mask in results):
        ctx.note("No text or watermark was found, so the image is unchanged. Marks without letters (pure "
                 "logos) are not detected on CPU: mark them with description_edit_with_mask instead.")
    return [Image.fromarray(image) for image, _ in results]


def _edit_with_mask(inp: ImageEditInput, params: ImageEditParameters, ctx: RunContext) -> list[Image.Image]:
    """The white mask area is erased (empty or removal prompt) or repainted from the prompt."""
    base = _base(inp, ctx)
    mask = ctx.load_image(inp.mask_image_url or "", IMAGE_LIMITS, "mask image")
    area = edit_area(mask, base.size)
    task, _ = engine_plan(inp.function.value, inp.prompt)
    return ctx.run_engine(task, _request(inp, params, base, mask=area))


def _expand(inp: ImageEditInput, params: ImageEditParameters, ctx: RunContext) -> list[Image.Image]:
    """Outpainting: the canvas grows per side by the scales; the new border continues the image."""
    base = _base(inp, ctx)
    w, h = base.size
    out_w = round(w * (params.left_scale + params.right_scale - 1))
    out_h = round(h * (params.top_scale + params.bottom_scale - 1))
    if max(out_w, out_h) > MAX_OUTPUT_SIDE:
        raise InvalidImageResolution(
            f"expand would make a {out_w}x{out_h} image; the largest output is {MAX_OUTPUT_SIDE} px per side."
        )
    scales = (params.top_scale, params.bottom_scale, params.left_scale, params.right_scale)
    return ctx.run_engine(EngineTask.OUTPAINT, _request(inp, params, base, params={"scales": scales}))


def _restyle(task: EngineTask) -> Handler:
    """stylization_all / stylization_local / description_edit: the prompt is the instruction
    ("转换成法国绘本风格", "把房子变成冰雕风格", "给小狗添加一顶帽子"); `strength` how far to move."""
    def handler(inp: ImageEditInput, params: ImageEditParameters, ctx: RunContext) -> list[Image.Image]:
        return ctx.run_engine(task, _request(inp, params, _base(inp, ctx), strength=params.strength))
    return handler


def _colorization(inp: ImageEditInput, params: ImageEditParameters, ctx: RunContext) -> list[Image.Image]:
    """The colour engine (DDColor) predicts colours from the grey image alone: the prompt cannot steer it,
    and the n images are equal (a deterministic model)."""
    if inp.prompt.strip():
        ctx.note("The colorization engine chooses colours from the image alone; the colour description in the "
                 "prompt was not used.")
    return ctx.run_engine(EngineTask.COLORIZE, _request(inp, params, _base(inp, ctx)))


def _cartoon_scene(inp: ImageEditInput, params: ImageEditParameters, ctx: RunContext) -> list[Image.Image]:
    """control_cartoon_feature: the base image is the cartoon character to keep, the prompt the new scene and
    what the character does there ("卡通形象小心翼翼地探出头")."""
    return ctx.run_engine(EngineTask.REFERENCE_TO_IMAGE, _request(inp, params, _base(inp, ctx)))


def _doodle(inp: ImageEditInput, params: ImageEditParameters, ctx: RunContext) -> list[Image.Image]:
    """线稿生图: a new picture from the prompt, following a line map of the base image at its size.
    is_sketch = true: the base already is a line drawing (dark on light is inverted to white-on-black);
    false: its lines are extracted first (soft edges, easel/engines/lines.py)."""
    base = ctx.load_image(inp.base_image_url, IMAGE_LIMITS, "base image")
    control = sketch_lines(base) if params.is_sketch else extract_lines(base)
    request = _request(inp, params, base.convert("RGB"), size=base.size,
                       params={"control": control, "is_sketch": params.is_sketch})
    return ctx.run_engine(EngineTask.SKETCH_TO_IMAGE, request)


def _seeds(params: ImageEditParameters) -> list[int]:
    return [(params.seed or 0) + i for i in range(params.n)]


Handler = Callable[[ImageEditInput, ImageEditParameters, RunContext], list[Image.Image]]

FUNCTION_TASKS = {
    Function.SUPER_RESOLUTION: EngineTask.UPSCALE,
    Function.REMOVE_WATERMARK: EngineTask.ERASE,
    Function.DESCRIPTION_EDIT_WITH_MASK: EngineTask.FILL,
    Function.EXPAND: EngineTask.OUTPAINT,
    Function.STYLIZATION_ALL: EngineTask.STYLIZE,
    Function.STYLIZATION_LOCAL: EngineTask.INSTRUCT_EDIT,
    Function.DESCRIPTION_EDIT: EngineTask.INSTRUCT_EDIT,
    Function.COLORIZATION: EngineTask.COLORIZE,
    Function.DOODLE: EngineTask.SKETCH_TO_IMAGE,
    Function.CONTROL_CARTOON_FEATURE: EngineTask.REFERENCE_TO_IMAGE,
}

HANDLERS: dict[str, Handler] = {
    Function.SUPER_RESOLUTION.value: _super_resolution,
    Function.REMOVE_WATERMARK.value: _remove_watermark,
    Function.DESCRIPTION_EDIT_WITH_MASK.value: _edit_with_mask,
    Function.EXPAND.value: _expand,
    Function.STYLIZATION_ALL.value: _restyle(EngineTask.STYLIZE),
    Function.STYLIZATION_LOCAL.value: _restyle(EngineTask.INSTRUCT_EDIT),
    Function.DESCRIPTION_EDIT.value: _restyle(EngineTask.INSTRUCT_EDIT),
    Function.COLORIZATION.value: _colorization,
    Function.DOODLE.value: _doodle,
    Function.CONTROL_CARTOON_FEATURE.value: _cartoon_scene,
}
