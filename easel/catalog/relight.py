"""Relight (光影控制, seed 000): one task per entry of a submitted task_list.

Served only on the market API (/api/v1/relight/*), which validates and stores the inputs before
creating tasks; this module is the plan of engine calls for one task.

With a [relight] engine configured (ic-light), the task regenerates the picture relit: a cut-out (an image
with alpha; the mask wins over the alpha when both are sent) has no background to keep, so the prompt makes
one (IC-Light fc); an opaque RGB image with a mask keeps its own background (the mask's 0 area) and the
subject's light is matched to it and to the prompt (IC-Light fbc). Without one, the CPU relight re-shades the
subject and keeps (or, for a cut-out, builds) the background; scene content the prompt asks for is not drawn.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image

from easel.catalog.base import CatalogModel, RunContext, ValidRequest
from easel.engines.base import EngineRequest, EngineTask
from easel.engines.manager import Engines
from easel.errors import EngineUnavailable, InvalidImageResolution, InvalidParameter
from easel.inputs.decode import ImageLimits
from easel.tasks.store import Outcome

# seed 000 四.1: each side 400-4096 px, "JPG、JPEG、PNG等常用格式"
IMAGE_LIMITS = ImageLimits(min_side=400, max_side=4096, max_bytes=10 * 1024 * 1024)
MODEL_NAME = "relight"


def has_alpha(image: Image.Image) -> bool:
    """True when the image carries a transparency channel that actually marks something."""
    if image.mode not in ("RGBA", "LA", "PA") and not (image.mode == "P" and "transparency" in image.info):
        return False
    alpha = np.asarray(image.convert("RGBA").getchannel("A"))
    return bool(alpha.min() < 250)


def check_pair(image: Image.Image, mask: Image.Image | None) -> None:
    """The seed's rules for an image and its mask; raises with a message that says what to fix."""
    if mask is None and not has_alpha(image):
        raise InvalidParameter("mask is required when the image has no alpha channel (an RGB image).")
    if mask is not None and mask.size != image.size:
        raise InvalidImageResolution(
            f"The mask is {mask.width}x{mask.height} but the image is {image.width}x{image.height}; "
            "they must have the same resolution."
        )


def uses_engine(engines: Engines) -> bool:
    """True when the RELIGHT engine (IC-Light) serves relight tasks here, False for the CPU relight (nothing
    configured for it). A [relight] table that cannot work raises EngineUnavailable with its reason: a broken
    configuration is reported, never replaced by the CPU engine behind the user's back."""
    if engines.backend(EngineTask.RELIGHT) is None and EngineTask.RELIGHT not in engines.config.tables:
        return False
    problem = engines.problem(EngineTask.RELIGHT)
    if problem:
        raise EngineUnavailable(f"relight: the configured relight engine cannot run: {problem}.")
    return True


def engine_request(image: Image.Image, mask: Image.Image | None, request: dict[str, Any]) -> EngineRequest:
    """The RELIGHT engine call for one task: the subject from the mask (else the alpha); the image's own
    background to keep when it has one (opaque RGB + mask), none for a cut-out (the prompt makes it)."""
    from easel.engines.relight.matte import subject_matte

    rgba = image.convert("RGBA")
    cutout = has_alpha(image)
    alpha = np.asarray(rgba.getchannel("A")) if cutout else None
    mask_array = np.asarray(mask.convert("L")) if mask is not None else None
    try:
        matte = subject_matte((image.height, image.width), mask_array, alpha)
    except ValueError as exc:  # e.g. a mask with no subject in it
        raise InvalidParameter(f"The image and mask cannot be relit: {exc}.") from None
    rgb = rgba.convert("RGB")
    return EngineRequest(
        image=rgb, mask=matte >= 0.5, prompt=request["positive_prompt"],
        negative_prompt=request.get("negative_prompt") or "", seed=request["seed"], steps=request["steps"],
        guidance=request["guidance_scale"], params={} if cutout else {"background": rgb})


class Relight(CatalogModel):
    name = MODEL_NAME
    routes = frozenset()  # not reachable through DashScope paths
    summary = (
        "光影控制 relighting (market API /api/v1/relight/submit|query): the subject relit as the prompt describes; "
        "with IC-Light configured ([relight] in engines.toml) the background too, else the CPU relight"
    )

    def validate(self, body: dict[str, Any]) -> ValidRequest:
        raise InvalidParameter("relight is served on /api/v1/relight/submit, not on DashScope service paths.")

    def run(self, request: dict[str, Any], ctx: RunContext) -> Outcome:
        from easel.engines.relight import relight

        image = ctx.load_image(request["image"], IMAGE_LIMITS, "image")
        mask = ctx.load_image(request["mask"], IMAGE_LIMITS, "mask") if request.get("mask") else None
        check_pair(image, mask)
        if request.get("generative"):
            [result] = ctx.run_engine(EngineTask.RELIGHT, engine_request(image, mask, request))
            if result.size != image.size:
                result = result.resize(image.size, Image.Resampling.LANCZOS)
            return Outcome(results=[ctx.save_image(result, 0)], extra_output={"notes": []})
        if request.get("negative_prompt"):
            ctx.note("negative_prompt has no effect on the CPU relight: it generates no content to steer away from.")
        rgba = image.convert("RGBA")
        rgb = np.asarray(rgba.convert("RGB"))
        mask_array = np.asarray(mask.convert("L")) if mask is not None else None
        # A cut-out (RGBA) gets a studio backdrop; its matte is the mask when one is given (the seed:
        # "若用户上传mask, 则以用户上传为准"), else its alpha. An RGB image keeps its background.
        cutout = has_alpha(image)
        matte = (mask_array if mask_array is not None else np.asarray(rgba.getchannel("A"))) if cutout else None
        try:
            result = relight(
                rgb,
                None if cutout else mask_array,
                request["positive_prompt"],
                guidance_scale=request["guidance_scale"],
                steps=request["steps"],
                seed=request["seed"],
                alpha=matte,
            )
        except ValueError as exc:  # e.g. a mask with no subject in it
            raise InvalidParameter(f"The image and mask cannot be relit: {exc}.") from None
        saved = ctx.save_image(result.image, 0)
        return Outcome(results=[saved], extra_output={"notes": list(result.notes)})

    def describe(self, engines: Engines) -> dict[str, Any]:
        entry = super().describe(engines)
        entry["api"] = ["/api/v1/relight/submit", "/api/v1/relight/query"]
        try:
            generative = uses_engine(engines)
        except EngineUnavailable as exc:
            entry["inputs"] = {"every request": f"not available: {exc.message}"}
            return entry
        if generative:
            engine = engines.describe(EngineTask.RELIGHT)
            entry["inputs"] = {
                "RGBA cut-out (mask optional)": f"{engine}; IC-Light fc: the prompt makes the background",
                "RGB image + mask": f"{engine}; IC-Light fbc: the image's own background kept, the light matched",
            }
            return entry
        entry["inputs"] = {
            "RGBA cut-out or RGB image + mask": "available: CPU relight (the subject re-shaded by the prompt's light)",
        }
        entry["not_available"] = ["new background content generated from the prompt: configure [relight] "
                                  "backend = \"ic-light\" in engines.toml"]
        return entry
