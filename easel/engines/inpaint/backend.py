"""erase by coherence transport: the weight-free default for removals (edge-aware, deterministic)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from PIL import Image

from easel.engines.base import Backend, EngineContext, EngineRequest, EngineTask


class CoherenceBackend(Backend):
    name = "coherence"
    tasks: ClassVar[frozenset[EngineTask]] = frozenset({EngineTask.ERASE})

    def run(self, task: EngineTask, request: EngineRequest, ctx: EngineContext) -> list[Image.Image]:
        from easel.engines.inpaint import inpaint

        rgb = np.asarray(request.image.convert("RGB"))
        hole = _hole(request)
        return [Image.fromarray(inpaint(rgb, hole, seed=request.seed + i)) for i in range(request.n)]

    def describe(self) -> str:
        return "coherence-transport inpainting (CPU)"


def _hole(request: EngineRequest) -> np.ndarray:
    if request.mask is None:
        raise ValueError("erase needs a mask")
    return request.mask.astype(np.uint8) * 255
