"""Tiny random-weight diffusers pipelines, built in-process (tokenizers too) and saved as real folders.

Shapes follow diffusers' own `get_dummy_components`; only the tokenizers differ: a byte-level BPE over the
256 byte symbols with no merges, so nothing is fetched from the hub. `build(name, root)` saves one folder
per backend name once per process; `broken(kind, name, root)` makes the bad folders the error tests need.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

QWEN_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>",
                 "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>"]
CHAT_TEMPLATE = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
                 "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


@cache
def _byte_symbols() -> list[str]:
    """GPT-2's printable stand-ins for the 256 bytes, so a byte-level BPE needs no merges file."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    codes, extra = printable[:], 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            codes.append(256 + extra)
            extra += 1
    return [chr(c) for c in codes]


def _qwen_tokenizer() -> Any:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import Qwen2TokenizerFast

    bpe = Tokenizer(models.BPE(vocab={c: i for i, c in enumerate(_byte_symbols())}, merges=[]))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    tok = Qwen2TokenizerFast(tokenizer_object=bpe, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                             unk_token=None, bos_token=None)
    tok.add_special_tokens({"additional_special_tokens": QWEN_SPECIALS[1:]})
    tok.chat_template = CHAT_TEMPLATE
    return tok


def _clip_tokenizer() -> Any:
    from transformers import CLIPTokenizer

    vocab: dict[str, int] = {}
    for suffix in ("", "</w>"):
        for symbol in _byte_symbols():
            vocab[symbol + suffix] = len(vocab)
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    return CLIPTokenizer(vocab=vocab, merges=[], model_max_length=77)


def _t5_tokenizer() -> Any:
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import T5TokenizerFast

    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)] + [(ch, -1.0) for ch in "▁abcdefghijklmnopqrstuvwxyz"]
    unigram = Tokenizer(models.Unigram(pieces, unk_id=2))
    unigram.pre_tokenizer = pre_tokenizers.Metaspace()
    return T5TokenizerFast(tokenizer_object=unigram, pad_token="<pad>", eos_token="</s>", unk_token="<unk>",
                           extra_ids=0)


def _flux2_klein_components() -> dict[str, Any]:
    import torch
    from diffusers import AutoencoderKLFlux2, FlowMatchEulerDiscreteScheduler, Flux2Transformer2DModel
    from transformers import Qwen3Config, Qwen3ForCausalLM

    tok = _qwen_tokenizer()
    torch.manual_seed(0)
    transformer = Flux2Transformer2DModel(
        patch_size=1, in_channels=4, num_layers=1, num_single_layers=1, attention_head_dim=16, num_attention_heads=2,
        joint_attention_dim=16, timestep_guidance_channels=256, axes_dims_rope=[4, 4, 4, 4], guidance_embeds=False)
    text_encoder = Qwen3ForCausalLM(Qwen3Config(
        intermediate_size=16, hidden_size=16, num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=2,
        vocab_size=len(tok), max_position_embeddings=512))
    vae = AutoencoderKLFlux2(
        sample_size=32, in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 2,
        up_block_types=("UpDecoderBlock2D",) * 2, block_out_channels=(4, 4), layers_per_block=1, latent_channels=1,
        norm_num_groups=1, use_quant_conv=False, use_post_quant_conv=False)
    return {"scheduler": FlowMatchEulerDiscreteScheduler(), "text_encoder": text_encoder, "tokenizer": tok,
            "transformer": transformer, "vae": vae}


def _qwen_processor(tok: Any) -> Any:
    from transformers import Qwen2VLImageProcessorPil

    from easel.engines.diffusion.qwenimage_edit import image_only_processor

    return image_only_processor()(image_processor=Qwen2VLImageProcessorPil(), tokenizer=tok)


