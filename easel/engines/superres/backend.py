"""upscale on Real-ESRGAN (CPU); the model comes from [upscale] model or EASEL_SUPERRES_MODEL.

With the default model (x4plus), images that look like line art or flat graphics go to x4plus-anime
instead (lineart.py): Real-ESRGAN's illustration model, 6 RRDB blocks instead of 23 (2-3x faster end
to end). It kept outlines and fills cleanest in bench/results/superres_speed.md; animevideov3 is
faster still, but it blurred thin lines and scored below x4plus. `[upscale] extra =
{route_line_art = false}` turns the routing off. Each result notes which model ran and why.
`[upscale] extra = {runtime = "ncnn"}` (or "torch") overrides the runtime default_runtime() picks, e.g.
to compare the two or to keep torch's memory out of a worker.
"""

from __future__ import annotations

import importlib.util
from typing import ClassVar

import numpy as np
from PIL import Image

from easel.engines.base import Backend, EngineContext, EngineRequest, EngineTask

PHOTO_MODEL = "x4plus"
LINE_ART_MODEL = "x4plus-anime"


def choose_model(rgb: np.ndarray, configured: str, route_line_art: bool = True) -> tuple[str, str]:
    """The model to run on this image, and a note that says which one ran and why."""
    from easel.engines.superres.lineart import classify

    if configured != PHOTO_MODEL or not route_line_art:
        return configured, f"Upscaled with Real-ESRGAN {configured}, the configured model."
    verdict = classify(rgb)
    if verdict.line_art:
        return LINE_ART_MODEL, (
            f"Upscaled with Real-ESRGAN {LINE_ART_MODEL} instead of {PHOTO_MODEL}: the image looks like line art or "
            f"flat graphics ({verdict.describe()}); {LINE_ART_MODEL}, the illustration model, draws those cleaner "
            "and 2-3x faster."
        )
    return PHOTO_MODEL, f"Upscaled with Real-ESRGAN {PHOTO_MODEL}, the photo model ({verdict.describe()})."


class RealEsrganBackend(Backend):
    name = "realesrgan"
    tasks: ClassVar[frozenset[EngineTask]] = frozenset({EngineTask.UPSCALE})

    @property
    def model(self) -> str:
        return self.config.model or PHOTO_MODEL

    @property
    def route_line_art(self) -> bool:
        return bool(self.config.extra.get("route_line_art", True))

    @property
    def runtime(self) -> str:
        from easel.engines.superres.realesrgan import default_runtime

        return str(self.config.extra.get("runtime") or default_runtime())

    def check(self) -> str | None:
        from easel.engines.superres import SUPERRES_MODELS
        from easel.engines.superres.realesrgan import RUNTIMES

        if self.model not in SUPERRES_MODELS:
            return f"[upscale] model {self.model!r} is not a Real-ESRGAN model; use one of {', '.join(SUPERRES_MODELS)}"
        if self.runtime not in RUNTIMES:
            return f"[upscale] runtime {self.runtime!r} is not one of {', '.join(RUNTIMES)}"
        if self.runtime == "torch" and importlib.util.find_spec("torch") is None:
            return "[upscale] runtime \"torch\" needs PyTorch: install Easel's `diffusion` extra, or use \"ncnn\""
        return None

    def run(self, task: EngineTask, request: EngineRequest, ctx: EngineContext) -> list[Image.Image]:
        """Deterministic: the n images are one image."""
        from easel.engines.superres import upscale

        factor = float(request.params.get("factor", 2.0))
        rgb = np.asarray(request.image.convert("RGB"))
        model, why = choose_model(rgb, self.model, self.route_line_art)
        ctx.note(why)
        result = Image.fromarray(upscale(rgb, factor, model=model, runtime=self.runtime))
        return [result] * request.n

    def describe(self) -> str:
        routing = f", line art to {LINE_ART_MODEL}" if self.model == PHOTO_MODEL and self.route_line_art else ""
        return f"Real-ESRGAN {self.model}{routing} ({self.runtime}, CPU)"
