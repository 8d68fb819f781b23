"""What every diffusers backend shares: checking a weights folder without loading it, loading it as an
EngineUnavailable-or-working pipeline, the work size, seeds, progress/cancel, batching, and the masked tasks.

A request becomes a `Job`: the picture the pipeline sees (for OUTPAINT the padded canvas), its mask, the work
size and the settings that decide whether two jobs may share one pipeline call. Each job asks for `n` images;
image i is drawn from `torch.Generator(device).manual_seed(seed + i)`.

Batching (`max_batch` > 1, backends with `batchable = True` only): a thread that gets the pipeline lock leads.
It waits up to `batch_wait_ms` for compatible jobs (same `Job.key`), runs them as one call with per-image lists
and hands each caller its images. A member cancelled mid-batch stops receiving progress and gets TaskCanceled
when the call ends; the others keep their results. The call is cut short only when every member cancelled.
`max_batch` bounds how many images a gathered call holds; one request's own `n` images always run together.
Without batching (max_batch = 1, or a pipeline that cannot batch per sample) requests run one call at a time.
"""

from __future__ import annotations

import gc
import importlib.util
import json
import threading
import time
from abc import abstractmethod
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from PIL import Image

from easel.engines.base import Backend, EngineContext, EngineRequest, EngineTask, TaskCanceled, composite_masked
from easel.engines.config import is_hub_id, weights_path
from easel.errors import EngineUnavailable, InvalidParameter

if TYPE_CHECKING:
    from easel.engines.config import BackendConfig

# portrait_style is an instruction edit with a prompt recipe per style (catalog/style_repaint.py)
EDIT_TASKS = frozenset({EngineTask.INSTRUCT_EDIT, EngineTask.STYLIZE, EngineTask.PORTRAIT_STYLE})
# background_scene is a fill of everything outside the subject's alpha (catalog/background_generation.py)
FILL_TASKS = frozenset({EngineTask.FILL, EngineTask.ERASE, EngineTask.OUTPAINT, EngineTask.BACKGROUND_SCENE})
# tasks whose request carries the mask the pipeline repaints
MASK_TASKS = frozenset({EngineTask.FILL, EngineTask.ERASE, EngineTask.BACKGROUND_SCENE})
MASKED_TASKS = FILL_TASKS

ERASE_PROMPT = "empty background, seamless continuation of the surrounding scene"
ERASE_NEGATIVE = "object, person, text, watermark"
# how far (canvas px) the outpaint mask reaches into the original; the fill composite's soft edge
OUTPAINT_OVERLAP = 8
FEATHER = 6


@dataclass
class Job:
    """One request as the pipeline will see it."""

    task: EngineTask
    request: EngineRequest
    ctx: EngineContext
    source: Image.Image  # what the pipeline edits (for OUTPAINT: the padded canvas)
    mask: np.ndarray | None  # HxW bool over `source`, True = repaint
    keep: np.ndarray | None  # HxW bool over `source`: pixels the result must keep exactly (None: outside `mask`)
    work: tuple[int, int]  # (width, height) the pipeline generates at
    prompt: str
    negative: str
    steps: int
    guidance: float
    strength: float | None
    images: list[Image.Image] = field(default_factory=list)
    error: BaseException | None = None
    canceled: TaskCanceled | None = None
    done: threading.Event = field(default_factory=threading.Event)
    queued_at: float = field(default_factory=time.monotonic)

    @property
    def key(self) -> tuple[Any, ...]:
        """Jobs with equal keys can share one pipeline call."""
        return self.task, self.work, self.steps, self.guidance, self.strength, bool(self.negative)


@dataclass
class Entry:
    """One image of a pipeline call: its job and its seed."""

    job: Job
    seed: int
    image: Image.Image  # `job.source` at the work size
    mask: Image.Image | None  # L, 255 = repaint, at the work size


