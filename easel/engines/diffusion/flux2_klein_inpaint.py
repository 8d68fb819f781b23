"""FLUX.2 [klein] masked fill: `Flux2KleinInpaintPipeline` (FILL, ERASE, OUTPAINT).

It loads the same folders as the edit backend (a `Flux2KleinPipeline` folder is what the klein releases ship;
the inpaint class reuses its components and masks the latents), so either model_index class is accepted.
Defaults: steps 4 on a distilled folder, else 50; strength 1.0 (the masked area is repainted from noise);
guidance 4.0 (ignored by distilled models). No `image_reference` is sent: it would show the model what ERASE
must remove, and a list of references is shared by every prompt, so batched and single calls would differ.

Batched across requests: `image` and `mask_image` lists are one sample each.
"""

from __future__ import annotations

from typing import Any

from easel.engines.diffusion.common import FILL_TASKS, Entry, Job
from easel.engines.diffusion.flux2_klein_edit import Flux2KleinBase


class Flux2KleinInpaint(Flux2KleinBase):
    name = "flux2-klein-inpaint"
    tasks = FILL_TASKS
    pipeline_class = "Flux2KleinInpaintPipeline"
    default_steps = 4
    default_strength = 1.0
    batchable = True

    def call_kwargs(self, job: Job, entries: list[Entry]) -> dict[str, Any]:
        return {"image": [e.image for e in entries], "mask_image": [e.mask for e in entries],
                "strength": job.strength, **self._klein_kwargs(job)}