def _qwen_components() -> dict[str, Any]:
    import torch
    from diffusers import AutoencoderKLQwenImage, FlowMatchEulerDiscreteScheduler, QwenImageTransformer2DModel
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    tok = _qwen_tokenizer()
    ids = {s: tok.convert_tokens_to_ids(s) for s in QWEN_SPECIALS}
    torch.manual_seed(0)
    transformer = QwenImageTransformer2DModel(
        patch_size=2, in_channels=16, out_channels=4, num_layers=2, attention_head_dim=16, num_attention_heads=3,
        joint_attention_dim=16, guidance_embeds=False, axes_dims_rope=(8, 4, 4))
    vae = AutoencoderKLQwenImage(base_dim=24, z_dim=4, dim_mult=[1, 2, 4], num_res_blocks=1,
                                 temperal_downsample=[False, True], latents_mean=[0.0] * 4, latents_std=[1.0] * 4)
    config = Qwen2_5_VLConfig(
        text_config={"hidden_size": 16, "intermediate_size": 16, "num_hidden_layers": 2, "num_attention_heads": 2,
                     "num_key_value_heads": 2, "vocab_size": len(tok), "rope_theta": 1000000.0,
                     "rope_scaling": {"mrope_section": [1, 1, 2], "rope_type": "default", "type": "default"}},
        vision_config={"depth": 2, "hidden_size": 16, "intermediate_size": 16, "num_heads": 2, "out_hidden_size": 16},
        hidden_size=16, vocab_size=len(tok), vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"], vision_token_id=ids["<|vision_pad|>"],
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"])
    text_encoder = Qwen2_5_VLForConditionalGeneration(config).eval()
    return {"transformer": transformer, "vae": vae, "scheduler": FlowMatchEulerDiscreteScheduler(),
            "text_encoder": text_encoder, "tokenizer": tok, "processor": _qwen_processor(tok)}


def _flux_fill_components() -> dict[str, Any]:
    import torch
    from diffusers import AutoencoderKL, FlowMatchEulerDiscreteScheduler, FluxTransformer2DModel
    from transformers import CLIPTextConfig, CLIPTextModel, T5Config, T5EncoderModel

    tokenizer, tokenizer_2 = _clip_tokenizer(), _t5_tokenizer()
    torch.manual_seed(0)
    # in = packed noise (2x4) + packed masked image (2x4) + the mask at the VAE factor 2 (2*2x4)
    transformer = FluxTransformer2DModel(
        patch_size=1, in_channels=32, out_channels=8, num_layers=1, num_single_layers=1, attention_head_dim=16,
        num_attention_heads=2, joint_attention_dim=32, pooled_projection_dim=32, axes_dims_rope=[4, 4, 8])
    text_encoder = CLIPTextModel(CLIPTextConfig(
        bos_token_id=0, eos_token_id=2, hidden_size=32, intermediate_size=37, layer_norm_eps=1e-05,
        num_attention_heads=4, num_hidden_layers=2, pad_token_id=1, vocab_size=len(tokenizer), hidden_act="gelu",
        projection_dim=32))
    text_encoder_2 = T5EncoderModel(T5Config(vocab_size=len(tokenizer_2), d_model=32, d_kv=8, d_ff=37, num_layers=2,
                                             num_heads=4, relative_attention_num_buckets=8))
    vae = AutoencoderKL(sample_size=32, in_channels=3, out_channels=3, block_out_channels=(4, 4), layers_per_block=1,
                        down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2,
                        latent_channels=2, norm_num_groups=1, use_quant_conv=False, use_post_quant_conv=False,
                        shift_factor=0.0609, scaling_factor=1.5035)
    return {"scheduler": FlowMatchEulerDiscreteScheduler(), "text_encoder": text_encoder,
            "text_encoder_2": text_encoder_2, "tokenizer": tokenizer, "tokenizer_2": tokenizer_2,
            "transformer": transformer, "vae": vae}


def _sdxl_components() -> dict[str, Any]:
    import torch
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    tokenizer = _clip_tokenizer()
    torch.manual_seed(0)
    # 9 input channels (noise + mask + masked image) like the real SDXL inpainting UNet; 6 time ids x 8 + 32 pooled
    unet = UNet2DConditionModel(
        block_out_channels=(16, 32), layers_per_block=1, sample_size=32, in_channels=9, out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        attention_head_dim=(2, 4), use_linear_projection=True, addition_embed_type="text_time",
        addition_time_embed_dim=8, transformer_layers_per_block=(1, 1), projection_class_embeddings_input_dim=80,
        cross_attention_dim=64, norm_num_groups=8)
    vae = AutoencoderKL(block_out_channels=(8, 16), in_channels=3, out_channels=3, latent_channels=4,
                        down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2,
                        sample_size=32, norm_num_groups=8)
    clip = {"bos_token_id": 0, "eos_token_id": 2, "hidden_size": 32, "intermediate_size": 37, "layer_norm_eps": 1e-05,
            "num_attention_heads": 4, "num_hidden_layers": 2, "pad_token_id": 1, "vocab_size": len(tokenizer),
            "hidden_act": "gelu", "projection_dim": 32}
    scheduler = EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012, steps_offset=1,
                                       beta_schedule="scaled_linear", timestep_spacing="leading")
    return {"unet": unet, "scheduler": scheduler, "vae": vae, "text_encoder": CLIPTextModel(CLIPTextConfig(**clip)),
            "text_encoder_2": CLIPTextModelWithProjection(CLIPTextConfig(**clip)), "tokenizer": tokenizer,
            "tokenizer_2": _clip_tokenizer(), "image_encoder": None, "feature_extractor": None}