def fit_area(size: tuple[int, int], max_area: int, multiple: int, min_side: int = 0) -> tuple[int, int]:
    """`size`'s aspect ratio in at most `max_area` pixels (unless min_side forces more), each side a multiple
    of `multiple` and at least `min_side`: of the sides rounded down or up, the pair closest in aspect."""
    import math

    width, height = size
    scale = math.sqrt(max_area / float(width * height))
    low = max(multiple, -(-min_side // multiple) * multiple)

    def options(value: float) -> set[int]:
        down = max(low, int(value * scale) // multiple * multiple)
        return {down, down + multiple}

    pairs = [(w, h) for w in options(width) for h in options(height)]
    fitting = [p for p in pairs if p[0] * p[1] <= max_area] or [min(pairs, key=lambda p: p[0] * p[1])]
    aspect = math.log(width / height)
    return min(fitting, key=lambda p: (abs(math.log(p[0] / p[1]) - aspect), -p[0] * p[1]))


def outpaint_canvas(image: Image.Image, scales: tuple[float, float, float, float]) -> tuple[Image.Image, np.ndarray]:
    """The padded canvas (edge-replicated then blurred, so the VAE sees plausible colours) and the original's
    place in it (True where the original is)."""
    import cv2

    top, bottom, left, right = (float(s) for s in scales)
    for value in (top, bottom, left, right):
        if not 1.0 <= value <= 2.0:
            raise InvalidParameter(f"outpaint scales must each be between 1.0 and 2.0, got {scales}.")
    width, height = image.size
    pad_t, pad_b = round(height * (top - 1)), round(height * (bottom - 1))
    pad_l, pad_r = round(width * (left - 1)), round(width * (right - 1))
    rgb = np.asarray(image.convert("RGB"))
    padded = cv2.copyMakeBorder(rgb, pad_t, pad_b, pad_l, pad_r, cv2.BORDER_REPLICATE)
    radius = max(3, max(padded.shape[:2]) // 40) | 1
    blurred = cv2.GaussianBlur(padded, (radius * 2 + 1, radius * 2 + 1), 0)
    keep = np.zeros(padded.shape[:2], dtype=bool)
    keep[pad_t:pad_t + height, pad_l:pad_l + width] = True
    canvas = np.where(keep[..., None], padded, blurred)
    return Image.fromarray(canvas), keep


def folder_reason(name: str, path: Path, accepts: frozenset[str], components: tuple[str, ...]) -> str | None:
    """Why `path` is not a diffusers folder this backend can load, judged from its files only."""
    if not path.exists():
        return f"{name}: the weights folder {path} does not exist."
    index_file = path / "model_index.json"
    if not path.is_dir() or not index_file.is_file():
        return f"{name}: {path} is not a diffusers pipeline folder (no model_index.json)."
    try:
        index = json.loads(index_file.read_text())
    except (OSError, ValueError) as exc:
        return f"{name}: {index_file} cannot be read: {exc}."
    found = index.get("_class_name") if isinstance(index, dict) else None
    if found not in accepts:
        wanted = " or ".join(sorted(accepts))
        return f"{name}: {path} holds a {found or 'unnamed'} pipeline; this backend needs {wanted}."
    missing = [c for c in components if not index.get(c) or not (path / c).is_dir()]
    if missing:
        return f"{name}: {path} lacks the component folder(s) {', '.join(missing)}."
    for package in ("torch", "diffusers", "transformers"):
        if importlib.util.find_spec(package) is None:
            return f"{name}: the Python package {package} is not installed (pip install 'easel[diffusion]')."
    return None


class DiffusionBackend(Backend):
    """A diffusers pipeline behind the Backend protocol. Subclasses name the pipeline and build its call."""

    generative = True
    pipeline_class: ClassVar[str]  # the diffusers class used to load and run
    accepts: ClassVar[frozenset[str]]  # model_index `_class_name`s whose weights that class can load
    components: ClassVar[tuple[str, ...]]  # sub-folders the weights must have
    denoiser: ClassVar[str] = "transformer"
    default_steps: ClassVar[int] = 28
    default_guidance: ClassVar[float] = 4.0
    default_strength: ClassVar[float | None] = None  # None: the pipeline takes no strength
    batchable: ClassVar[bool] = False  # per-sample lists of images + prompts really batch
    no_cache_reason: ClassVar[str | None] = None  # why cache = "first-block" cannot work here, if it cannot
    min_side: ClassVar[int] = 0
    # whether run() honours request.params["control"] (a line map) and params["references"] (images to
    # follow); a request carrying one to a backend that would ignore it is refused, never served without it
    accepts_control: ClassVar[bool] = False
    accepts_references: ClassVar[bool] = False
    # where pulled hub ids live ($EASEL_HOME/models), for callers that construct backends with config alone
    default_models_dir: ClassVar[Path | None] = None

    def __init__(self, config: BackendConfig, models_dir: Path | None = None) -> None:
        super().__init__(config)
        self.models_dir = models_dir
        self.pipe: Any = None
        self._run_lock = threading.Lock()  # one pipeline call at a time per backend
        self._load_lock = threading.Lock()
        self._queue: list[Job] = []
        self._queue_cond = threading.Condition()

    # --- configuration and loading -------------------------------------------------------------------------

    @property
    def path(self) -> Path | None:
        return self.resolve(self.config.weights) if self.config.weights else None

    def resolve(self, ref: str) -> Path:
        """Where a weight field of the table (weights, controlnet, ip_adapter, fc, …) is on disk: the path, or
        (a part of) a hub repo pulled into the models folder."""
        return weights_path(ref, self.models_dir or DiffusionBackend.default_models_dir)

    def check(self) -> str | None:
        if self.path is None:
            return f"{self.name}: no weights configured; set weights = \"/path/to/diffusers-folder\" in its table."
        if self.config.cache and self.no_cache_reason:
            return f"{self.name}: cache = \"{self.config.cache}\" is not available: {self.no_cache_reason}."
        reason = folder_reason(self.name, self.path, self.accepts, self.components)
        if reason and not self.path.exists() and self.config.weights and is_hub_id(self.config.weights):
            reason += f" Fetch it with `easel pull {self.config.weights}`."
        return reason

    def load(self) -> None:
        with self._load_lock:
            if self.pipe is None:
                self._load()

    def _load(self) -> None:
        reason = self.check()
        if reason:
            raise EngineUnavailable(reason)
        try:
            pipe = self._from_pretrained(self.path)
            self._place(pipe)
            self._accelerate(pipe)
        except EngineUnavailable:
            raise
        except Exception as exc:  # any loader failure is a configuration problem the message must name
            detail = " ".join(str(exc).split())[:400]
            raise EngineUnavailable(
                f"{self.name}: cannot load the weights at {self.path} as {self.pipeline_class}: "
                f"{type(exc).__name__}: {detail}") from exc
        self.pipe = pipe

    def _pipeline_type(self) -> Any:
        import diffusers

        return getattr(diffusers, self.pipeline_class)

    def _from_pretrained(self, path: Path) -> Any:
        import torch

        dtype = getattr(torch, self.config.torch_dtype_name)
        return self._pipeline_type().from_pretrained(path, dtype=dtype, local_files_only=True,
                                                     **self._load_overrides(path))

    def _load_overrides(self, path: Path) -> dict[str, Any]:
        """Components to pass ready-made instead of letting from_pretrained load them."""
        return {}

    def _place(self, pipe: Any) -> None:
        if self.config.offload and self.config.device != "cpu":
            pipe.enable_model_cpu_offload(device=self.config.device)
        else:
            pipe.to(self.config.device)
        pipe.set_progress_bar_config(disable=True)

    def _accelerate(self, pipe: Any) -> None:
        model = getattr(pipe, self.denoiser)
        if self.config.cache == "first-block":
            from diffusers import FirstBlockCacheConfig

            model.enable_cache(FirstBlockCacheConfig(threshold=self.config.cache_threshold))
        if self.config.compile:
            # in place, so the pipeline keeps calling the same module (cache hooks included); torch decides on
            # dynamic shapes after a recompile (dynamic=True trips an inductor bug on the SDXL UNet)
            model.compile()

    def unload(self) -> None:
        # under the run lock, so a call in progress keeps its pipeline to the end
        with self._run_lock, self._load_lock:
            self.pipe = None
        gc.collect()
        if self.config.device.startswith("cuda"):
            import torch

            torch.cuda.empty_cache()

    def memory_bytes(self) -> int:
        if self.pipe is None:
            return 0
        total = 0
        for component in self.pipe.components.values():
            for tensor in list(getattr(component, "parameters", list)()) + list(getattr(component, "buffers", list)()):
                total += tensor.numel() * tensor.element_size()
        return total

    def describe(self) -> str:
        return f"{self.name} ({self.pipeline_class}, {self.path})"

    def refuses(self, task: EngineTask, request: EngineRequest) -> str | None:
        if task not in self.tasks:
            return f"{self.name} does not do {task.value}."
        if task in MASK_TASKS and request.mask is None:
            return f"{self.name}: {task.value} needs a mask."
        if task == EngineTask.OUTPAINT and len(request.params.get("scales") or ()) != 4:
            return f"{self.name}: outpaint needs scales (top, bottom, left, right)."
        if request.params.get("control") is not None and not self.accepts_control:
            return f"{self.name} cannot follow a line map (control image); a ControlNet backend can."
        if request.params.get("references") and not self.accepts_references:
            return f"{self.name} cannot follow reference images."
        return None

    # --- one request -----------------------------------------------------------------------------------------

    def run(self, task: EngineTask, request: EngineRequest, ctx: EngineContext) -> list[Image.Image]:
        if task not in self.tasks:
            raise EngineUnavailable(f"{self.name} does not do {task.value}.")
        self.load()
        job = self._job(task, request, ctx)
        self._submit(job)
        if job.canceled is not None:
            raise job.canceled
        if job.error is not None:
            raise job.error
        return self._finish(job)

    def _job(self, task: EngineTask, request: EngineRequest, ctx: EngineContext) -> Job:
        source, mask, keep = self._source(task, request)
        work = fit_area(source.size, self.config.max_area, self._multiple(), self.min_side)
        prompt, negative = self._prompts(task, request)
        steps = request.steps or self.config.steps or self._default_steps()
        if request.params.get("steps_scale") is not None:  # relative to the configured steps
            steps = max(1, round(steps * float(request.params["steps_scale"])))
        strength = None
        if self.default_strength is not None:
            strength = request.strength if request.strength is not None else self.default_strength
            # inpaint pipelines run int(steps * strength) steps; keep at least one
            strength = min(max(strength, 1.0 / steps), 1.0)
        return Job(task, request, ctx, source, mask, keep, work, prompt, negative, steps,
                   self._guidance(request, ctx), strength)

    def _source(self, task: EngineTask, request: EngineRequest) -> tuple[Image.Image, np.ndarray | None,
                                                                           np.ndarray | None]:
        image = request.image.convert("RGB")
        if task == EngineTask.OUTPAINT:
            scales = request.params.get("scales")
            if scales is None or len(scales) != 4:
                raise InvalidParameter("outpaint needs params['scales'] = (top, bottom, left, right).")
            canvas, keep = outpaint_canvas(image, tuple(scales))
            return canvas, self._outpaint_mask(keep), keep
        if task in MASK_TASKS:
            mask = request.mask
            if mask is None or mask.shape != (image.height, image.width):
                raise InvalidParameter(f"{task.value} needs a mask of the image's size {image.height}x{image.width}.")
            return image, mask.astype(bool), None
        return image, None, None

    @staticmethod
    def _outpaint_mask(keep: np.ndarray) -> np.ndarray:
        """The new border, grown a little into the original so the model blends the seam."""
        import cv2

        kernel = np.ones((2 * OUTPAINT_OVERLAP + 1,) * 2, np.uint8)
        return cv2.erode(keep.astype(np.uint8), kernel, borderType=cv2.BORDER_CONSTANT, borderValue=1) == 0

    def _prompts(self, task: EngineTask, request: EngineRequest) -> tuple[str, str]:
        if task == EngineTask.ERASE:
            return ERASE_PROMPT, ERASE_NEGATIVE
        return request.prompt, request.negative_prompt

    def _guidance(self, request: EngineRequest, ctx: EngineContext) -> float:
        if request.guidance is not None:
            return request.guidance
        base = self.config.guidance if self.config.guidance is not None else self.default_guidance
        if request.params.get("prompt_weight") is not None:  # 0..1 around the configured guidance
            return self.edit_guidance(base, float(request.params["prompt_weight"]))
        if self.default_strength is None and request.strength is not None:
            # no strength in instruction-edit pipelines: it sets how hard the prompt pulls instead
            mapped = self.edit_guidance(base, request.strength)
            ctx.note(f"{self.name} has no strength; strength {request.strength:g} set guidance {mapped:g}.")
            return mapped
        return base

    def _default_steps(self) -> int:
        return self.default_steps

    def _multiple(self) -> int:
        """Side lengths the pipeline accepts without cropping: the VAE factor times the 2x2 latent packing."""
        return int(self.pipe.vae_scale_factor) * 2

    def _finish(self, job: Job) -> list[Image.Image]:
        out_size = job.request.size or job.source.size
        results = []
        for image in job.images:
            image = image.convert("RGB")
            if job.mask is not None:
                image = self._composite(job, image)
            if image.size != out_size:
                image = image.resize(out_size, Image.Resampling.LANCZOS)
            results.append(image)
        return results

    @staticmethod
    def _composite(job: Job, generated: Image.Image) -> Image.Image:
        assert job.mask is not None
        # outpaint keeps the whole original exactly; the seam band was generated only to guide the model
        region = job.mask if job.keep is None else ~job.keep
        return composite_masked(job.source, generated, region, feather=FEATHER if job.keep is None else 0)

    # --- scheduling: one pipeline call at a time, compatible jobs together -----------------------------------

    def _submit(self, job: Job) -> None:
        with self._queue_cond:
            self._queue.append(job)
            self._queue_cond.notify_all()
        while not job.done.is_set():
            with self._run_lock:
                if job.done.is_set():
                    return
                batch = self._gather(job)
                self._execute(batch)

    def _gather(self, leader: Job) -> list[Job]:
        """The leader and the queued jobs compatible with it, waiting up to batch_wait_ms for more."""
        limit = self.config.max_batch if self.batchable else 1
        deadline = leader.queued_at + self.config.batch_wait_ms / 1000.0
        with self._queue_cond:
            while limit > 1:
                batch = self._compatible(leader, limit)
                remaining = deadline - time.monotonic()
                if sum(j.request.n for j in batch) >= limit or remaining <= 0:
                    break
                self._queue_cond.wait(remaining)
            batch = self._compatible(leader, limit)
            for member in batch:
                self._queue.remove(member)
        return batch

    def _compatible(self, leader: Job, limit: int) -> list[Job]:
        batch, images = [leader], leader.request.n
        for job in self._queue:
            if job is not leader and job.key == leader.key and images + job.request.n <= limit:
                batch.append(job)
                images += job.request.n
        return batch

    def _execute(self, batch: list[Job]) -> None:
        try:
            self.load()  # again: an unload may have run since the caller's load
            images = self._call(batch)
            start = 0
            for job in batch:
                job.images = images[start:start + job.request.n]
                start += job.request.n
        except TaskCanceled as exc:
            for job in batch:
                job.canceled = job.canceled or exc
        except Exception as exc:  # every member of the call shares its failure
            for job in batch:
                job.error = exc
        finally:
            for job in batch:
                job.done.set()

    def _call(self, batch: list[Job]) -> list[Image.Image]:
        import torch

        first = batch[0]
        device = "cpu" if self.config.offload else self.config.device
        entries = []
        for job in batch:
            image = job.source.resize(first.work, Image.Resampling.LANCZOS)
            mask = None
            if job.mask is not None:
                mask = Image.fromarray(job.mask.astype(np.uint8) * 255).resize(first.work, Image.Resampling.NEAREST)
            entries.extend(Entry(job, job.request.seed + i, image, mask) for i in range(job.request.n))
        kwargs = {
            "prompt": [e.job.prompt for e in entries],
            "generator": [torch.Generator(device).manual_seed(e.seed) for e in entries],
            "num_inference_steps": first.steps,
            "width": first.work[0],
            "height": first.work[1],
            "callback_on_step_end": self._progress(batch),
            **self.call_kwargs(first, entries),
        }
        try:
            with self._cache_scope():
                return list(self.pipe(**kwargs).images)
        finally:
            if self.config.cache:
                # a cancelled call leaves the cache's residuals behind; the next call must not reuse them
                getattr(self.pipe, self.denoiser)._reset_stateful_cache()

    def _cache_scope(self) -> AbstractContextManager[Any]:
        """Pipelines that do not name their denoiser calls need a cache context for the first-block cache."""
        return nullcontext()

    def _progress(self, batch: list[Job]) -> Any:
        """The step callback: reports to every member; stops the call only when all members cancelled."""

        def callback(pipe: Any, step: int, timestep: Any, tensors: dict[str, Any]) -> dict[str, Any]:
            total = int(getattr(pipe, "_num_timesteps", 0) or batch[0].steps)
            for job in batch:
                if job.canceled is None:
                    try:
                        job.ctx.progress(step + 1, total)
                    except TaskCanceled as exc:
                        job.canceled = exc
            if all(job.canceled is not None for job in batch):
                raise batch[0].canceled or TaskCanceled()
            return tensors

        return callback

    @abstractmethod
    def call_kwargs(self, job: Job, entries: list[Entry]) -> dict[str, Any]:
        """The pipeline-specific arguments of one call (images, masks, guidance, strength)."""

    # --- helpers for subclasses ----------------------------------------------------------------------------

    @staticmethod
    def edit_guidance(base: float, strength: float | None) -> float:
        """Instruction-edit pipelines have no strength: 0.5 keeps the guidance, 0 turns the prompt's pull off
        (guidance 1), 1 doubles its excess over 1."""
        if strength is None:
            return base
        return 1.0 + max(base - 1.0, 0.0) * 2.0 * min(max(strength, 0.0), 1.0)

