"""Backend names (the `backend = "…"` of engines.toml) and where each lives. One module plus one line
here adds a backend; modules are imported only when a configuration names them."""

from __future__ import annotations

import importlib

from easel.engines.base import Backend, EngineTask

BACKENDS: dict[str, tuple[str, str]] = {
    # classical CPU engines (the defaults)
    "realesrgan": ("easel.engines.superres.backend", "RealEsrganBackend"),
    "coherence": ("easel.engines.inpaint.backend", "CoherenceBackend"),
    "onnx-inpaint": ("easel.engines.inpaint.onnx_backend", "OnnxInpaintBackend"),
    "classical-outpaint": ("easel.engines.outpaint.backend", "ClassicalOutpaintBackend"),
    "neural-style": ("easel.engines.stylize.backend", "NeuralStyleBackend"),
    "ddcolor-onnx": ("easel.engines.colorize.ddcolor_onnx", "DdcolorOnnx"),
    # diffusers pipelines on user-supplied weights
    "flux2-klein": ("easel.engines.diffusion.flux2_klein_edit", "Flux2KleinEdit"),
    "qwen-image-edit": ("easel.engines.diffusion.qwenimage_edit", "QwenImageEdit"),
    "qwen-image-edit-plus": ("easel.engines.diffusion.qwenimage_edit_plus", "QwenImageEditPlus"),
    "flux2-klein-inpaint": ("easel.engines.diffusion.flux2_klein_inpaint", "Flux2KleinInpaint"),
    "qwen-image-edit-inpaint": ("easel.engines.diffusion.qwenimage_edit_inpaint", "QwenImageEditInpaint"),
    "flux-fill": ("easel.engines.diffusion.flux_fill", "FluxFill"),
    "sdxl-inpaint": ("easel.engines.diffusion.sdxl_inpaint", "SdxlInpaint"),
    "ic-light": ("easel.engines.diffusion.iclight", "IcLight"),
    "sdxl-ip-adapter": ("easel.engines.diffusion.sdxl_ip_adapter", "SdxlIpAdapter"),
    "sdxl-controlnet": ("easel.engines.diffusion.sdxl_controlnet", "SdxlControlNet"),
    "qwen-image-controlnet": ("easel.engines.diffusion.qwenimage_controlnet", "QwenImageControlNet"),
}

# What serves a task when engines.toml has no table for it and no configured backend covers it.
DEFAULT_BACKENDS: dict[EngineTask, str] = {
    EngineTask.UPSCALE: "realesrgan",
    EngineTask.ERASE: "coherence",
    EngineTask.OUTPAINT: "classical-outpaint",
    EngineTask.STYLIZE: "neural-style",
}


def backend_class(name: str) -> type[Backend]:
    """The class for a backend name; KeyError for an unknown name (the config check reports it)."""
    module, cls = BACKENDS[name]
    return getattr(importlib.import_module(module), cls)
