"""IC-Light (lllyasviel/IC-Light, Apache-2.0) on an SD1.5 diffusers folder: RELIGHT.

The subject is relit by regenerating the whole picture with the subject's VAE latents concatenated onto the
UNet's input. Two published offset files widen the UNet's first convolution:

- fc (`iclight_sd15_fc.safetensors`, conv_in of 8 input channels): foreground only, the prompt makes the
  background. A light direction named in the prompt starts the first pass from a brightness gradient (img2img,
  denoise 0.9), as the reference demo's "Lighting Preference" does; no direction: text-to-image.
- fbc (`iclight_sd15_fbc.safetensors`, 12 channels): foreground and a given background (request
  params["background"]); the background is kept and the subject's light matched to it. Text-to-image.

Then a high-res pass (x1.5, denoise 0.5) like the reference; the result is resized to the input's size.

Loading widens `unet.conv_in` (the new input channels zeroed, the old weights kept) without touching
`unet.config.in_channels` (the pipelines size their noise from it), then merges `base + offset` for every key,
strictly. The latents to concatenate travel in each call's `cross_attention_kwargs`, so the wrapped forward
holds nothing between calls (calls are serialised by the backend's run lock anyway: diffusers pipelines keep
per-call state on themselves). With both files configured the backend holds one UNet per mode and shares the rest.

The subject's matte is the caller's (request.mask, True on the subject): the reference mats with BRIA RMBG-1.4,
which is non-commercial, and this backend uses no matting model at all.
"""

from __future__ import annotations

import copy
import json
import math
import struct
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from easel.engines.base import EngineContext, EngineRequest, EngineTask
from easel.engines.config import is_hub_id
from easel.engines.diffusion.common import DiffusionBackend, Entry, Job
from easel.errors import EngineUnavailable, InvalidParameter

if TYPE_CHECKING:
    import torch

    from easel.engines.config import BackendConfig

# input channels of the widened conv_in: noise + foreground latents (+ background latents)
MODE_CHANNELS = {"fc": 8, "fbc": 12}
PUBLISHED_FILES = {"fc": "iclight_sd15_fc.safetensors", "fbc": "iclight_sd15_fbc.safetensors"}
LIGHTS = ("left", "right", "top", "bottom")
# the reference demos' settings
DEFAULT_STEPS = {"fc": 25, "fbc": 20}
DEFAULT_GUIDANCE = {"fc": 2.0, "fbc": 7.0}
ADDED_PROMPT = "best quality"
DEFAULT_NEGATIVE = "lowres, bad anatomy, bad hands, cropped, worst quality"
GRADIENT_DENOISE = 0.9
HIGHRES_SCALE = 1.5
HIGHRES_DENOISE = 0.5
GREY = 127.0
# the reference's working size, 512x640; the high-res pass makes it 768x960
DEFAULT_AREA = 512 * 640


@dataclass
class ModePipes:
    """The two pipelines of one offset file, sharing one merged UNet."""

    t2i: Any
    i2i: Any


