"""Diffusion backends: Easel's end-to-end task time against a plain diffusers call of the same pipeline.

What runs, per backend (tiny random-weight pipelines from tests/engines/diffusion/tiny_models.py,
saved as real diffusers folders and loaded from them):
- plain: `Pipeline.from_pretrained(folder)` called directly at 512x512 with the same prompt, steps,
  image (and mask) and a seeded generator: the cost of the pipeline alone.
- engine: the same folder through Easel's engine layer (`Engines.run`, the backend module, the
  size fitting, generator per image, progress callback, compositing), no HTTP.
- task: a real `easel serve` process with the folder in engines.toml: POST the create (the image as a
  data: URI), poll GET /api/v1/tasks/{id} every BENCH_POLL_S (1 s, as the SDK) until SUCCEEDED, download the
  result: the client's wall time, and the task's own submit-to-end time from its record (queueing,
  fetch, decode, generation, encoding, storing; no polling). Model loading is excluded (one warm-up
  task first). Faster polling slows the worker measurably, because tiny models' steps are Python-bound and
  share the GIL with the server answering the polls: flux2-klein 1.78x at 10 ms polls against 1.12x at
  100 ms; sdxl-inpaint 1.41x at 100 ms against 1.08x at 1 s.
Rounds alternate plain / engine / task and medians are compared (this 2-vCPU machine moves single
timings by up to 2x while other jobs run).

The GPU figures come from bench/gpu_diffusion.py (full-size architectures on random weights).

Usage: .venv/bin/python bench/bench_diffusion.py [--backends flux2-klein ...] [--steps 8] [--rounds 3]
"""

from __future__ import annotations

import argparse
import base64
import io
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from easel.engines.base import EngineRequest, EngineTask, NullContext  # noqa: E402
from easel.engines.config import BackendConfig, EnginesConfig  # noqa: E402
from easel.engines.diffusion.flux2_klein_edit import text_encoder_layers  # noqa: E402
from easel.engines.manager import Engines  # noqa: E402
from tests.conftest import EaselServer  # noqa: E402
from tests.engines.diffusion import tiny_models  # noqa: E402

INSTRUCT = ("flux2-klein", "qwen-image-edit", "qwen-image-edit-plus")
FILL = ("flux2-klein-inpaint", "qwen-image-edit-inpaint", "flux-fill", "sdxl-inpaint")
PROMPT = "a small red boat on the water"
DEEP_VAE = ("flux2-klein", "flux2-klein-inpaint", "sdxl-inpaint")
# the other fixtures' 2x/4x VAEs make 512x512 take minutes per step on 2 cores; they run at this size
SHALLOW_MAX_SIZE = 256
POLL_S = float(os.environ.get("BENCH_POLL_S", "1.0"))  # the dashscope SDK polls every 1 s, then slower


def photo(size: int) -> Image.Image:
    from skimage import data

    return Image.fromarray(data.astronaut()).resize((size, size), Image.Resampling.LANCZOS)


