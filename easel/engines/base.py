"""The engine seam: one vocabulary of engine tasks, the request an engine receives, and the Backend protocol.

The catalog turns a public model's request into `EngineRequest`s for an `EngineTask`; the engines
config (engines.toml) says which backend serves each task on this deployment; the model manager
loads backends. Backends know nothing of HTTP, tasks or the catalog.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import numpy as np
from PIL import Image

if TYPE_CHECKING:
    from easel.engines.config import BackendConfig


class EngineTask(StrEnum):
    UPSCALE = "upscale"  # super-resolution by a factor
    ERASE = "erase"  # remove what the mask covers, continue the surroundings
    FILL = "fill"  # repaint the mask area from a prompt
    OUTPAINT = "outpaint"  # extend the canvas, continue the image into the new border
    STYLIZE = "stylize"  # restyle the whole image as the prompt says
    INSTRUCT_EDIT = "instruct_edit"  # edit the image as an instruction says
    # part 2 of the generative engines (issue 9)
    COLORIZE = "colorize"
    SKETCH_TO_IMAGE = "sketch_to_image"
    REFERENCE_TO_IMAGE = "reference_to_image"
    BACKGROUND_SCENE = "background_scene"
    RELIGHT = "relight"
    PORTRAIT_STYLE = "portrait_style"


class TaskCanceled(Exception):
    """Raised from a progress report when the task's cancellation was requested."""


class EngineContext(Protocol):
    """What a backend may tell the task that runs it."""

    def progress(self, done: int, total: int) -> None:
        """Report `done` of `total` steps; raises TaskCanceled when the task was cancelled."""
        ...

    def note(self, text: str) -> None:
        """Tell the user something about how the request was served."""
        ...


class NullContext:
    """For callers with no task (benchmarks, tests of a backend alone)."""

    def __init__(self) -> None:
        self.notes: list[str] = []
        self.steps: list[tuple[int, int]] = []

    def progress(self, done: int, total: int) -> None:
        self.steps.append((done, total))

    def note(self, text: str) -> None:
        self.notes.append(text)


@dataclass
class EngineRequest:
    """One engine call. `n` images come back, image i seeded with `seed + i`."""

    image: Image.Image  # RGB
    prompt: str = ""
    negative_prompt: str = ""
    # HxW bool, True where the image may change (FILL, ERASE; OUTPAINT builds its own; RELIGHT: True on the subject)
    mask: np.ndarray | None = None
    n: int = 1
    seed: int = 0
    # (width, height) of the images to return; None = the input's size (reference_to_image: the character's
    # aspect in the backend's work area, since its output is a new picture, not an edit of the input)
    size: tuple[int, int] | None = None
    # how far the result may move from the input, 0..1 (seed 002 `strength`); None = backend default
    strength: float | None = None
    steps: int | None = None
    guidance: float | None = None
    # task-specific parameters, by name:
    #   "factor" (upscale), "scales" (outpaint: top, bottom, left, right),
    #   "references": list[Image] (reference_to_image, background_scene: images whose content/style to use),
    #   "reference_weight": float 0..1 (how strongly the references steer),
    #   "control": Image (sketch_to_image, background_scene: an RGB line map, white lines on black, at
    #              the input's size), "is_sketch": bool (sketch_to_image: the input already is a line drawing),
    #   "background": Image (relight: the background to keep and match), "light": str (relight direction),
    #   "prompt_weight": float 0..1 (how hard the prompt pulls: 0.5 keeps the configured guidance),
    #   "steps_scale": float (multiplies the configured steps, e.g. a higher-quality model_version)
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def out_size(self) -> tuple[int, int]:
        return self.size or self.image.size


class Backend(ABC):
    """A way to do some engine tasks. Constructed cheaply from its config; `load` does the heavy work."""

    name: ClassVar[str]
    tasks: ClassVar[frozenset[EngineTask]]
    # Generative backends create new content from a prompt (diffusion); classical ones cannot.
    generative: ClassVar[bool] = False

    def __init__(self, config: BackendConfig, models_dir: Path | None = None) -> None:
        self.config = config
        # where `easel pull` puts hub ids named as weights
        self.models_dir = models_dir

    def check(self) -> str | None:
        """Why this backend cannot work here, judged without loading it (missing weights, missing
        packages); None when it looks usable. API nodes and workers answer the same from it."""
        return None

    def load(self) -> None:
        """Load weights and place them on the device; raises EngineUnavailable with the reason."""
        return None

    def unload(self) -> None:
        """Release what `load` took (the manager evicts least-recently-used backends)."""
        return None

    def memory_bytes(self) -> int:
        """Estimated memory held once loaded (for the manager's budget)."""
        return 0

    def refuses(self, task: EngineTask, request: EngineRequest) -> str | None:
        """Why this backend cannot honestly do this particular request, or None."""
        return None

    @abstractmethod
    def run(self, task: EngineTask, request: EngineRequest, ctx: EngineContext) -> list[Image.Image]:
        """Do the work: `request.n` images of `request.out_size`."""

    def describe(self) -> str:
        """One line for the model listing: what serves the task here."""
        return self.name


def composite_masked(original: Image.Image, generated: Image.Image, mask: np.ndarray, feather: int = 0) -> Image.Image:
    """The generated pixels inside the mask, the original's outside, with a soft edge grown *into* the mask
    only, so every pixel outside the mask is the original's, bit for bit."""
    import cv2

    if generated.size != original.size:
        generated = generated.resize(original.size, Image.Resampling.LANCZOS)
    inside = mask.astype(np.uint8)
    if feather > 0 and inside.any():
        # distance from the mask's border, inside it; ramps 0 -> 1 over `feather` pixels
        distance = cv2.distanceTransform(inside, cv2.DIST_L2, 5)
        weight = np.clip(distance / feather, 0.0, 1.0)
    else:
        weight = inside.astype(np.float32)
    weight = weight[..., None]
    base = np.asarray(original.convert("RGB"), dtype=np.float32)
    new = np.asarray(generated.convert("RGB"), dtype=np.float32)
    out = base * (1.0 - weight) + new * weight
    blended = np.clip(out + 0.5, 0, 255).astype(np.uint8)
    result = np.where(inside[..., None] > 0, blended, np.asarray(original.convert("RGB")))
    return Image.fromarray(result)