class ConcatConds:
    """unet.forward wrapped: concatenates the call's `cross_attention_kwargs["concat_conds"]` (repeated to the
    batch, which classifier-free guidance doubles) onto the noisy sample along channels."""

    def __init__(self, forward: Any) -> None:
        self.forward = forward

    def __call__(self, sample: torch.Tensor, timestep: Any, *args: Any, **kwargs: Any) -> Any:
        import torch

        extra = dict(kwargs.get("cross_attention_kwargs") or {})
        conds = extra.pop("concat_conds", None)
        if conds is None:
            raise RuntimeError("the IC-Light UNet was called without cross_attention_kwargs['concat_conds']")
        conds = conds.to(sample)
        conds = torch.cat([conds] * (sample.shape[0] // conds.shape[0]), dim=0)
        kwargs["cross_attention_kwargs"] = extra or None
        return self.forward(torch.cat([sample, conds], dim=1), timestep, *args, **kwargs)


def widen_conv_in(unet: Any, channels: int) -> None:
    """A conv_in of `channels` inputs: the old weights in the first ones, zeros in the new, the bias kept."""
    import torch

    old = unet.conv_in
    new = torch.nn.Conv2d(channels, old.out_channels, old.kernel_size, old.stride, old.padding,
                          device=old.weight.device, dtype=old.weight.dtype)
    with torch.no_grad():
        new.weight.zero_()
        new.weight[:, : old.in_channels].copy_(old.weight)
        new.bias = old.bias
    unet.conv_in = new


def merge_offsets(unet: Any, offsets: dict[str, torch.Tensor], file: Path) -> None:
    """merged[k] = base[k] + offset[k] for every UNet key, strictly: a missing, extra or misshapen key fails
    naming the file."""
    base = unet.state_dict()
    missing = sorted(set(base) - set(offsets))
    extra = sorted(set(offsets) - set(base))
    if missing or extra:
        raise EngineUnavailable(_key_problem(file, missing, extra))
    for key, tensor in base.items():
        if tuple(offsets[key].shape) != tuple(tensor.shape):
            raise EngineUnavailable(f"{file}: {key} has shape {tuple(offsets[key].shape)}; this UNet expects "
                                    f"{tuple(tensor.shape)}.")
    merged = {k: (v.float() + offsets[k].float()).to(v.dtype) for k, v in base.items()}
    unet.load_state_dict(merged, strict=True)


def _key_problem(file: Path, missing: list[str], extra: list[str]) -> str:
    parts = []
    if missing:
        parts.append(f"lacks {len(missing)} of the UNet's keys (e.g. {', '.join(missing[:3])})")
    if extra:
        parts.append(f"has {len(extra)} keys this UNet does not (e.g. {', '.join(extra[:3])})")
    return f"{file} does not fit the UNet of the weights folder: it {' and '.join(parts)}."


def safetensors_shapes(file: Path) -> dict[str, tuple[int, ...]]:
    """Tensor shapes from a .safetensors header alone (8-byte length, then JSON): no tensor is read."""
    with file.open("rb") as handle:
        head = handle.read(8)
        if len(head) < 8:
            raise ValueError("too short for a safetensors file")
        (length,) = struct.unpack("<Q", head)
        if length > 100 * 1024 * 1024:
            raise ValueError("its header length is implausible")
        header = json.loads(handle.read(length))
    tensors = {k: v for k, v in header.items() if k != "__metadata__"}
    end = max((int(v["data_offsets"][1]) for v in tensors.values()), default=0)
    size = file.stat().st_size
    if size < 8 + length + end:
        raise ValueError(f"it is truncated ({size} bytes of the {8 + length + end} its header describes)")
    return {k: tuple(v["shape"]) for k, v in tensors.items()}


def unet_shapes(unet_dir: Path) -> dict[str, tuple[int, ...]] | None:
    """The UNet's tensor shapes from its safetensors files; None when it has none (e.g. only .bin)."""
    files = sorted(unet_dir.glob("*.safetensors"))
    if not files:
        return None
    shapes: dict[str, tuple[int, ...]] = {}
    for file in files:
        shapes.update(safetensors_shapes(file))
    return shapes


def offset_reason(name: str, mode: str, file: Path, unet: dict[str, tuple[int, ...]] | None) -> str | None:
    """Why `file` is not the `mode` offset file for this UNet, judged from its header and the UNet's."""
    what = f"{name}: the {mode} offset file {file}"
    if not file.is_file():
        return f"{what} does not exist."
    try:
        shapes = safetensors_shapes(file)
    except (OSError, ValueError) as exc:
        return f"{what} cannot be read as safetensors: {exc}."
    conv = shapes.get("conv_in.weight")
    wanted = MODE_CHANNELS[mode]
    if conv is None or len(conv) != 4:
        return f"{what} has no 4-d conv_in.weight; it is not an IC-Light offset file."
    if conv[1] != wanted:
        other = next((m for m, c in MODE_CHANNELS.items() if c == conv[1]), None)
        hint = f" (that is the {other} width: is it the {other} file?)" if other else ""
        return (f"{what} has conv_in.weight of shape {conv}: {mode} needs {wanted} input channels, found "
                f"{conv[1]}{hint}.")
    if unet is None:
        return None
    expected = {**unet}
    if "conv_in.weight" in unet:
        base = unet["conv_in.weight"]
        expected["conv_in.weight"] = (base[0], wanted, *base[2:])
    missing = sorted(set(expected) - set(shapes))
    extra = sorted(set(shapes) - set(expected))
    if missing or extra:
        return f"{name}: {_key_problem(file, missing, extra)}"
    for key, shape in expected.items():
        if shapes[key] != shape:
            return f"{what}: {key} has shape {shapes[key]}; the UNet of the weights folder expects {shape}."
    return None


@cache
def _direction_terms() -> frozenset[str]:
    from easel.engines.relight.prompt import load_lexicon

    return frozenset(t.text for t in load_lexicon().terms if t.category == "directions")


def light_from_prompt(prompt: str) -> str | None:
    """"left" / "right" / "top" / "bottom" when the prompt names where the light comes from (the CPU relight's
    lexicon, Chinese and English), else None: light from the front or behind has no gradient to start from."""
    from easel.engines.relight.prompt import parse_light_prompt

    plan = parse_light_prompt(prompt)
    if not any(term in _direction_terms() for term in plan.matched_terms):
        return None
    x, y, _ = plan.key.direction
    if math.hypot(x, y) < 0.5:  # mostly from the front or from behind
        return None
    if abs(x) >= abs(y):
        return "left" if x < 0 else "right"
    return "top" if y > 0 else "bottom"


def light_gradient(size: tuple[int, int], light: str) -> Image.Image:
    """Bright (255) on the light's side falling to 0 on the other: the reference's initial latent image
    ("grey": the flat 127 grey)."""
    width, height = size
    if light == "grey":
        plane = np.full((height, width), GREY)
    elif light in ("left", "right"):
        ramp = np.linspace(255.0, 0.0, width)
        plane = np.tile(ramp if light == "left" else ramp[::-1], (height, 1))
    else:
        ramp = np.linspace(255.0, 0.0, height)[:, None]
        plane = np.tile(ramp if light == "top" else ramp[::-1], (1, width))
    return Image.fromarray(np.repeat(plane[..., None], 3, axis=2).astype(np.uint8))


def foreground_on_grey(image: Image.Image, subject: np.ndarray | None) -> Image.Image:
    """The subject over the reference's neutral grey (127) where the mask is False."""
    if subject is None:
        return image
    rgb = np.asarray(image, dtype=np.float32)
    alpha = subject.astype(np.float32)[..., None]
    return Image.fromarray(np.clip(rgb * alpha + GREY * (1.0 - alpha) + 0.5, 0, 255).astype(np.uint8))


def background_without_subject(background: Image.Image, subject: np.ndarray | None,
                               size: tuple[int, int]) -> Image.Image:
    """The background at `size`, the subject's place (grown a little) filled from its surroundings, so the
    background condition does not carry the subject's old light."""
    import cv2

    scene = np.asarray(background.convert("RGB").resize(size, Image.Resampling.LANCZOS))
    if subject is None or not subject.any():
        return Image.fromarray(scene)
    hole = np.asarray(Image.fromarray(subject.astype(np.uint8) * 255).resize(size, Image.Resampling.NEAREST))
    grow = max(3, min(size) // 32) | 1
    hole = cv2.dilate(hole, np.ones((grow, grow), np.uint8))
    if hole.all():
        return Image.fromarray(np.full_like(scene, int(GREY)))
    return Image.fromarray(cv2.inpaint(scene, hole, max(3, min(size) // 16), cv2.INPAINT_TELEA))


def _has_cjk(text: str) -> bool:
    return any("\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff" for ch in text)


class IcLight(DiffusionBackend):
    name = "ic-light"
    tasks = frozenset({EngineTask.RELIGHT})
    pipeline_class = "StableDiffusionPipeline"
    accepts = frozenset({"StableDiffusionPipeline", "StableDiffusionImg2ImgPipeline"})
    components = ("vae", "text_encoder", "tokenizer", "unet")
    denoiser = "unet"
    default_steps = DEFAULT_STEPS["fc"]
    default_guidance = DEFAULT_GUIDANCE["fc"]
    no_cache_reason = "its denoiser is a UNet, and diffusers' first-block cache hooks transformer blocks"

    def __init__(self, config: BackendConfig, models_dir: Path | None = None) -> None:
        super().__init__(config, models_dir)
        self.pipes: dict[str, ModePipes] = {}

    # --- configuration --------------------------------------------------------------------------------------

    def offset_files(self) -> dict[str, Path]:
        """The configured offset files by mode; a folder (e.g. a pulled lllyasviel/ic-light) holds the
        published file names."""
        files = {}
        for mode in MODE_CHANNELS:
            value = getattr(self.config, mode)
            if value:
                path = self.resolve(value)
                files[mode] = path / PUBLISHED_FILES[mode] if path.is_dir() else path
        return files

    @property
    def modes(self) -> frozenset[str]:
        return frozenset(self.offset_files())

    def check(self) -> str | None:
        reason = super().check()
        if reason:
            return reason
        files = self.offset_files()
        if not files:
            return (f"{self.name}: no offset file configured; set fc = \"/path/to/{PUBLISHED_FILES['fc']}\" and/or "
                    f"fbc = \"/path/to/{PUBLISHED_FILES['fbc']}\" in its table.")
        assert self.path is not None
        try:
            unet = unet_shapes(self.path / "unet")
        except (OSError, ValueError) as exc:
            return f"{self.name}: the UNet weights in {self.path / 'unet'} cannot be read: {exc}."
        for mode, file in files.items():
            reason = offset_reason(self.name, mode, file, unet)
            if reason:
                value = getattr(self.config, mode)
                if not file.exists() and is_hub_id(value):
                    reason += f" Fetch it with `easel pull {value}`."
                return reason
        return None

    def describe(self) -> str:
        files = ", ".join(f"{mode} {file}" for mode, file in self.offset_files().items())
        return f"{self.name} (SD1.5 {self.path}; {files})"

    def refuses(self, task: EngineTask, request: EngineRequest) -> str | None:
        if task not in self.tasks:
            return f"{self.name} does not do {task.value}."
        light = request.params.get("light")
        if light is not None and light not in LIGHTS:
            return f"{self.name}: light must be one of {', '.join(LIGHTS)}, not {light!r}."
        if request.params.get("control") is not None or request.params.get("references"):
            return f"{self.name} cannot follow a line map or reference images."
        return None

    def mode_of(self, request: EngineRequest) -> str:
        """fbc when the request gives a background to keep, fc when it does not; whichever file is configured
        when only one is (_job notes what that changes)."""
        wanted = "fbc" if request.params.get("background") is not None else "fc"
        return wanted if wanted in self.modes else next(iter(self.modes))

    # --- loading --------------------------------------------------------------------------------------------

    def _from_pretrained(self, path: Path) -> Any:
        import torch
        from diffusers import DPMSolverMultistepScheduler, StableDiffusionPipeline

        scheduler = DPMSolverMultistepScheduler(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012,
                                                algorithm_type="sde-dpmsolver++", use_karras_sigmas=True,
                                                steps_offset=1)
        return StableDiffusionPipeline.from_pretrained(
            path, dtype=getattr(torch, self.config.torch_dtype_name), local_files_only=True, scheduler=scheduler,
            safety_checker=None, feature_extractor=None, requires_safety_checker=False)

    def _load(self) -> None:
        reason = self.check()
        if reason:
            raise EngineUnavailable(reason)
        try:
            pipes = self._build(self._from_pretrained(self.path))
        except EngineUnavailable:
            raise
        except Exception as exc:  # any loader failure is a configuration problem the message must name
            detail = " ".join(str(exc).split())[:400]
            raise EngineUnavailable(f"{self.name}: cannot load the weights at {self.path} with its offset files: "
                                    f"{type(exc).__name__}: {detail}") from exc
        self.pipes = pipes
        self.pipe = next(iter(pipes.values())).t2i

    def _build(self, base: Any) -> dict[str, ModePipes]:
        from diffusers import StableDiffusionImg2ImgPipeline, StableDiffusionPipeline
        from safetensors.torch import load_file

        files = self.offset_files()
        # copies of the pristine UNet first: merging changes it in place
        unets = {mode: copy.deepcopy(base.unet) for mode in list(files)[:-1]}
        unets[list(files)[-1]] = base.unet
        pipes = {}
        for mode, file in files.items():
            unet = unets[mode]
            widen_conv_in(unet, MODE_CHANNELS[mode])
            try:
                offsets = load_file(str(file))
            except Exception as exc:  # the header looked right; the tensors do not load
                raise EngineUnavailable(f"{self.name}: the {mode} offset file {file} cannot be loaded: "
                                        f"{type(exc).__name__}: {exc}") from exc
            merge_offsets(unet, offsets, file)
            unet.forward = ConcatConds(unet.forward)
            t2i = StableDiffusionPipeline(**{**base.components, "unet": unet}, requires_safety_checker=False)
            self._place(t2i)
            self._accelerate(t2i)
            i2i = StableDiffusionImg2ImgPipeline(**t2i.components, requires_safety_checker=False)
            i2i.set_progress_bar_config(disable=True)
            pipes[mode] = ModePipes(t2i, i2i)
        return pipes

    def unload(self) -> None:
        with self._run_lock, self._load_lock:
            self.pipes = {}
        super().unload()

    def memory_bytes(self) -> int:
        seen: dict[int, int] = {}
        for pipes in self.pipes.values():
            for component in pipes.t2i.components.values():
                for tensor in list(getattr(component, "parameters", list)()) + list(
                        getattr(component, "buffers", list)()):
                    seen[id(tensor)] = tensor.numel() * tensor.element_size()
        return sum(seen.values())

    # --- one request ----------------------------------------------------------------------------------------

    def _job(self, task: EngineTask, request: EngineRequest, ctx: EngineContext) -> Job:
        mask = request.mask
        if mask is not None and mask.shape != (request.image.height, request.image.width):
            raise InvalidParameter(f"relight needs a subject mask of the image's size "
                                   f"{request.image.height}x{request.image.width}.")
        mode = self.mode_of(request)
        self._note_fallback(request, mode, ctx)
        # the config's default area is sized for the 1024-px models; SD1.5 works at the reference's 512x640
        area = self.config.max_area if "max_area" in self.config.model_fields_set else DEFAULT_AREA
        source = foreground_on_grey(request.image.convert("RGB"), mask)
        work = self._fit(source.size, area)
        prompt = f"{request.prompt}, {ADDED_PROMPT}" if request.prompt.strip() else ADDED_PROMPT
        if _has_cjk(request.prompt):
            ctx.note("IC-Light's text encoder (SD1.5 CLIP) reads English; Chinese words steer it only weakly.")
        steps = request.steps or self.config.steps or DEFAULT_STEPS[mode]
        guidance = request.guidance
        if guidance is None:
            guidance = self.config.guidance if self.config.guidance is not None else DEFAULT_GUIDANCE[mode]
        return Job(task, request, ctx, source, None, None, work, prompt, request.negative_prompt or DEFAULT_NEGATIVE,
                   steps, guidance, None)

    def _note_fallback(self, request: EngineRequest, mode: str, ctx: EngineContext) -> None:
        given = request.params.get("background") is not None
        if given and mode == "fc":
            ctx.note(f"{self.name} has only the fc offset file: the background was generated from the prompt, not "
                     f"kept; set fbc = \"/path/to/{PUBLISHED_FILES['fbc']}\" to keep the image's own background.")
        elif not given and mode == "fbc":
            ctx.note(f"{self.name} has only the fbc offset file: the background is a light gradient (or grey), not "
                     f"made from the prompt; set fc = \"/path/to/{PUBLISHED_FILES['fc']}\" for a prompted one.")

    def _fit(self, size: tuple[int, int], area: int) -> tuple[int, int]:
        from easel.engines.diffusion.common import fit_area

        return fit_area(size, area, self._multiple(), self.min_side)

    def _multiple(self) -> int:
        # the VAE's factor times the UNet's downsamplings (64 for SD1.5, the reference's rounding); the
        # pipelines check divisibility by 8 whatever the VAE (a tiny one has less)
        unet = self.pipe.unet
        return max(8, int(self.pipe.vae_scale_factor) * 2 ** (len(unet.config.block_out_channels) - 1))

    def _call(self, batch: list[Job]) -> list[Image.Image]:
        import torch

        [job] = batch  # not batchable: one request per call
        request = job.request
        mode = self.mode_of(request)
        pipes = self.pipes[mode]
        light = request.params["light"] if "light" in request.params else light_from_prompt(request.prompt)
        device = "cpu" if self.config.offload else self.config.device
        generators = [torch.Generator(device).manual_seed(request.seed + i) for i in range(request.n)]
        background, hole = request.params.get("background"), request.mask
        if mode == "fc":
            background = None
        elif background is None:
            # no background given: the reference fbc demo's own choices, a light gradient, else grey
            background, hole = light_gradient(job.work, light or "grey"), None
        if mode == "fbc":
            light = None  # fbc starts from noise; the light is in its background
        highres = self._fit(job.work, round(job.work[0] * job.work[1] * HIGHRES_SCALE ** 2))
        first = self._first_pass_steps(job.steps, light is not None)
        second = _img2img_steps(round(job.steps / HIGHRES_DENOISE), HIGHRES_DENOISE)
        # one prompt per image, so every call's batch is the n images (no pipeline-side duplication)
        common = {"prompt": [job.prompt] * request.n, "negative_prompt": [job.negative] * request.n,
                  "guidance_scale": job.guidance, "generator": generators, "output_type": "latent"}
        with torch.inference_mode():
            conds = self._conds(pipes.t2i, job, background, hole, job.work)
            if light is not None:
                start = self._encode(pipes.t2i, [light_gradient(job.work, light)]).repeat(request.n, 1, 1, 1)
                latents = pipes.i2i(image=start, strength=GRADIENT_DENOISE,
                                    num_inference_steps=round(job.steps / GRADIENT_DENOISE),
                                    cross_attention_kwargs={"concat_conds": conds},
                                    callback_on_step_end=self._steps(job, 0, first + second), **common).images
            else:
                latents = pipes.t2i(width=job.work[0], height=job.work[1], num_inference_steps=job.steps,
                                    cross_attention_kwargs={"concat_conds": conds},
                                    callback_on_step_end=self._steps(job, 0, first + second), **common).images
            pixels = [image.resize(highres, Image.Resampling.LANCZOS) for image in self._decode(pipes.t2i, latents)]
            conds = self._conds(pipes.t2i, job, background, hole, highres)
            latents = pipes.i2i(image=self._encode(pipes.t2i, pixels), strength=HIGHRES_DENOISE,
                                num_inference_steps=round(job.steps / HIGHRES_DENOISE),
                                cross_attention_kwargs={"concat_conds": conds},
                                callback_on_step_end=self._steps(job, first, first + second), **common).images
            return self._decode(pipes.t2i, latents)

    @staticmethod
    def _first_pass_steps(steps: int, from_gradient: bool) -> int:
        return _img2img_steps(round(steps / GRADIENT_DENOISE), GRADIENT_DENOISE) if from_gradient else steps

    def _conds(self, pipe: Any, job: Job, background: Image.Image | None, hole: np.ndarray | None,
               size: tuple[int, int]) -> torch.Tensor:
        """The latents concatenated onto the UNet input: the foreground's (fc), then the background's (fbc)."""
        import torch

        foreground = self._encode(pipe, [job.source.resize(size, Image.Resampling.LANCZOS)])
        if background is None:
            return foreground
        scene = self._encode(pipe, [background_without_subject(background, hole, size)])
        return torch.cat([foreground, scene], dim=1)

    @staticmethod
    def _encode(pipe: Any, images: list[Image.Image]) -> torch.Tensor:
        """VAE latents (the distribution's mode, scaled) of RGB images."""
        vae = pipe.vae
        pixels = pipe.image_processor.preprocess(images).to(device=vae.device, dtype=vae.dtype)
        return vae.encode(pixels).latent_dist.mode() * vae.config.scaling_factor

    @staticmethod
    def _decode(pipe: Any, latents: torch.Tensor) -> list[Image.Image]:
        vae = pipe.vae
        pixels = vae.decode(latents.to(vae.dtype) / vae.config.scaling_factor).sample
        return list(pipe.image_processor.postprocess(pixels, output_type="pil"))

    @staticmethod
    def _steps(job: Job, before: int, total: int) -> Any:
        """The step callback of one pass: steps counted across both passes; cancellation stops the call."""

        def callback(pipe: Any, step: int, timestep: Any, tensors: dict[str, Any]) -> dict[str, Any]:
            job.ctx.progress(before + step + 1, total)
            return tensors

        return callback

    def call_kwargs(self, job: Job, entries: list[Entry]) -> dict[str, Any]:
        raise NotImplementedError("ic-light builds its own calls (_call)")


def _img2img_steps(num_inference_steps: int, strength: float) -> int:
    """How many steps an img2img call runs (diffusers' get_timesteps; this scheduler's order is 1)."""
    return min(int(num_inference_steps * strength), num_inference_steps)
