"""Qwen-Image-Edit masked fill: `QwenImageEditInpaintPipeline` (FILL, ERASE, OUTPAINT).

Loads a Qwen-Image-Edit folder (`QwenImageEditPipeline`, the weights it ships as) or an inpaint-saved one.
Defaults: 40 steps, true-CFG 4.0 (negative " " unless given; ERASE sends its removal negative), strength 1.0.
The pipeline ignores `height`/`width` and generates at its condition area, which the backend sets to the work
area (see `qwenimage_edit`). Not batched (image lists are not per sample here); `n` images run as one call.
Seeds: the same request repeats exactly, but image i > 0 of an n-image request is not the image a single
request with seed + i gives, because the pipeline draws its VAE sample from the first generator only.
"""

from __future__ import annotations

from typing import Any

from easel.engines.diffusion.common import FILL_TASKS, Entry, Job
from easel.engines.diffusion.qwenimage_edit import QwenBase


class QwenImageEditInpaint(QwenBase):
    name = "qwen-image-edit-inpaint"
    tasks = FILL_TASKS
    pipeline_class = "QwenImageEditInpaintPipeline"
    accepts = frozenset({"QwenImageEditPipeline", "QwenImageEditInpaintPipeline"})
    default_strength = 1.0

    def call_kwargs(self, job: Job, entries: list[Entry]) -> dict[str, Any]:
        return {"image": entries[0].image, "mask_image": entries[0].mask, "strength": job.strength,
                **self._qwen_kwargs(job, entries)}
