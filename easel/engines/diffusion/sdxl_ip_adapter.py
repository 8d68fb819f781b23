"""SDXL + IP-Adapter: `StableDiffusionXLPipeline` with diffusers' IP-Adapter loader (REFERENCE_TO_IMAGE).

A new picture drawn from the prompt (the scene) whose content follows the reference images through the
IP-Adapter: the request image first (for control_cartoon_feature the character), then params["references"],
all given to the one adapter. Configuration:

    [reference_to_image]
    backend = "sdxl-ip-adapter"
    weights = "/models/stable-diffusion-xl-base-1.0"        # a StableDiffusionXLPipeline folder
    ip_adapter = "/models/IP-Adapter/sdxl_models/ip-adapter_sdxl.safetensors"
    image_encoder = "/models/IP-Adapter/sdxl_models/image_encoder"   # default: image_encoder/ beside the adapter
    extra = { ip_adapter_scale = 0.6 }

`ip_adapter` is a .safetensors or .bin file in the published layout (`image_proj.*` and `ip_adapter.N.*`), or a
folder holding one (`extra.ip_adapter_file` names it where there are several); a path inside a repo fetched into
the models folder reads as one ("h94/IP-Adapter/sdxl_models/ip-adapter_sdxl.safetensors"). The
state dict is read here and handed to diffusers' `load_ip_adapter`, so nothing is looked up on a hub.
`image_encoder` is the CLIPVisionModelWithProjection the adapter was trained with. The adapter's strength is
`extra.ip_adapter_scale` (default 0.6) times params["reference_weight"] when a caller gives one.

Defaults: 30 steps, guidance 6.0; sides multiples of 8. Not batched across requests (one adapter image set
per call); a request's n images run as one call. check() reads only file headers and configs: a missing file,
a state dict that is not an IP-Adapter, an adapter made for another UNet or an encoder of the wrong size are
reported without loading anything.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from easel.engines.base import EngineTask
from easel.engines.diffusion.common import DiffusionBackend, Entry, Job
from easel.engines.diffusion.references import ReferenceGeneration, reference_images, reference_weight

DEFAULT_SCALE = 0.6
ADAPTER_SUFFIXES = (".safetensors", ".bin")
# the published h94/IP-Adapter layout the `ip_adapter` field documents
LAYOUT = "the published IP-Adapter layout (image_proj.* and ip_adapter.N.to_k_ip/to_v_ip tensors)"


class SdxlIpAdapter(ReferenceGeneration, DiffusionBackend):
    name = "sdxl-ip-adapter"
    tasks = frozenset({EngineTask.REFERENCE_TO_IMAGE})
    pipeline_class = "StableDiffusionXLPipeline"
    accepts = frozenset({"StableDiffusionXLPipeline"})
    components = ("scheduler", "vae", "text_encoder", "text_encoder_2", "tokenizer", "tokenizer_2", "unet")
    denoiser = "unet"
    default_steps = 30
    default_guidance = 6.0
    accepts_references = True
    no_cache_reason = "its denoiser is a UNet, and diffusers' first-block cache hooks transformer blocks"

    # --- where the second weights are ----------------------------------------------------------------------

    def adapter_file(self) -> tuple[Path | None, str | None]:
        """The adapter's weights file, or why there is none."""
        if not self.config.ip_adapter:
            return None, (f"{self.name}: no IP-Adapter configured; set ip_adapter = \"/path/to/ip-adapter_sdxl"
                          ".safetensors\" (or its folder) in its table.")
        path = self.resolve(self.config.ip_adapter)
        if not path.exists():
            return None, f"{self.name}: the IP-Adapter {path} does not exist."
        if path.is_dir():
            named = self.config.extra.get("ip_adapter_file")
            if named:
                path = path / str(named)
                if not path.is_file():
                    return None, f"{self.name}: extra.ip_adapter_file names {path}, which does not exist."
            else:
                found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix in ADAPTER_SUFFIXES)
                if len(found) != 1:
                    what = "no .safetensors or .bin file" if not found else f"{len(found)} weight files"
                    return None, (f"{self.name}: the IP-Adapter folder {path} holds {what}; set "
                                  "extra.ip_adapter_file to the one to use (relative to the folder).")
                path = found[0]
        if path.suffix not in ADAPTER_SUFFIXES:
            return None, f"{self.name}: the IP-Adapter {path} is neither a .safetensors nor a .bin file."
        return path, None

    def encoder_path(self, adapter: Path) -> Path:
        if self.config.image_encoder:
            return self.resolve(self.config.image_encoder)
        return adapter.parent / "image_encoder"

    def scale(self, weight: float | None) -> float:
        return self._configured_scale() * (1.0 if weight is None else weight)

    def _configured_scale(self) -> float:
        return float(self.config.extra.get("ip_adapter_scale", DEFAULT_SCALE))

    # --- check without loading -----------------------------------------------------------------------------

    def check(self) -> str | None:
        reason = super().check()
        if reason:
            return reason
        scale = self.config.extra.get("ip_adapter_scale", DEFAULT_SCALE)
        if isinstance(scale, bool) or not isinstance(scale, int | float) or not 0.0 <= scale <= 1.0:
            return f"{self.name}: extra.ip_adapter_scale must be a number from 0 to 1, not {scale!r}."
        adapter, reason = self.adapter_file()
        if adapter is None:
            return reason
        try:
            shapes = tensor_shapes(adapter)
        except Exception as exc:  # a cut or foreign file: the message names it
            return f"{self.name}: the IP-Adapter {adapter} cannot be read: {type(exc).__name__}: {exc}."
        encoder = self.encoder_path(adapter)
        encoder_config, reason = read_encoder_config(self.name, encoder, configured=bool(self.config.image_encoder))
        if encoder_config is None:
            return reason
        assert self.path is not None
        return adapter_mismatch(self.name, adapter, shapes, unet_cross_dim(self.path), encoder, encoder_config)

    # --- loading -------------------------------------------------------------------------------------------

    def _load_overrides(self, path: Path) -> dict[str, Any]:
        import torch
        from transformers import CLIPImageProcessorPil, CLIPVisionModelWithProjection

        adapter, _ = self.adapter_file()
        assert adapter is not None  # check() passed
        encoder = CLIPVisionModelWithProjection.from_pretrained(
            self.encoder_path(adapter), dtype=getattr(torch, self.config.torch_dtype_name), local_files_only=True)
        side = int(encoder.config.image_size)
        # what load_ip_adapter would build: CLIP's mean/std at the encoder's input size
        features = CLIPImageProcessorPil(size={"shortest_edge": side}, crop_size={"height": side, "width": side})
        return {"image_encoder": encoder, "feature_extractor": features}

    def _from_pretrained(self, path: Path) -> Any:
        pipe = super()._from_pretrained(path)
        adapter, _ = self.adapter_file()
        assert adapter is not None
        pipe.load_ip_adapter(read_adapter(adapter), subfolder="", weight_name="")
        return pipe

    def _multiple(self) -> int:
        # the pipeline checks divisibility by 8 whatever its VAE's factor (a small VAE has less than 8)
        return max(8, int(self.pipe.vae_scale_factor))

    # --- one call ------------------------------------------------------------------------------------------

    def _call(self, batch: list[Job]) -> list[Any]:
        # the adapter scale lives on the attention processors; the run lock makes it this call's
        self.pipe.set_ip_adapter_scale(self.scale(reference_weight(batch[0].request)))
        return super()._call(batch)

    def call_kwargs(self, job: Job, entries: list[Entry]) -> dict[str, Any]:
        return {"ip_adapter_image": [reference_images(job.request)],
                "negative_prompt": [job.negative for _ in entries], "guidance_scale": job.guidance}


