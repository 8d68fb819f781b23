"""erase with a user-supplied LaMa or MI-GAN ONNX file ([erase] weights, or EASEL_INPAINT_ONNX)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np
from PIL import Image

from easel.engines.base import Backend, EngineContext, EngineRequest, EngineTask
from easel.errors import EngineUnavailable


class OnnxInpaintBackend(Backend):
    name = "onnx-inpaint"
    tasks: ClassVar[frozenset[EngineTask]] = frozenset({EngineTask.ERASE})

    _model = None

    def check(self) -> str | None:
        if not self.config.weights:
            return "onnx-inpaint needs weights = the path of a LaMa or MI-GAN .onnx file"
        if not Path(self.config.weights).expanduser().is_file():
            return f"the ONNX inpainting model {self.config.weights} does not exist"
        return None

    def load(self) -> None:
        from easel.engines.inpaint import OnnxInpainter

        problem = self.check()
        if problem:
            raise EngineUnavailable(problem + ".")
        try:
            self._model = OnnxInpainter(Path(self.config.weights or "").expanduser())
        except ValueError as exc:
            raise EngineUnavailable(f"The ONNX inpainting model {self.config.weights} cannot be used: {exc}") from None

    def unload(self) -> None:
        self._model = None

    def run(self, task: EngineTask, request: EngineRequest, ctx: EngineContext) -> list[Image.Image]:
        if self._model is None:
            self.load()
        assert self._model is not None and request.mask is not None
        rgb = np.asarray(request.image.convert("RGB"))
        result = Image.fromarray(self._model.inpaint(rgb, request.mask.astype(np.uint8) * 255))
        return [result] * request.n

    def describe(self) -> str:
        return f"ONNX inpainting model {self.config.weights}"
