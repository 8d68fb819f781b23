"""Which backend serves each engine task on this deployment: engines.toml, in one place.

The file is `$EASEL_HOME/engines.toml`, or the one named by EASEL_ENGINES. One table per engine task:

    [instruct_edit]
    backend = "flux2-klein"
    weights = "/models/FLUX.2-klein"
    device = "cuda"
    dtype = "bfloat16"
    steps = 28

With no file, the CPU engines serve what they always served; EASEL_SUPERRES_MODEL and
EASEL_INPAINT_ONNX remain shortcuts for the [upscale] and [erase] tables. API nodes and workers read
the same file, so the capability answer at create time is what the workers will do.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from easel.engines.base import EngineTask


class EnginesConfigError(ValueError):
    """engines.toml cannot be used; the message names the file, the table and the problem."""


# The BackendConfig fields that name weights (a local path or a hub id); `easel pull` fetches all of them.
WEIGHT_FIELDS = ("weights", "controlnet", "ip_adapter", "image_encoder", "fc", "fbc")


class BackendConfig(BaseModel):
    """One [task] table. Fields a backend does not use are ignored by it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    backend: str
    # a local folder / file, or a hub id fetched by `easel pull` into $EASEL_HOME/models/<id>
    weights: str | None = None
    device: str = "cpu"
    dtype: Literal["float32", "float16", "bfloat16"] | None = None  # None: bfloat16 on cuda, float32 on cpu
    steps: int | None = Field(None, ge=1, le=200)
    guidance: float | None = Field(None, ge=0.0, le=100.0)
    # the pixel area the model generates at (the result is resized to the requested size)
    max_area: int = Field(1024 * 1024, ge=64 * 64, le=4096 * 4096)
    # compatible requests queued together run as one batch of up to this many images
    max_batch: int = Field(1, ge=1, le=64)
    batch_wait_ms: int = Field(20, ge=0, le=5000)
    # tasks of this engine task's lane one process runs at once (default: see easel/queue/lanes.py)
    concurrency: int | None = Field(None, ge=1, le=64)
    offload: bool = False  # enable_model_cpu_offload: less GPU memory, slower
    compile: bool = False  # torch.compile the denoiser
    cache: Literal["first-block"] | None = None  # diffusers' first-block cache on the denoiser
    cache_threshold: float = Field(0.12, gt=0.0, le=1.0)
    # classical backends: the Real-ESRGAN model name (upscale)
    model: str | None = None
    # second weights some backends take, each a local path or a hub id like `weights`:
    controlnet: str | None = None  # sdxl-controlnet / qwen-image-controlnet: the ControlNet folder
    ip_adapter: str | None = None  # sdxl-ip-adapter: the IP-Adapter weights (folder or .safetensors)
    image_encoder: str | None = None  # sdxl-ip-adapter: the CLIP vision encoder folder
    fc: str | None = None  # ic-light: iclight_sd15_fc.safetensors (the prompt makes the background)
    fbc: str | None = None  # ic-light: iclight_sd15_fbc.safetensors (a given background is kept)
    # backend-specific settings that have no field of their own
    extra: dict[str, Any] = Field(default_factory=dict)

    @field_validator("device")
    @classmethod
    def _known_device(cls, value: str) -> str:
        if value == "cpu" or value == "cuda" or (value.startswith("cuda:") and value[5:].isdigit()) or value == "mps":
            return value
        raise ValueError(f"device must be 'cpu', 'cuda', 'cuda:N' or 'mps', not {value!r}")

    @property
    def torch_dtype_name(self) -> str:
        return self.dtype or ("float32" if self.device == "cpu" else "bfloat16")


@dataclass(frozen=True)
class EnginesConfig:
    """The parsed file (or the defaults): explicit tables, the manager's budget, and where it came from."""

    tables: dict[EngineTask, BackendConfig] = field(default_factory=dict)
    path: Path | None = None
    # GPU/CPU memory the loaded backends may hold together; least-recently-used ones are unloaded
    memory_budget_gb: float | None = None
    models_dir: Path | None = None
    # where each table came from, for messages: "[fill] in /etc/easel/engines.toml", "EASEL_INPAINT_ONNX"
    origins: dict[EngineTask, str] = field(default_factory=dict)

    def table(self, task: EngineTask) -> BackendConfig | None:
        return self.tables.get(task)