# --- reading adapter files -------------------------------------------------------------------------------------


def tensor_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    """Flat key -> shape: a .safetensors header read without its tensors, or a .bin state dict (memory-mapped)."""
    if path.suffix == ".safetensors":
        with path.open("rb") as handle:
            length = int.from_bytes(handle.read(8), "little")
            if not 0 < length < 100 * 1024 * 1024:
                raise ValueError("not a safetensors file (bad header length)")
            header = json.loads(handle.read(length))
        return {key: tuple(info["shape"]) for key, info in header.items() if key != "__metadata__"}
    return {key: tuple(value.shape) for key, value in _flat(_torch_load(path)).items()}


def _torch_load(path: Path) -> Any:
    import torch

    return torch.load(path, map_location="cpu", weights_only=True, mmap=True)


def _flat(state: Any) -> dict[str, Any]:
    """The nested {"image_proj": {...}, "ip_adapter": {...}} of .bin files as the flat keys of .safetensors."""
    if not isinstance(state, dict):
        raise ValueError("not a state dict")
    flat: dict[str, Any] = {}
    for key, value in state.items():
        if isinstance(value, dict):
            flat.update({f"{key}.{inner}": tensor for inner, tensor in value.items()})
        else:
            flat[key] = value
    return flat


def read_adapter(path: Path) -> dict[str, dict[str, Any]]:
    """The state dict in the nested form `load_ip_adapter` takes."""
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        flat = load_file(path)
    else:
        flat = _flat(_torch_load(path))
    nested: dict[str, dict[str, Any]] = {"image_proj": {}, "ip_adapter": {}}
    for key, value in flat.items():
        group, _, rest = key.partition(".")
        if group in nested:
            nested[group][rest] = value
    return nested


