"""Qwen-Image-Edit-2509/2511 ("Plus") instruction edit: `QwenImageEditPlusPipeline` (INSTRUCT_EDIT, STYLIZE).

Defaults as qwen-image-edit: 40 steps, true-CFG 4.0 with negative " ", strength mapped to the CFG scale. The
work area replaces the pipeline's fixed 1024^2 VAE area and caps its 384^2 vision-prompt area (see
`qwenimage_edit`). Not batched: the pipeline refuses more than one prompt per call, and an image list means
several references for one prompt; a request's `n` images run as one call (`num_images_per_prompt`).
"""

from __future__ import annotations

from typing import Any

from easel.engines.diffusion.common import EDIT_TASKS, Entry, Job
from easel.engines.diffusion.qwenimage_edit import QwenBase


class QwenImageEditPlus(QwenBase):
    name = "qwen-image-edit-plus"
    tasks = EDIT_TASKS
    pipeline_class = "QwenImageEditPlusPipeline"
    accepts = frozenset({"QwenImageEditPlusPipeline"})

    def call_kwargs(self, job: Job, entries: list[Entry]) -> dict[str, Any]:
        return {"image": [entries[0].image], **self._qwen_kwargs(job, entries)}
