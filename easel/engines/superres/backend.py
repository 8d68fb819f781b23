"""upscale on Real-ESRGAN through ncnn (CPU); the model comes from [upscale] model or EASEL_SUPERRES_MODEL."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from PIL import Image

from easel.engines.base import Backend, EngineContext, EngineRequest, EngineTask


class RealEsrganBackend(Backend):
    name = "realesrgan"
    tasks: ClassVar[frozenset[EngineTask]] = frozenset({EngineTask.UPSCALE})

    @property
    def model(self) -> str:
        return self.config.model or "x4plus"

    def check(self) -> str | None:
        from easel.engines.superres import SUPERRES_MODELS

        if self.model not in SUPERRES_MODELS:
            return f"[upscale] model {self.model!r} is not a Real-ESRGAN model; use one of {', '.join(SUPERRES_MODELS)}"
        return None

    def run(self, task: EngineTask, request: EngineRequest, ctx: EngineContext) -> list[Image.Image]:
        """Deterministic: the n images are one image."""
        from easel.engines.superres import upscale

        factor = float(request.params.get("factor", 2.0))
        result = Image.fromarray(upscale(np.asarray(request.image.convert("RGB")), factor, model=self.model))
        return [result] * request.n

    def describe(self) -> str:
        return f"Real-ESRGAN {self.model} (ncnn, CPU)"
