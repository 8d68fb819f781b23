"""ControlNet backends: Easel's engine-layer time against a plain diffusers call of the same pipeline, and the
line extraction's own cost.

What runs (tiny random-weight folders from tests/engines/diffusion/tiny_controlnet.py, loaded from disk):
- plain: the diffusers ControlNet pipeline built from the same folders, called directly at SIZE x SIZE with
  the same prompt, steps, guidance, conditioning scale, line map and seeded generator.
- engine: the same folders through `Engines.run` (the backend module, size fitting, generator per image,
  progress callback, for background_scene the inpaint pipeline made by `from_pipe` and the exact composite).
- lines: `extract_lines` and `sketch_lines` on a photo at 1024x1024 and 4096x4096 (CPU, OpenCV).
Rounds alternate plain / engine; medians are compared (single timings on this shared 2-vCPU machine move a lot).
Tiny models make the pipeline cheap, so the ratio shows Easel's overhead at its most visible; on real weights
the denoiser dominates and the same fixed cost is a smaller share.

Usage: .venv/bin/python bench/bench_controlnet.py [--steps 4] [--rounds 3] [--size 256] [--out FILE]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from easel.engines.base import EngineRequest, EngineTask, NullContext  # noqa: E402
from easel.engines.config import BackendConfig, EnginesConfig  # noqa: E402
from easel.engines.lines import extract_lines, sketch_lines  # noqa: E402
from easel.engines.manager import Engines  # noqa: E402
from tests.engines.diffusion import tiny_controlnet  # noqa: E402

PROMPT = "a red house by a lake, watercolour"
# (label, backend, ControlNet fixture folder, engine task)
CASES: list[tuple[str, str, str, EngineTask]] = [
    ("sdxl-controlnet sketch_to_image", "sdxl-controlnet", "sdxl-controlnet", EngineTask.SKETCH_TO_IMAGE),
    ("sdxl-controlnet (union) sketch_to_image", "sdxl-controlnet", "sdxl-controlnet-union",
     EngineTask.SKETCH_TO_IMAGE),
    ("sdxl-controlnet background_scene", "sdxl-controlnet", "sdxl-controlnet", EngineTask.BACKGROUND_SCENE),
    ("qwen-image-controlnet sketch_to_image", "qwen-image-controlnet", "qwen-controlnet",
     EngineTask.SKETCH_TO_IMAGE),
]


def photo(size: int) -> Image.Image:
    from skimage import data

    return Image.fromarray(data.astronaut()).resize((size, size), Image.Resampling.LANCZOS)


def subject_mask(size: int) -> np.ndarray:
    around = np.ones((size, size), bool)
    around[size // 4: 3 * size // 4, size // 4: 3 * size // 4] = False
    return around


def base_folder(backend: str, root: Path) -> Path:
    return tiny_controlnet.build(tiny_controlnet.PAIRS[backend][0], root)


def plain_pipeline(backend: str, controlnet_name: str, task: EngineTask, root: Path) -> Any:
    import diffusers

    base = base_folder(backend, root)
    folder = tiny_controlnet.build(controlnet_name, root)
    if backend.startswith("qwen"):
        controlnet = diffusers.QwenImageControlNetModel.from_pretrained(folder)
        pipe = diffusers.QwenImageControlNetPipeline.from_pretrained(base, controlnet=controlnet)
    else:
        union = controlnet_name.endswith("union")
        controlnet = getattr(diffusers, "ControlNetUnionModel" if union else "ControlNetModel").from_pretrained(folder)
        name = "StableDiffusionXLControlNetUnion" if union else "StableDiffusionXLControlNet"
        if task == EngineTask.BACKGROUND_SCENE:
            name += "Inpaint"
        pipe = getattr(diffusers, name + "Pipeline").from_pretrained(base, controlnet=controlnet)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def plain_kwargs(backend: str, controlnet_name: str, task: EngineTask, image: Image.Image, control: Image.Image,
                 steps: int) -> dict[str, Any]:
    """The call Easel's backend makes, with its defaults (guidance, strength, negative prompt)."""
    import torch

    size = image.size[0]
    kwargs: dict[str, Any] = {"prompt": PROMPT, "num_inference_steps": steps, "width": size, "height": size,
                              "generator": torch.Generator("cpu").manual_seed(1),
                              "controlnet_conditioning_scale": 1.0}
    if backend.startswith("qwen"):
        return {**kwargs, "control_image": control, "true_cfg_scale": 4.0, "negative_prompt": " "}
    kwargs.update(guidance_scale=7.5, negative_prompt="")
    union = controlnet_name.endswith("union")
    if union:
        kwargs.update(control_image=[control], control_mode=[2])
    if task == EngineTask.BACKGROUND_SCENE:
        mask = Image.fromarray(subject_mask(size).astype(np.uint8) * 255)
        kwargs.update(image=image, mask_image=mask, strength=0.99)
        if not union:
            kwargs["control_image"] = control
    elif not union:
        kwargs["image"] = control
    return kwargs


