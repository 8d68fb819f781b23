"""SDXL inpainting: `StableDiffusionXLInpaintPipeline` (FILL, ERASE, OUTPAINT).

Best on an inpainting checkpoint (9-channel UNet, e.g. stable-diffusion-xl-1.0-inpainting-0.1); a base SDXL
folder (`StableDiffusionXLPipeline`, 4-channel UNet) also loads, and then inpaints by latent masking only.
Defaults: 30 steps, guidance 7.5, strength 0.99 (1.0 would discard the image latents entirely). Sides are
multiples of 8. Batched across requests: `image`, `mask_image`, `prompt` and `negative_prompt` lists are one
sample each. First-block cache hooks transformer blocks, so `cache` is refused here (check() says so).
"""

from __future__ import annotations

from typing import Any

from easel.engines.diffusion.common import FILL_TASKS, DiffusionBackend, Entry, Job


class SdxlInpaint(DiffusionBackend):
    name = "sdxl-inpaint"
    tasks = FILL_TASKS
    pipeline_class = "StableDiffusionXLInpaintPipeline"
    accepts = frozenset({"StableDiffusionXLInpaintPipeline", "StableDiffusionXLPipeline"})
    components = ("scheduler", "vae", "text_encoder", "text_encoder_2", "tokenizer", "tokenizer_2", "unet")
    denoiser = "unet"
    default_steps = 30
    default_guidance = 7.5
    default_strength = 0.99
    batchable = True
    no_cache_reason = "its denoiser is a UNet, and diffusers' first-block cache hooks transformer blocks"

    def _multiple(self) -> int:
        # the pipeline checks divisibility by 8 whatever its VAE's factor (a small VAE has less than 8)
        return max(8, int(self.pipe.vae_scale_factor))

    def call_kwargs(self, job: Job, entries: list[Entry]) -> dict[str, Any]:
        return {"image": [e.image for e in entries], "mask_image": [e.mask for e in entries],
                "negative_prompt": [e.job.negative for e in entries], "strength": job.strength,
                "guidance_scale": job.guidance}
