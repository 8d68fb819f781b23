"""SDXL with a ControlNet: a line map steers the picture (SKETCH_TO_IMAGE, BACKGROUND_SCENE with a line map).

`weights` is an SDXL base folder (`StableDiffusionXLPipeline`); `controlnet` a ControlNet folder for SDXL: a
`ControlNetModel` (scribble, soft-edge, canny, lineart…) runs `StableDiffusionXLControlNetPipeline`, a
`ControlNetUnionModel` (e.g. xinsir/controlnet-union-sdxl-1.0) `StableDiffusionXLControlNetUnionPipeline`
with `extra.control_mode` (default 2, the union models' soft-edge/scribble mode). BACKGROUND_SCENE runs the
matching Inpaint pipeline made from the same loaded components (`from_pipe`, no second copy in memory): the
image is the subject on its canvas, the mask everything around it; the subject's pixels come back exactly.

Settings: `extra.controlnet_scale` (0..2, default 1.0) is the ControlNet conditioning scale: lower lets the
prompt depart from the lines, higher holds the lines harder. Defaults: 30 steps, guidance 7.5, strength
0.99 for the inpaint call. Sides are multiples of 8. Not batched across requests (each has its own line map).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL import Image

from easel.engines.base import EngineTask
from easel.engines.diffusion.common import Entry, Job
from easel.engines.diffusion.controlnet import ControlNetBackend

PLAIN, UNION = "ControlNetModel", "ControlNetUnionModel"
PIPELINES = {  # (ControlNet class, task) -> pipeline class
    (PLAIN, EngineTask.SKETCH_TO_IMAGE): "StableDiffusionXLControlNetPipeline",
    (PLAIN, EngineTask.BACKGROUND_SCENE): "StableDiffusionXLControlNetInpaintPipeline",
    (UNION, EngineTask.SKETCH_TO_IMAGE): "StableDiffusionXLControlNetUnionPipeline",
    (UNION, EngineTask.BACKGROUND_SCENE): "StableDiffusionXLControlNetUnionInpaintPipeline",
}
SOFT_EDGE_MODE = 2  # the union ControlNets' "thick line" mode: scribble, HED, PiDi, soft edge


class SdxlControlNet(ControlNetBackend):
    name = "sdxl-controlnet"
    tasks = frozenset({EngineTask.SKETCH_TO_IMAGE, EngineTask.BACKGROUND_SCENE})
    accepts = frozenset({"StableDiffusionXLPipeline", "StableDiffusionXLControlNetPipeline"})
    components = ("scheduler", "vae", "text_encoder", "text_encoder_2", "tokenizer", "tokenizer_2", "unet")
    denoiser = "unet"
    default_steps = 30
    default_guidance = 7.5
    default_strength = 0.99  # the inpaint call only (1.0 would discard the canvas latents entirely)
    no_cache_reason = "its denoiser is a UNet, and diffusers' first-block cache hooks transformer blocks"
    controlnet_classes = frozenset({PLAIN, UNION})
    matching_fields = (("in_channels", "latent channels"), ("cross_attention_dim", "text embedding width"),
                       ("block_out_channels", "block widths"), ("addition_embed_type", "added conditioning"),
                       ("projection_class_embeddings_input_dim", "size conditioning width"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._inpaint: Any = None  # the BACKGROUND_SCENE pipeline, made on first use from the loaded one

    @property
    def pipeline_class(self) -> str:  # type: ignore[override]
        return PIPELINES[(self._controlnet_kind(), EngineTask.SKETCH_TO_IMAGE)]

    def _controlnet_kind(self) -> str:
        return UNION if self.controlnet_config().get("_class_name") == UNION else PLAIN

    def check(self) -> str | None:
        reason = super().check()
        if reason is None and self._controlnet_kind() == UNION:
            mode, types = self._control_mode(), self.controlnet_config().get("num_control_type", 6)
            if isinstance(mode, bool) or not isinstance(mode, int) or not 0 <= mode < types:
                reason = (f"{self.name}: extra.control_mode must be a whole number from 0 to {types - 1} for the "
                          f"union ControlNet at {self.controlnet_path}, not {mode!r}.")
        return reason

    def _control_mode(self) -> Any:
        return self.config.extra.get("control_mode", SOFT_EDGE_MODE)

    def _from_pretrained(self, path: Path) -> Any:
        import diffusers
        import torch

        dtype = getattr(torch, self.config.torch_dtype_name)
        kind = self._controlnet_kind()
        controlnet = getattr(diffusers, kind).from_pretrained(self.controlnet_path, dtype=dtype,
                                                               local_files_only=True)
        return self._pipeline_type().from_pretrained(path, controlnet=controlnet, dtype=dtype, local_files_only=True)

    def unload(self) -> None:
        with self._run_lock:
            self._inpaint = None
        super().unload()

    def _multiple(self) -> int:
        # the pipelines check divisibility by 8 whatever the VAE's factor (a small VAE has less than 8)
        return max(8, int(self.pipe.vae_scale_factor))

    def _call(self, batch: list[Job]) -> list[Image.Image]:
        if batch[0].task != EngineTask.BACKGROUND_SCENE:
            return super()._call(batch)
        # the shared call code runs `self.pipe`; for this call it is the inpaint pipeline over the same
        # components. Safe: calls hold the run lock, and unload waits for it.
        text_to_image = self.pipe
        self.pipe = self._inpaint_pipeline(text_to_image)
        try:
            return super()._call(batch)
        finally:
            self.pipe = text_to_image

    def _inpaint_pipeline(self, pipe: Any) -> Any:
        if self._inpaint is None:
            import diffusers

            cls = getattr(diffusers, PIPELINES[(self._controlnet_kind(), EngineTask.BACKGROUND_SCENE)])
            self._inpaint = cls.from_pipe(pipe)
            self._inpaint.set_progress_bar_config(disable=True)
        return self._inpaint

    def call_kwargs(self, job: Job, entries: list[Entry]) -> dict[str, Any]:
        control = self.control_image(job.request, job.work)
        kwargs: dict[str, Any] = {"negative_prompt": [e.job.negative for e in entries],
                                  "guidance_scale": job.guidance,
                                  "controlnet_conditioning_scale": self.controlnet_scale}
        union = self._controlnet_kind() == UNION
        if union:
            kwargs["control_mode"] = [self._control_mode()]
        if job.task == EngineTask.BACKGROUND_SCENE:
            kwargs.update(image=[e.image for e in entries], mask_image=[e.mask for e in entries],
                          control_image=[control] if union else control, strength=job.strength)
        elif union:
            kwargs["control_image"] = [control]
        else:
            kwargs["image"] = control  # the text-to-image ControlNet pipeline's `image` is the control image
        return kwargs