def engines_for(backend: str, controlnet_name: str, task: EngineTask, root: Path, size: int,
                steps: int) -> Engines:
    table = BackendConfig(backend=backend, weights=str(base_folder(backend, root)),
                          controlnet=str(tiny_controlnet.build(controlnet_name, root)), max_area=size * size,
                          steps=steps)
    return Engines(EnginesConfig(tables={task: table}))


def timed(call: Any, *args: Any) -> float:
    start = time.perf_counter()
    call(*args)
    return time.perf_counter() - start


def bench_case(label: str, backend: str, controlnet_name: str, task: EngineTask, root: Path, size: int, steps: int,
               rounds: int) -> str:
    image = photo(size)
    control = extract_lines(image)
    pipe = plain_pipeline(backend, controlnet_name, task, root)
    engines = engines_for(backend, controlnet_name, task, root, size, steps)
    request = EngineRequest(image=image, prompt=PROMPT, seed=1, params={"control": control},
                            mask=subject_mask(size) if task == EngineTask.BACKGROUND_SCENE else None)

    def plain() -> None:
        pipe(**plain_kwargs(backend, controlnet_name, task, image, control, steps))

    def engine() -> None:
        engines.run(task, request, NullContext())

    plain()
    engine()  # warm-up: loading excluded
    plain_times, engine_times = [], []
    for _ in range(rounds):
        plain_times.append(timed(plain))
        engine_times.append(timed(engine))
    p, e = statistics.median(plain_times), statistics.median(engine_times)
    return f"| {label} | {size}x{size}, {steps} steps | {p:.3f} s | {e:.3f} s | {e / p:.2f}x |"


def bench_lines() -> list[str]:
    rows = []
    for size in (1024, 4096):
        image = photo(size)
        drawing = Image.fromarray(255 - np.asarray(extract_lines(image)))
        extract = statistics.median(timed(extract_lines, image) for _ in range(3))
        sketch = statistics.median(timed(sketch_lines, drawing) for _ in range(3))
        rows.append(f"| {size}x{size} | {extract:.3f} s | {sketch:.3f} s |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    lines = [f"ControlNet backends, {datetime.now():%Y-%m-%d %H:%M} on {platform.processor() or platform.machine()}, "
             f"{os.cpu_count()} CPUs, torch CPU float32, medians of {args.rounds} rounds", "",
             "| case | work | plain diffusers call | Easel engine layer | ratio |", "|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        for label, backend, controlnet_name, task in CASES:
            row = bench_case(label, backend, controlnet_name, task, Path(tmp), args.size, args.steps, args.rounds)
            print(row, flush=True)
            lines.append(row)
    lines += ["", "| line map size | extract_lines (photo) | sketch_lines (drawing) |", "|---|---|---|"]
    for row in bench_lines():
        print(row, flush=True)
        lines.append(row)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
