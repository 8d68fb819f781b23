"""FLUX.1 Fill: `FluxFillPipeline` (FILL, ERASE, OUTPAINT) on a FLUX.1-Fill-dev folder.

Defaults: 28 steps, guidance 30 (the Fill model's distilled guidance), strength 1.0. FLUX has no negative
prompt, so ERASE relies on its neutral prompt alone. `cache = "first-block"` works: the backend opens the
cache context the pipeline itself does not. Batched across requests: `image` and `mask_image` lists
are one sample each.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Any

from easel.engines.diffusion.common import FILL_TASKS, DiffusionBackend, Entry, Job


class FluxFill(DiffusionBackend):
    name = "flux-fill"
    tasks = FILL_TASKS
    pipeline_class = "FluxFillPipeline"
    accepts = frozenset({"FluxFillPipeline"})
    components = ("scheduler", "vae", "text_encoder", "text_encoder_2", "tokenizer", "tokenizer_2", "transformer")
    default_steps = 28
    default_guidance = 30.0
    default_strength = 1.0
    batchable = True

    def _cache_scope(self) -> AbstractContextManager[Any]:
        # FluxFillPipeline calls its transformer outside any cache context; one context per call is right
        # because it has no separate unconditional pass
        return self.pipe.transformer.cache_context("cond") if self.config.cache else nullcontext()

    def call_kwargs(self, job: Job, entries: list[Entry]) -> dict[str, Any]:
        return {"image": [e.image for e in entries], "mask_image": [e.mask for e in entries],
                "strength": job.strength, "guidance_scale": job.guidance}
