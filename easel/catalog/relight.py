"""Relight (光影控制, seed 000): one task per entry of a submitted task_list.

Served only on the market API (/api/v1/relight/*), which validates and stores the inputs before
creating tasks; this module is the plan of engine calls for one task.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image

from easel.catalog.base import CatalogModel, RunContext, ValidRequest
from easel.engines.manager import Engines
from easel.errors import InvalidImageResolution, InvalidParameter
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


class Relight(CatalogModel):
    name = MODEL_NAME
    routes = frozenset()  # not reachable through DashScope paths
    summary = (
        "光影控制 relighting (market API /api/v1/relight/submit|query): subject re-shaded with the light the "
        "prompt describes; new background content from text needs a generative engine (IC-Light), not configured"
    )

    def validate(self, body: dict[str, Any]) -> ValidRequest:
        raise InvalidParameter("relight is served on /api/v1/relight/submit, not on DashScope service paths.")

    def run(self, request: dict[str, Any], ctx: RunContext) -> Outcome:
        from easel.engines.relight import relight

        image = ctx.load_image(request["image"], IMAGE_LIMITS, "image")
        mask = ctx.load_image(request["mask"], IMAGE_LIMITS, "mask") if request.get("mask") else None
        check_pair(image, mask)
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
        entry["not_available"] = ["new background content generated from the prompt (needs IC-Light)"]
        return entry