def read_encoder_config(name: str, folder: Path, configured: bool) -> tuple[dict[str, Any] | None, str | None]:
    if not (folder / "config.json").is_file():
        if configured:
            return None, f"{name}: the image encoder folder {folder} does not exist or has no config.json."
        return None, (f"{name}: no image encoder configured and none beside the IP-Adapter ({folder}); set "
                      "image_encoder = \"/path/to/image_encoder\" (the CLIPVisionModelWithProjection folder the "
                      "adapter was trained with).")
    try:
        config = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError) as exc:
        return None, f"{name}: {folder / 'config.json'} cannot be read: {exc}."
    architectures = config.get("architectures") or []
    named = "CLIPVisionModelWithProjection" in architectures
    if not named and (architectures or config.get("model_type") != "clip_vision_model"):
        found = ", ".join(architectures) or config.get("model_type") or "an unnamed model"
        return None, f"{name}: the image encoder {folder} holds {found}; it must be a CLIPVisionModelWithProjection."
    return config, None


def unet_cross_dim(weights: Path) -> int | None:
    try:
        value = json.loads((weights / "unet" / "config.json").read_text()).get("cross_attention_dim")
    except (OSError, ValueError):
        return None
    return value if isinstance(value, int) else None


def adapter_mismatch(name: str, adapter: Path, shapes: dict[str, tuple[int, ...]], cross_dim: int | None,
                     encoder: Path, encoder_config: dict[str, Any]) -> str | None:
    """Why this adapter does not fit this UNet and encoder, from tensor shapes alone; None when it does."""
    proj = {k.removeprefix("image_proj."): s for k, s in shapes.items() if k.startswith("image_proj.")}
    keys = [s for k, s in shapes.items() if k.startswith("ip_adapter.") and k.endswith("to_k_ip.weight")]
    if not proj or not keys:
        return f"{name}: {adapter} is not an IP-Adapter: it lacks {LAYOUT}."
    wants = {s[1] for s in keys if len(s) == 2}
    if cross_dim is not None and wants != {cross_dim}:
        return (f"{name}: the IP-Adapter {adapter} was made for a UNet with cross-attention dim "
                f"{', '.join(map(str, sorted(wants)))}; this SDXL's is {cross_dim}.")
    projection_dim = encoder_config.get("projection_dim")
    hidden_size = encoder_config.get("hidden_size")
    if "proj.weight" in proj:  # IP-Adapter: a linear map of the pooled, projected image embedding
        takes, what, has = proj["proj.weight"][-1], "projection_dim", projection_dim
    elif "latents" in proj:  # IP-Adapter Plus: a resampler over the encoder's hidden states
        takes, what, has = proj.get("proj_in.weight", (None,))[-1], "hidden_size", hidden_size
    elif "proj.3.weight" in proj:  # IP-Adapter Full
        takes, what, has = proj.get("proj.0.weight", (None,))[-1], "projection_dim", projection_dim
    else:
        return (f"{name}: {adapter} is a Face ID IP-Adapter, which needs face-recognition embeddings this backend "
                "does not compute; use an image IP-Adapter (ip-adapter_sdxl, ip-adapter-plus_sdxl_vit-h).")
    if takes != has:
        return (f"{name}: the IP-Adapter {adapter} takes image embeddings of size {takes}, but the image encoder "
                f"{encoder} has {what} {has}; configure the encoder the adapter was trained with.")
    return None
