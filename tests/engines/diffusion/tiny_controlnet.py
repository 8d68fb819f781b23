"""Tiny random-weight bases and ControlNets for the ControlNet backends, saved as real folders (no downloads).

- "sdxl-base": a text-to-image `StableDiffusionXLPipeline` (the tiny_models SDXL parts with a 4-channel UNet).
- "sdxl-controlnet" / "sdxl-controlnet-union": `ControlNetModel` / `ControlNetUnionModel.from_unet` of that UNet,
  the conditioning embedding downsampling by 2 as the tiny VAE does (a real one downsamples by 8, like SDXL's VAE).
- "sdxl-controlnet-sd15": a ControlNet of another text width (cross_attention_dim), as an SD 1.5 one would be.
- "qwen-base": a `QwenImagePipeline` (tiny_models' Qwen parts, no processor); "qwen-controlnet" a
  `QwenImageControlNetModel` matching it (diffusers' own test shapes); "qwen-controlnet-inpaint" the inpainting
  kind (extra_condition_channels = 1); "qwen-controlnet-wide" one with more attention heads than the base.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.engines.diffusion import tiny_models

os.environ.setdefault("HF_HUB_OFFLINE", "1")

SDXL_CONDITIONING = (16, 32)  # one stride-2 step: the tiny VAE's factor 2


def _sdxl_base_components() -> dict[str, Any]:
    return {**tiny_models._sdxl_components(), "unet": _sdxl_unet()}


def _sdxl_base(folder: Path) -> None:
    from diffusers import StableDiffusionXLPipeline

    StableDiffusionXLPipeline(**_sdxl_base_components()).save_pretrained(folder)


def _sdxl_unet() -> Any:
    import torch
    from diffusers import UNet2DConditionModel

    torch.manual_seed(0)
    return UNet2DConditionModel.from_config({**tiny_models._sdxl_components()["unet"].config, "in_channels": 4})


def _wake(controlnet: Any) -> Any:
    """Random weights in the zero-initialised output layers, so the line map visibly steers the tiny model
    (a fresh ControlNet adds exactly nothing until trained)."""
    import torch

    torch.manual_seed(2)
    with torch.no_grad():
        for parameter in controlnet.parameters():
            if not parameter.any():
                parameter.normal_(0.0, 0.3)
    return controlnet


def _sdxl_controlnet(folder: Path) -> None:
    from diffusers import ControlNetModel

    _wake(ControlNetModel.from_unet(_sdxl_unet(), conditioning_embedding_out_channels=SDXL_CONDITIONING)
          ).save_pretrained(folder)


def _sdxl_controlnet_union(folder: Path) -> None:
    from diffusers import ControlNetUnionModel

    config = ControlNetUnionModel.from_unet(_sdxl_unet(), conditioning_embedding_out_channels=SDXL_CONDITIONING).config
    # its control-type transformer works at the first block's width (320 in SDXL, 16 here)
    union = ControlNetUnionModel.from_config(config, num_trans_channel=16, num_proj_channel=16, num_trans_head=2)
    _wake(union).save_pretrained(folder)


def _sdxl_controlnet_sd15(folder: Path) -> None:
    from diffusers import ControlNetModel

    unet = _sdxl_unet()
    config = ControlNetModel.from_unet(unet, conditioning_embedding_out_channels=SDXL_CONDITIONING).config
    ControlNetModel.from_config(config, cross_attention_dim=32).save_pretrained(folder)


def _qwen_base(folder: Path) -> None:
    from diffusers import QwenImagePipeline

    components = tiny_models._qwen_components()
    components.pop("processor")
    QwenImagePipeline(**components).save_pretrained(folder)


def _qwen_controlnet(folder: Path, **overrides: Any) -> None:
    import torch
    from diffusers import QwenImageControlNetModel

    torch.manual_seed(1)
    shape = {"patch_size": 2, "in_channels": 16, "out_channels": 4, "num_layers": 2, "attention_head_dim": 16,
             "num_attention_heads": 3, "joint_attention_dim": 16, "axes_dims_rope": (8, 4, 4)}
    _wake(QwenImageControlNetModel(**{**shape, **overrides})).save_pretrained(folder)


FOLDERS: dict[str, Callable[[Path], None]] = {
    "sdxl-base": _sdxl_base,
    "sdxl-controlnet": _sdxl_controlnet,
    "sdxl-controlnet-union": _sdxl_controlnet_union,
    "sdxl-controlnet-sd15": _sdxl_controlnet_sd15,
    "qwen-base": _qwen_base,
    "qwen-controlnet": _qwen_controlnet,
    "qwen-controlnet-inpaint": lambda folder: _qwen_controlnet(folder, extra_condition_channels=1),
    "qwen-controlnet-wide": lambda folder: _qwen_controlnet(folder, num_attention_heads=4),
}

# backend name -> (base folder, ControlNet folder)
PAIRS = {"sdxl-controlnet": ("sdxl-base", "sdxl-controlnet"),
         "sdxl-controlnet-union": ("sdxl-base", "sdxl-controlnet-union"),
         "qwen-image-controlnet": ("qwen-base", "qwen-controlnet")}


def build(name: str, root: Path) -> Path:
    """The saved folder `name` (see the module docstring) under `root`, built once."""
    folder = root / name
    if not (folder / "model_index.json").exists() and not (folder / "config.json").exists():
        FOLDERS[name](folder)
    return folder
