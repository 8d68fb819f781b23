"""Tiny random-weight folders for reference_to_image, saved as real files (no downloads).

- `sdxl_base(root)`: a `StableDiffusionXLPipeline` folder (tiny_models' SDXL components with the 4-channel UNet of
  a base checkpoint instead of the 9-channel inpainting one).
- `image_encoder(root, projection_dim)`: a `CLIPVisionModelWithProjection` folder.
- `ip_adapter(root, ...)`: a random IP-Adapter in the published flat layout (`image_proj.*`, `ip_adapter.N.*`),
  built as diffusers' own tests do (`create_ip_adapter_state_dict`): one to_k_ip/to_v_ip pair per cross-attention
  processor, numbered 1, 3, 5, …, and an `ImageProjection` of 4 tokens.
- `not_an_adapter(root)`: a .safetensors file that is not an IP-Adapter (a UNet's weights).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from tests.engines.diffusion import tiny_models

os.environ.setdefault("HF_HUB_OFFLINE", "1")

TOKENS = 4  # what diffusers' loader assumes for an `image_proj.proj.weight` projection
ENCODER_DIM = 32  # the tiny encoder's projection_dim, which the adapter's image projection must take


def _base_unet() -> Any:
    import torch
    from diffusers import UNet2DConditionModel

    torch.manual_seed(0)
    return UNet2DConditionModel(
        block_out_channels=(16, 32), layers_per_block=1, sample_size=32, in_channels=4, out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        attention_head_dim=(2, 4), use_linear_projection=True, addition_embed_type="text_time",
        addition_time_embed_dim=8, transformer_layers_per_block=(1, 1), projection_class_embeddings_input_dim=80,
        cross_attention_dim=64, norm_num_groups=8)


def sdxl_base(root: Path) -> Path:
    folder = root / "sdxl-base"
    if not (folder / "model_index.json").exists():
        from diffusers import StableDiffusionXLPipeline

        components = tiny_models.COMPONENTS["sdxl-inpaint"]()
        components["unet"] = _base_unet()
        StableDiffusionXLPipeline(**components).save_pretrained(folder)
    return folder


def image_encoder(root: Path, projection_dim: int = ENCODER_DIM) -> Path:
    folder = root / f"image-encoder-{projection_dim}"
    if not (folder / "config.json").exists():
        import torch
        from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

        torch.manual_seed(0)
        config = CLIPVisionConfig(hidden_size=32, projection_dim=projection_dim, num_hidden_layers=2,
                                  num_attention_heads=4, image_size=32, intermediate_size=37, patch_size=4)
        CLIPVisionModelWithProjection(config).eval().save_pretrained(folder)
    return folder


def adapter_state_dict(seed: int = 0, image_embed_dim: int = ENCODER_DIM) -> dict[str, Any]:
    """The published flat key layout for the tiny base UNet, with random values drawn from `seed`."""
    import torch
    from diffusers.models.attention_processor import IPAdapterAttnProcessor
    from diffusers.models.embeddings import ImageProjection

    unet = _base_unet()
    torch.manual_seed(seed)
    flat: dict[str, Any] = {}
    key_id = 1
    for name in unet.attn_processors:
        if name.endswith("attn1.processor"):
            continue  # self-attention: no image keys
        if name.startswith("mid_block"):
            hidden = unet.config.block_out_channels[-1]
        elif name.startswith("up_blocks"):
            hidden = list(reversed(unet.config.block_out_channels))[int(name[len("up_blocks.")])]
        else:
            hidden = unet.config.block_out_channels[int(name[len("down_blocks.")])]
        cross = unet.config.cross_attention_dim
        sd = IPAdapterAttnProcessor(hidden_size=hidden, cross_attention_dim=cross).state_dict()
        flat[f"ip_adapter.{key_id}.to_k_ip.weight"] = sd["to_k_ip.0.weight"] * 4  # strong enough to show
        flat[f"ip_adapter.{key_id}.to_v_ip.weight"] = sd["to_v_ip.0.weight"] * 4
        key_id += 2
    projection = ImageProjection(cross_attention_dim=unet.config.cross_attention_dim, image_embed_dim=image_embed_dim,
                                 num_image_text_embeds=TOKENS).state_dict()
    flat["image_proj.proj.weight"] = projection["image_embeds.weight"]
    flat["image_proj.proj.bias"] = projection["image_embeds.bias"]
    flat["image_proj.norm.weight"] = projection["norm.weight"]
    flat["image_proj.norm.bias"] = projection["norm.bias"]
    return {k: v.contiguous() for k, v in flat.items()}


def ip_adapter(root: Path, name: str = "ip-adapter_tiny.safetensors", **kwargs: Any) -> Path:
    """The adapter saved as a .safetensors file (or, for a .bin name, as the nested dict torch.save files hold)."""
    path = root / "ip-adapter" / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        flat = adapter_state_dict(**kwargs)
        if name.endswith(".bin"):
            import torch

            nested: dict[str, dict[str, Any]] = {"image_proj": {}, "ip_adapter": {}}
            for key, value in flat.items():
                group, rest = key.split(".", 1)
                nested[group][rest] = value
            torch.save(nested, path)
        else:
            from safetensors.torch import save_file

            save_file(flat, path)
    return path


def not_an_adapter(root: Path) -> Path:
    path = root / "not-an-adapter.safetensors"
    if not path.exists():
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in _base_unet().state_dict().items()}, path)
    return path