def engines_path(home: Path) -> Path | None:
    named = os.environ.get("EASEL_ENGINES", "").strip()
    if named:
        return Path(named).expanduser()
    default = home / "engines.toml"
    return default if default.exists() else None


def load_engines_config(home: Path, superres_model: str = "x4plus", inpaint_onnx: str | None = None) -> EnginesConfig:
    """Read engines.toml (when there is one) and apply the environment shortcuts under it."""
    path = engines_path(home)
    data: dict[str, Any] = {}
    if path is not None:
        try:
            data = tomllib.loads(path.read_text())
        except FileNotFoundError:
            raise EnginesConfigError(f"EASEL_ENGINES names {path}, which does not exist.") from None
        except tomllib.TOMLDecodeError as exc:
            raise EnginesConfigError(f"{path} is not valid TOML: {exc}") from None
    return parse_engines_config(data, path, home, superres_model, inpaint_onnx)


def parse_engines_config(data: dict[str, Any], path: Path | None, home: Path, superres_model: str = "x4plus",
                         inpaint_onnx: str | None = None) -> EnginesConfig:
    where = str(path) if path else "engines config"
    budget = data.pop("memory_budget_gb", None)
    if budget is not None and (not isinstance(budget, int | float) or isinstance(budget, bool) or budget <= 0):
        raise EnginesConfigError(f"{where}: memory_budget_gb must be a positive number, not {budget!r}.")
    tasks = {t.value: t for t in EngineTask}
    tables: dict[EngineTask, BackendConfig] = {}
    for name, table in data.items():
        if name not in tasks:
            raise EnginesConfigError(
                f"{where}: [{name}] is not an engine task; known tasks: {', '.join(sorted(tasks))}."
            )
        if not isinstance(table, dict):
            raise EnginesConfigError(f"{where}: {name} must be a table ([{name}]), not a value.")
        try:
            tables[tasks[name]] = BackendConfig.model_validate(table)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or name}: {e['msg']}" for e in exc.errors()[:4])
            raise EnginesConfigError(f"{where}: [{name}] {problems}.") from None
    origins = {task: f"[{task.value}] in {where}" for task in tables}
    origins.update(_apply_shortcuts(tables, superres_model, inpaint_onnx))
    return EnginesConfig(tables=tables, path=path, memory_budget_gb=float(budget) if budget else None,
                         models_dir=home / "models", origins=origins)


def _apply_shortcuts(tables: dict[EngineTask, BackendConfig], superres_model: str,
                     inpaint_onnx: str | None) -> dict[EngineTask, str]:
    """EASEL_SUPERRES_MODEL and EASEL_INPAINT_ONNX, where the file does not say otherwise."""
    origins = {}
    if EngineTask.UPSCALE not in tables and superres_model != "x4plus":
        tables[EngineTask.UPSCALE] = BackendConfig(backend="realesrgan", model=superres_model)
        origins[EngineTask.UPSCALE] = f"EASEL_SUPERRES_MODEL={superres_model}"
    if EngineTask.ERASE not in tables and inpaint_onnx:
        tables[EngineTask.ERASE] = BackendConfig(backend="onnx-inpaint", weights=inpaint_onnx)
        origins[EngineTask.ERASE] = f"EASEL_INPAINT_ONNX={inpaint_onnx}"
    return origins


def is_hub_id(weights: str) -> bool:
    """"org/name" (what `easel pull` fetches), as opposed to a path on this machine."""
    if weights.startswith(("/", "~", ".")) or "\\" in weights:
        return False
    parts = weights.split("/")
    return len(parts) == 2 and all(parts) and not Path(weights).exists()


def hub_repo(ref: str) -> tuple[str, str] | None:
    """("org/name", path inside the repo, "" for all of it) when `ref` names a hub repo or a file/folder in one
    ("h94/IP-Adapter/sdxl_models/ip-adapter_sdxl.safetensors"); None for a path on this machine."""
    parts = ref.split("/")
    if len(parts) < 2 or not is_hub_id("/".join(parts[:2])) or Path(ref).exists():
        return None
    return "/".join(parts[:2]), "/".join(parts[2:])


def weights_path(weights: str, models_dir: Path | None) -> Path:
    """Where the weights a table names are on disk: the path itself, or (inside) a pulled hub repo under
    models_dir."""
    if hub_repo(weights) is not None and models_dir is not None:
        return models_dir / weights
    return Path(weights).expanduser()
