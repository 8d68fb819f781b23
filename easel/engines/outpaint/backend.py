"""outpaint without a generative model: structure continuation plus texture synthesis (CPU)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from PIL import Image

from easel.engines.base import Backend, EngineContext, EngineRequest, EngineTask


class ClassicalOutpaintBackend(Backend):
    name = "classical-outpaint"
    tasks: ClassVar[frozenset[EngineTask]] = frozenset({EngineTask.OUTPAINT})

    def run(self, task: EngineTask, request: EngineRequest, ctx: EngineContext) -> list[Image.Image]:
        from easel.engines.outpaint import expand, scale_note

        rgb = np.asarray(request.image.convert("RGB"))
        scales = request.params["scales"]
        note = scale_note(*scales)
        if note:
            ctx.note(note)
        return [Image.fromarray(expand(rgb, *scales, seed=request.seed + i)) for i in range(request.n)]

    def describe(self) -> str:
        from easel.engines.outpaint import CREDIBLE_SCALE

        return (
            "structure + texture outpainting from the photo's edge band (CPU); continues the background, draws"
            f" nothing new, credible up to {CREDIBLE_SCALE}x per side"
        )
