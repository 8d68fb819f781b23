"""A tiny random-weight SD1.5 folder and IC-Light offset files in the published key layout, saved for real.

The folder is a `StableDiffusionPipeline` saved with `save_pretrained` (UNet, VAE, CLIP text encoder, and the
byte-level CLIP tokenizer of tiny_models, so nothing is fetched). The offset files hold every key of that
UNet's state dict, with `conv_in.weight` widened to 8 (fc) or 12 (fbc) input channels, as
iclight_sd15_fc/fbc.safetensors do for the real SD1.5 UNet. `broken_offset(kind, root)` makes the bad files the
error tests need.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from tests.engines.diffusion.tiny_models import _clip_tokenizer

os.environ.setdefault("HF_HUB_OFFLINE", "1")

CHANNELS = {"fc": 8, "fbc": 12}
# large enough for the offsets to change the images, small enough to keep random weights stable
OFFSET_SCALE = 0.05
UNET = {"block_out_channels": (8, 16), "layers_per_block": 1, "sample_size": 16, "in_channels": 4,
        "out_channels": 4, "down_block_types": ("DownBlock2D", "CrossAttnDownBlock2D"),
        "up_block_types": ("CrossAttnUpBlock2D", "UpBlock2D"), "cross_attention_dim": 32, "norm_num_groups": 4}


def _components() -> dict[str, Any]:
    import torch
    from diffusers import AutoencoderKL, DPMSolverMultistepScheduler, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    tokenizer = _clip_tokenizer()
    torch.manual_seed(0)
    unet = UNet2DConditionModel(**UNET)
    vae = AutoencoderKL(block_out_channels=(8, 16), in_channels=3, out_channels=3, latent_channels=4,
                        norm_num_groups=4, down_block_types=("DownEncoderBlock2D",) * 2,
                        up_block_types=("UpDecoderBlock2D",) * 2, sample_size=32)
    text_encoder = CLIPTextModel(CLIPTextConfig(
        bos_token_id=0, eos_token_id=2, hidden_size=32, intermediate_size=37, layer_norm_eps=1e-05,
        num_attention_heads=4, num_hidden_layers=2, pad_token_id=1, vocab_size=len(tokenizer)))
    return {"unet": unet, "vae": vae, "text_encoder": text_encoder, "tokenizer": tokenizer,
            "scheduler": DPMSolverMultistepScheduler(steps_offset=1), "safety_checker": None, "feature_extractor": None,
            "image_encoder": None, "requires_safety_checker": False}


def build_sd15(root: Path) -> Path:
    """The tiny SD1.5 folder under `root` (saved once)."""
    from diffusers import StableDiffusionPipeline

    folder = root / "tiny-sd15"
    if not (folder / "model_index.json").exists():
        StableDiffusionPipeline(**_components()).save_pretrained(folder)
    return folder


def offset_tensors(mode: str, seed: int = 1, unet_config: dict[str, Any] | None = None) -> dict[str, Any]:
    """Random offsets with the keys and shapes of the (widened) UNet's state dict."""
    import torch
    from diffusers import UNet2DConditionModel

    torch.manual_seed(0)
    probe = UNet2DConditionModel(**(unet_config or UNET))
    shapes = {k: v.shape for k, v in probe.state_dict().items()}
    conv = shapes["conv_in.weight"]
    shapes["conv_in.weight"] = torch.Size((conv[0], CHANNELS[mode], *conv[2:]))
    generator = torch.Generator().manual_seed(seed)
    return {k: torch.randn(shape, generator=generator) * OFFSET_SCALE for k, shape in shapes.items()}


def build_offset(mode: str, root: Path) -> Path:
    """iclight_sd15_<mode>.safetensors for the tiny UNet under `root` (saved once)."""
    from safetensors.torch import save_file

    file = root / f"iclight_sd15_{mode}.safetensors"
    if not file.exists():
        save_file({k: v.contiguous() for k, v in offset_tensors(mode, seed=CHANNELS[mode]).items()}, str(file))
    return file


def broken_offset(kind: str, root: Path) -> Path:
    """"other-unet" (an offset file for a UNet of another size), "missing-keys" (some UNet keys absent),
    "truncated" (a cut file), "no-conv" (no conv_in.weight at all)."""
    from safetensors.torch import save_file

    file = root / f"broken-{kind}.safetensors"
    if file.exists():
        return file
    if kind == "other-unet":
        tensors = offset_tensors("fc", unet_config={**UNET, "block_out_channels": (16, 32), "norm_num_groups": 8})
    elif kind == "missing-keys":
        tensors = offset_tensors("fc")
        for key in [k for k in tensors if k.startswith("up_blocks.0.attentions")]:
            del tensors[key]
    elif kind == "no-conv":
        tensors = offset_tensors("fc")
        del tensors["conv_in.weight"]
    elif kind == "truncated":
        whole = build_offset("fc", root)
        file.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
        return file
    else:
        raise ValueError(kind)
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(file))
    return file