def square_mask(size: int) -> np.ndarray:
    mask = np.zeros((size, size), bool)
    mask[size // 4: 3 * size // 4, size // 4: 3 * size // 4] = True
    return mask


# The settings Easel's backends use by default, given to the plain call too, so both do the same work
# (e.g. Qwen with guidance 4 runs true CFG: two denoiser passes per step).
SAME_WORK: dict[str, dict[str, Any]] = {
    "flux2-klein": {"guidance_scale": 4.0},
    "flux2-klein-inpaint": {"guidance_scale": 4.0, "strength": 1.0},
    "qwen-image-edit": {"true_cfg_scale": 4.0, "negative_prompt": " "},
    "qwen-image-edit-plus": {"true_cfg_scale": 4.0, "negative_prompt": " "},
    "qwen-image-edit-inpaint": {"true_cfg_scale": 4.0, "negative_prompt": " ", "strength": 1.0},
    "flux-fill": {"guidance_scale": 30.0},
    "sdxl-inpaint": {"guidance_scale": 7.5, "strength": 0.99},
}


def plain_pipeline(name: str, folder: Path) -> Any:
    """The pipeline as a diffusers user loads it. Qwen folders need the image-only processor (transformers'
    Qwen2VLProcessor wants torchvision for video), and the condition area is made a parameter the same way the
    backend does it, so both generate at the same area."""
    import diffusers

    if not name.startswith("qwen"):
        return diffusers.DiffusionPipeline.from_pretrained(folder)
    from easel.engines.diffusion.qwenimage_edit import area_scoped, load_processor

    cls = area_scoped(getattr(diffusers, tiny_models.PIPELINES[name]))
    return cls.from_pretrained(folder, processor=load_processor(folder / "processor"))


def plain_call(pipe: Any, name: str, image: Image.Image, mask: np.ndarray, steps: int, work: int) -> float:
    import torch

    from easel.engines.diffusion import qwenimage_edit

    kwargs: dict[str, Any] = {"prompt": PROMPT, "image": image, "height": work, "width": work,
                              "num_inference_steps": steps, "generator": torch.Generator().manual_seed(0),
                              **SAME_WORK[name]}
    if name in FILL:
        kwargs["mask_image"] = Image.fromarray(mask.astype(np.uint8) * 255)
    if name.startswith("flux2"):  # the tiny text encoder has fewer layers than the pipeline's default picks
        kwargs["text_encoder_out_layers"] = text_encoder_layers(pipe)
    token = qwenimage_edit._area.set(work * work)
    try:
        started = time.perf_counter()
        pipe(**kwargs)
        return time.perf_counter() - started
    finally:
        qwenimage_edit._area.reset(token)


def engine_call(engines: Engines, name: str, image: Image.Image, mask: np.ndarray) -> float:
    task = EngineTask.FILL if name in FILL else EngineTask.INSTRUCT_EDIT
    request = EngineRequest(image=image, prompt=PROMPT, mask=mask if name in FILL else None, seed=0)
    started = time.perf_counter()
    engines.run(task, request, NullContext())
    return time.perf_counter() - started


def task_call(srv: EaselServer, key: str, name: str, image: Image.Image, mask: np.ndarray) -> tuple[float, float]:
    """(client wall time to the downloaded result, the task's own submit-to-end time as Easel records it)."""
    headers = {"Authorization": f"Bearer {key}", "X-DashScope-Async": "enable"}
    inp: dict[str, Any] = {"prompt": PROMPT, "base_image_url": data_uri(image)}
    if name in FILL:
        inp |= {"function": "description_edit_with_mask",
                "mask_image_url": data_uri(Image.fromarray(mask.astype(np.uint8) * 255))}
    else:
        inp["function"] = "description_edit"
    body = {"model": "wanx2.1-imageedit", "input": inp, "parameters": {"seed": 0}}
    with httpx.Client(base_url=srv.api, headers=headers, timeout=120) as client:
        started = time.perf_counter()
        task_id = client.post("/services/aigc/image2image/image-synthesis", json=body).json()["output"]["task_id"]
        while True:
            output = client.get(f"/tasks/{task_id}").json()["output"]
            if output["task_status"] not in ("PENDING", "RUNNING"):
                break
            time.sleep(POLL_S)
        assert output["task_status"] == "SUCCEEDED", output
        client.get(output["results"][0]["url"])
        wall = time.perf_counter() - started
    recorded = (parse_time(output["end_time"]) - parse_time(output["submit_time"])).total_seconds()
    return wall, recorded


def parse_time(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%d %H:%M:%S.%f")


def data_uri(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def deep_vae_folder(name: str, root: Path) -> Path:
    """The test fixture with a VAE that downsamples 8x as the real ones do (the fixture's downsamples 2x, which
    at 512x512 gives the denoiser 64k tokens and minutes per step); only FLUX.2 klein and SDXL, whose denoisers
    take the same latent channels at any VAE depth."""
    from diffusers import AutoencoderKL, AutoencoderKLFlux2

    folder = root / f"{name}-vae8"
    if (folder / "model_index.json").exists():
        return folder
    components = tiny_models.COMPONENTS[name]()
    blocks = 4
    if name.startswith("flux2"):
        components["vae"] = AutoencoderKLFlux2(
            in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * blocks,
            up_block_types=("UpDecoderBlock2D",) * blocks, block_out_channels=(4,) * blocks, layers_per_block=1,
            latent_channels=1, norm_num_groups=1, use_quant_conv=False, use_post_quant_conv=False)
    else:
        components["vae"] = AutoencoderKL(
            block_out_channels=(8,) * blocks, in_channels=3, out_channels=3, latent_channels=4, norm_num_groups=8,
            down_block_types=("DownEncoderBlock2D",) * blocks, up_block_types=("UpDecoderBlock2D",) * blocks)
    tiny_models._pipeline_class(name)(**components).save_pretrained(folder)
    return folder


def bench_backend(name: str, root: Path, size: int, steps: int, rounds: int) -> dict[str, Any]:
    deep = name in DEEP_VAE
    folder = deep_vae_folder(name, root) if deep else tiny_models.build(name, root)
    size = size if deep else min(size, SHALLOW_MAX_SIZE)
    table = BackendConfig(backend=name, weights=str(folder), max_area=size * size, steps=steps)
    task = EngineTask.FILL if name in FILL else EngineTask.INSTRUCT_EDIT
    engines = Engines(EnginesConfig(tables={task: table}))
    pipe = plain_pipeline(name, folder)
    # the input is at least the seed's 512 px minimum; the model generates at `size` (max_area), as Easel does
    image, mask = photo(max(512, size)), square_mask(max(512, size))
    home = Path(tempfile.mkdtemp(prefix="bench-diffusion-"))
    toml = home / "engines.toml"
    toml.write_text(f'[{task.value}]\nbackend = "{name}"\nweights = "{folder}"\nmax_area = {size * size}\n'
                    f"steps = {steps}\n")
    srv = EaselServer(home, {"EASEL_ENGINES": str(toml), "HF_HUB_OFFLINE": "1", "EASEL_WORKERS": "1"}).start()
    try:
        key = srv.new_key()
        plain_call(pipe, name, image, mask, steps, size)
        engine_call(engines, name, image, mask)
        task_call(srv, key, name, image, mask)
        times: dict[str, list[float]] = {"plain": [], "engine": [], "task": [], "recorded": []}
        for _ in range(rounds):
            times["plain"].append(plain_call(pipe, name, image, mask, steps, size))
            times["engine"].append(engine_call(engines, name, image, mask))
            wall, recorded = task_call(srv, key, name, image, mask)
            times["task"].append(wall)
            times["recorded"].append(recorded)
    finally:
        srv.stop()
    medians = {k: statistics.median(v) for k, v in times.items()}
    return {"backend": name, "size": size, **medians, "engine_ratio": medians["engine"] / medians["plain"],
            "task_ratio": medians["task"] / medians["plain"], "recorded_ratio": medians["recorded"] / medians["plain"]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backends", nargs="*", default=[*INSTRUCT, *FILL])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    root = ROOT / "bench" / "out" / "diffusion-models"
    print(f"# bench_diffusion: {platform.node()} {os.cpu_count()} CPUs, {args.size}x{args.size}, {args.steps} steps, "
          f"median of {args.rounds}")
    print("| backend | size | plain diffusers s | engine layer s | task, recorded s | task, client s | engine/plain "
          "| recorded/plain | client/plain |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name in args.backends:
        row = bench_backend(name, root, args.size, args.steps, args.rounds)
        print(f"| {name} | {row['size']}² | {row['plain']:.3f} | {row['engine']:.3f} | {row['recorded']:.3f} | "
              f"{row['task']:.3f} | {row['engine_ratio']:.2f}x | {row['recorded_ratio']:.2f}x | "
              f"{row['task_ratio']:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