def _pipeline_class(name: str) -> Any:
    import diffusers

    return getattr(diffusers, PIPELINES[name])


PIPELINES: dict[str, str] = {
    "flux2-klein": "Flux2KleinPipeline",
    "flux2-klein-inpaint": "Flux2KleinInpaintPipeline",
    "qwen-image-edit": "QwenImageEditPipeline",
    "qwen-image-edit-plus": "QwenImageEditPlusPipeline",
    "qwen-image-edit-inpaint": "QwenImageEditInpaintPipeline",
    "flux-fill": "FluxFillPipeline",
    "sdxl-inpaint": "StableDiffusionXLInpaintPipeline",
}

COMPONENTS: dict[str, Callable[[], dict[str, Any]]] = {
    "flux2-klein": _flux2_klein_components,
    "flux2-klein-inpaint": _flux2_klein_components,
    "qwen-image-edit": _qwen_components,
    "qwen-image-edit-plus": _qwen_components,
    "qwen-image-edit-inpaint": _qwen_components,
    "flux-fill": _flux_fill_components,
    "sdxl-inpaint": _sdxl_components,
}

PIPELINE_COMPONENTS = {name: ("processor",) for name in PIPELINES if name.startswith("qwen")}

_built: dict[tuple[str, Path], Path] = {}


def _as_released_processor(folder: Path) -> None:
    """Name the processor as the released Qwen folders do (transformers' Qwen2VLProcessor), not as the
    image-only class the fixture had to build it with."""
    index_file, config_file = folder / "model_index.json", folder / "processor" / "processor_config.json"
    index = json.loads(index_file.read_text())
    index["processor"] = ["transformers", "Qwen2VLProcessor"]
    index_file.write_text(json.dumps(index, indent=2))
    config = json.loads(config_file.read_text())
    config["processor_class"] = "Qwen2VLProcessor"
    config_file.write_text(json.dumps(config, indent=2))


def build(name: str, root: Path) -> Path:
    """The saved tiny pipeline for backend `name` under `root` (built once per process and root)."""
    key = (name, root)
    if key not in _built:
        folder = root / name
        if not (folder / "model_index.json").exists():
            pipe = _pipeline_class(name)(**COMPONENTS[name]())
            pipe.save_pretrained(folder)
            if "processor" in PIPELINE_COMPONENTS.get(name, ()):
                _as_released_processor(folder)
        _built[key] = folder
    return _built[key]


def broken(kind: str, name: str, root: Path) -> Path:
    """A bad copy of `name`'s folder: "missing" (no transformer/unet), "truncated" (a cut safetensors file),
    "wrong-class" (model_index names another pipeline), "shape" (a tensor of the wrong shape)."""
    source = build(name, root)
    folder = root / f"broken-{kind}-{name}"
    if folder.exists():
        return folder
    shutil.copytree(source, folder)
    denoiser = "unet" if (folder / "unet").exists() else "transformer"
    if kind == "missing":
        shutil.rmtree(folder / denoiser)
    elif kind == "truncated":
        weights = next((folder / denoiser).glob("*.safetensors"))
        weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    elif kind == "wrong-class":
        index = json.loads((folder / "model_index.json").read_text())
        index["_class_name"] = "SomeOtherPipeline"
        (folder / "model_index.json").write_text(json.dumps(index))
    elif kind == "shape":
        _reshape_first_tensor(next((folder / denoiser).glob("*.safetensors")))
    else:
        raise ValueError(kind)
    return folder


def _reshape_first_tensor(weights: Path) -> None:
    """Rewrite the file with one tensor grown by a row, as weights of another model size would be."""
    import torch
    from safetensors.torch import load_file, save_file

    tensors = load_file(weights)
    key = next(k for k, v in tensors.items() if v.ndim >= 1)
    tensors[key] = torch.cat([tensors[key], tensors[key][:1]])
    save_file(tensors, weights)
