"""Qwen-Image with a ControlNet: `QwenImageControlNetPipeline` (SKETCH_TO_IMAGE, BACKGROUND_SCENE with a line map).

`weights` is a Qwen-Image text-to-image folder (`QwenImagePipeline`); `controlnet` a `QwenImageControlNetModel`
folder that takes a line/edge map (e.g. InstantX/Qwen-Image-ControlNet-Union: canny, soft edge, depth, pose).

BACKGROUND_SCENE: the picture is generated from the prompt and the line map (which outlines the subject), and
the subject's pixels are then put back exactly (the common masked compositing, its soft edge grown into the
generated part only). The model does not see the subject's colours, only its outline in the lines, and it
cannot start from the canvas: a request with a strength below 1 (image-to-image) is refused.
diffusers' `QwenImageControlNetInpaintPipeline` is not used: its ControlNet input is the masked image itself
(the inpainting ControlNet, `extra_condition_channels` = 1), so it cannot follow a line map at the same time;
such a ControlNet is refused by check().

Settings: `extra.controlnet_scale` (0..2, default 1.0), the ControlNet conditioning scale. Defaults: 30 steps,
true-CFG scale 4.0 with the negative prompt " " when the request gives none (guidance <= 1 turns CFG off).
Sides are multiples of 16 (VAE factor 8 x 2x2 latent packing). Not batched across requests; a request's `n`
images run as one call, image i from generator seed + i.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from easel.engines.base import EngineRequest, EngineTask
from easel.engines.diffusion.common import Entry, Job
from easel.engines.diffusion.controlnet import ControlNetBackend, read_config


class QwenImageControlNet(ControlNetBackend):
    name = "qwen-image-controlnet"
    tasks = frozenset({EngineTask.SKETCH_TO_IMAGE, EngineTask.BACKGROUND_SCENE})
    pipeline_class = "QwenImageControlNetPipeline"
    accepts = frozenset({"QwenImagePipeline", "QwenImageControlNetPipeline"})
    components = ("scheduler", "vae", "text_encoder", "tokenizer", "transformer")
    default_steps = 30
    default_guidance = 4.0
    controlnet_classes = frozenset({"QwenImageControlNetModel"})
    matching_fields = (("in_channels", "packed latent channels"), ("patch_size", "patch size"),
                       ("joint_attention_dim", "text embedding width"), ("num_attention_heads", "attention heads"),
                       ("attention_head_dim", "attention head width"))

    def check(self) -> str | None:
        reason = super().check()
        if reason is None:
            assert self.controlnet_path is not None
            config = read_config(self.controlnet_path)
            if isinstance(config, dict) and config.get("extra_condition_channels"):
                reason = (f"{self.name}: the ControlNet at {self.controlnet_path} is an inpainting ControlNet (its "
                          "input is the masked image, extra_condition_channels = "
                          f"{config['extra_condition_channels']}); this backend follows a line map and needs a "
                          "line/edge ControlNet such as InstantX/Qwen-Image-ControlNet-Union.")
        return reason

    def refuses(self, task: EngineTask, request: EngineRequest) -> str | None:
        refusal = super().refuses(task, request)
        if refusal is None and task == EngineTask.BACKGROUND_SCENE and (request.strength or 1.0) < 1.0:
            return (f"{self.name} generates the background from noise and the line map; it cannot start from the "
                    f"canvas (image-to-image, strength {request.strength:g}); sdxl-controlnet can.")
        return refusal

    def _from_pretrained(self, path: Path) -> Any:
        import torch
        from diffusers import QwenImageControlNetModel

        dtype = getattr(torch, self.config.torch_dtype_name)
        controlnet = QwenImageControlNetModel.from_pretrained(self.controlnet_path, dtype=dtype, local_files_only=True)
        return self._pipeline_type().from_pretrained(path, controlnet=controlnet, dtype=dtype, local_files_only=True)

    def call_kwargs(self, job: Job, entries: list[Entry]) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"prompt": job.prompt, "num_images_per_prompt": len(entries),
                                  "true_cfg_scale": job.guidance,
                                  "control_image": self.control_image(job.request, job.work),
                                  "controlnet_conditioning_scale": self.controlnet_scale}
        if job.guidance > 1.0:
            # true CFG runs only with a negative prompt
            kwargs["negative_prompt"] = job.negative or " "
        return kwargs
