"""Qwen-Image-Edit instruction edit: `QwenImageEditPipeline` (INSTRUCT_EDIT, STYLIZE).

Defaults: 40 steps, true-CFG scale 4.0 with the negative prompt " " when the request gives none (true CFG
only runs with a negative prompt; guidance <= 1 turns it off). No strength in the pipeline: strength sets
the CFG scale (0.5 keeps it, 0 turns CFG off, 1 doubles its excess over 1).

Two things this module also provides to the other Qwen backends:
- The processor is loaded image-only (`image_only_processor`): transformers 5's `Qwen2VLProcessor` insists on a
  video processor that needs torchvision; the edit pipelines never send video, so the processor here declares
  only the image processor and tokenizer, loaded from the folder's `processor/` files.
- The condition image area: the pipelines resize the input to a fixed 1024x1024 area (Plus also to 384x384 for
  the vision-language prompt). `area_scoped` derives a subclass whose `__call__` is the same code run over a
  copy of its module's globals, with `calculate_dimensions` reading the area from a ContextVar the backend sets
  around each call: per thread, per call, and nothing global is patched.

Not batched across requests: a list of images is not handled per sample by this pipeline. A request's `n`
images run as one call (`num_images_per_prompt`).
"""

from __future__ import annotations

import functools
import inspect
import types
from contextvars import ContextVar
from pathlib import Path
from typing import Any, ClassVar

from PIL import Image

from easel.engines.diffusion.common import EDIT_TASKS, DiffusionBackend, Entry, Job

QWEN_COMPONENTS = ("scheduler", "vae", "text_encoder", "tokenizer", "processor", "transformer")
FIXED_AREA = 1024 * 1024  # what the pipelines hard-code for the image they encode

_area: ContextVar[int | None] = ContextVar("qwen_condition_area", default=None)


@functools.cache
def image_only_processor() -> type:
    """`Qwen2VLProcessor` without its video half (see the module docstring)."""
    from transformers import Qwen2VLProcessor
    from transformers.processing_utils import ProcessorMixin

    class ImageOnlyQwen2VLProcessor(Qwen2VLProcessor):
        """Images and text only; `videos=` is not supported."""

        def __init__(self, image_processor: Any = None, tokenizer: Any = None, chat_template: str | None = None,
                     **kwargs: Any) -> None:
            self.image_token = getattr(tokenizer, "image_token", "<|image_pad|>")
            self.video_token = getattr(tokenizer, "video_token", "<|video_pad|>")
            self.image_token_id = tokenizer.convert_tokens_to_ids(self.image_token)
            self.video_token_id = tokenizer.convert_tokens_to_ids(self.video_token)
            ProcessorMixin.__init__(self, image_processor, tokenizer, chat_template=chat_template)

    return ImageOnlyQwen2VLProcessor


def load_processor(folder: Path) -> Any:
    return image_only_processor().from_pretrained(folder, local_files_only=True)


def _scoped_dimensions(original: Any) -> Any:
    def calculate_dimensions(target_area: float, ratio: float) -> Any:
        area = _area.get()
        if area is not None:
            # the fixed 1024^2 becomes the work area; smaller fixed areas (Plus's 384^2) are only capped
            target_area = area if target_area == FIXED_AREA else min(target_area, area)
        return original(target_area, ratio)

    return calculate_dimensions


@functools.cache
def area_scoped(cls: type) -> type:
    """A subclass of pipeline `cls` whose condition area follows `_area` (see the module docstring)."""
    import torch

    inner = inspect.unwrap(cls.__call__)
    if "calculate_dimensions" not in inner.__globals__:
        return cls  # another diffusers layout: its own area applies
    scope = dict(inner.__globals__)
    scope["calculate_dimensions"] = _scoped_dimensions(scope["calculate_dimensions"])
    call = types.FunctionType(inner.__code__, scope, inner.__name__, inner.__defaults__, inner.__closure__)
    call.__kwdefaults__ = inner.__kwdefaults__
    call = torch.no_grad()(functools.wraps(inner)(call))
    # same name and module, so from_pretrained and save_pretrained treat it as the diffusers class
    return type(cls.__name__, (cls,), {"__call__": call, "__module__": cls.__module__, "__doc__": cls.__doc__})


class QwenBase(DiffusionBackend):
    """What the Qwen edit, edit-plus and edit-inpaint backends share."""

    components = QWEN_COMPONENTS
    default_steps = 40
    default_guidance = 4.0

    def _pipeline_type(self) -> Any:
        return area_scoped(super()._pipeline_type())

    def _load_overrides(self, path: Path) -> dict[str, Any]:
        return {"processor": load_processor(path / "processor")}

    def _call(self, batch: list[Job]) -> list[Image.Image]:
        width, height = batch[0].work
        token = _area.set(width * height)
        try:
            return super()._call(batch)
        finally:
            _area.reset(token)

    def _qwen_kwargs(self, job: Job, entries: list[Entry]) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"prompt": job.prompt, "num_images_per_prompt": len(entries),
                                  "true_cfg_scale": job.guidance}
        if job.guidance > 1.0:
            kwargs["negative_prompt"] = job.negative or " "
        return kwargs


class QwenImageEdit(QwenBase):
    name = "qwen-image-edit"
    tasks = EDIT_TASKS
    pipeline_class = "QwenImageEditPipeline"
    accepts: ClassVar[frozenset[str]] = frozenset({"QwenImageEditPipeline", "QwenImageEditInpaintPipeline"})

    def call_kwargs(self, job: Job, entries: list[Entry]) -> dict[str, Any]:
        return {"image": entries[0].image, **self._qwen_kwargs(job, entries)}
