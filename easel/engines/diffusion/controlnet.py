"""What the ControlNet backends (sdxl-controlnet, qwen-image-controlnet) share: the `controlnet` folder of the
table checked without loading (present, a ControlNet of a class the backend takes, fitting the base's
denoiser), the conditioning scale from `extra`, and the line map a request must carry.

A ControlNet is trained against one base model family; one of another family (an SD 1.5 ControlNet under
SDXL, say) fails deep inside the first call with a shape error. check() compares the config fields that must
agree and names both folders and the field, so the table can be fixed before anything loads.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

from PIL import Image

from easel.engines.base import EngineRequest, EngineTask
from easel.engines.config import is_hub_id
from easel.engines.diffusion.common import DiffusionBackend

DEFAULT_SCALE = 1.0
MAX_SCALE = 2.0
# the engine tasks whose request must carry params["control"]
CONTROL_TASKS = frozenset({EngineTask.SKETCH_TO_IMAGE, EngineTask.BACKGROUND_SCENE})


def read_config(path: Path) -> dict[str, Any] | str:
    """A model folder's config.json, or why it cannot be read."""
    file = path / "config.json"
    if not file.is_file():
        return f"{path} has no config.json"
    try:
        data = json.loads(file.read_text())
    except (OSError, ValueError) as exc:
        return f"{file} cannot be read: {exc}"
    return data if isinstance(data, dict) else f"{file} is not a JSON object"


class ControlNetBackend(DiffusionBackend):
    """A DiffusionBackend with a second folder, `controlnet`, checked against the base's denoiser."""

    accepts_control = True
    controlnet_classes: ClassVar[frozenset[str]]  # config.json `_class_name`s of the ControlNets this backend loads
    # (field, how to name it) pairs of the denoiser's config that the ControlNet's config must repeat
    matching_fields: ClassVar[tuple[tuple[str, str], ...]]

    @property
    def controlnet_path(self) -> Path | None:
        return self.resolve(self.config.controlnet) if self.config.controlnet else None

    def check(self) -> str | None:
        return super().check() or self._scale_problem() or self._controlnet_problem()

    def controlnet_config(self) -> dict[str, Any]:
        """The ControlNet's config.json; empty when there is none to read (check() says why)."""
        path = self.controlnet_path
        data = read_config(path) if path is not None else {}
        return data if isinstance(data, dict) else {}

    def _controlnet_problem(self) -> str | None:
        path = self.controlnet_path
        if path is None:
            return (f'{self.name}: no controlnet configured; set controlnet = "/path/to/controlnet-folder" (or a hub '
                    "id) in its table, next to weights.")
        if not path.exists():
            hint = ""
            if self.config.controlnet and is_hub_id(self.config.controlnet):
                hint = f" Fetch it with `easel pull {self.config.controlnet}`."
            return f"{self.name}: the controlnet folder {path} does not exist.{hint}"
        config = read_config(path)
        if isinstance(config, str):
            return f"{self.name}: controlnet = {path} is not a ControlNet folder: {config}."
        found = config.get("_class_name")
        if found not in self.controlnet_classes:
            wanted = " or ".join(sorted(self.controlnet_classes))
            return (f"{self.name}: controlnet = {path} holds a {found or 'unnamed'} model, not a ControlNet this "
                    f"backend loads ({wanted}).")
        return self._fit_problem(path, config)

    def _fit_problem(self, path: Path, config: dict[str, Any]) -> str | None:
        assert self.path is not None
        base = read_config(self.path / self.denoiser)
        if isinstance(base, str):
            return f"{self.name}: {base}."
        for key, label in self.matching_fields:
            if key not in config or key not in base:  # a field left at its default is not judged here
                continue
            ours, theirs = _as_tuple(config[key]), _as_tuple(base[key])
            if ours != theirs:
                return (f"{self.name}: the ControlNet at {path} does not fit the base model at {self.path}: its "
                        f"{label} ({key}) is {config.get(key)!r}, the base {self.denoiser}'s is {base.get(key)!r}; "
                        "use a ControlNet trained for this base model.")
        return None

    def _scale_problem(self) -> str | None:
        scale = self.config.extra.get("controlnet_scale", DEFAULT_SCALE)
        if isinstance(scale, bool) or not isinstance(scale, int | float) or not 0.0 <= scale <= MAX_SCALE:
            return f"{self.name}: extra.controlnet_scale must be a number from 0 to {MAX_SCALE:g}, not {scale!r}."
        return None

    @property
    def controlnet_scale(self) -> float:
        return float(self.config.extra.get("controlnet_scale", DEFAULT_SCALE))

    def refuses(self, task: EngineTask, request: EngineRequest) -> str | None:
        refusal = super().refuses(task, request)
        if refusal is None and task in CONTROL_TASKS and request.params.get("control") is None:
            return f"{self.name} does {task.value} only from a line map (params['control'])."
        return refusal

    def describe(self) -> str:
        return f"{self.name} ({self.pipeline_class}, {self.path}, controlnet {self.controlnet_path})"

    @staticmethod
    def control_image(request: EngineRequest, work: tuple[int, int]) -> Image.Image:
        """The request's line map at the work size."""
        control = request.params.get("control")
        if not isinstance(control, Image.Image):
            raise TypeError("params['control'] must be a PIL image (an RGB line map).")
        return control.convert("RGB").resize(work, Image.Resampling.LANCZOS)


def _as_tuple(value: Any) -> Any:
    # JSON has lists where the classes keep tuples; compare the values, not the container type
    return tuple(value) if isinstance(value, list) else value
