"""IC-Light (relight): Easel's ic-light backend against the same recipe called by hand on the diffusers pipelines.

What runs (the tiny random-weight SD1.5 folder and offset files of tests/engines/diffusion/tiny_iclight.py, loaded
from disk; loading is excluded):
- plain: the reference recipe written out with the backend's own loaded pipelines: VAE-encode the foreground
  (and background), the first pass (fc with a light direction: img2img from the gradient at denoise 0.9; fbc:
  text-to-image), decode, resize x1.5, encode, the high-res img2img pass at denoise 0.5, decode.
- engine: `IcLight.run` on the same request: the subject composited over grey from the mask, the background's
  subject hole filled (fbc), the light parsed from the prompt, generators per image, the progress callback,
  the resize back to the input's size.
Rounds alternate plain / engine and medians are compared (this 2-vCPU machine moves single timings a lot).

Usage: OMP_NUM_THREADS=1 .venv/bin/python bench/bench_iclight.py [--rounds 5] [--steps 10] [--modes fc fbc]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from easel.engines.base import EngineRequest, EngineTask, NullContext  # noqa: E402
from easel.engines.config import BackendConfig  # noqa: E402
from easel.engines.diffusion import iclight as ic  # noqa: E402
from tests.engines.diffusion import tiny_iclight  # noqa: E402

PROMPT = "sunlight from the left, beach"
SIZE = (640, 512)
# the tiny VAE downsamples 2x (SD1.5's 8x), so its latents are 16x larger per pixel: keep the area small
AREA = 160 * 128


def inputs() -> tuple[Image.Image, np.ndarray]:
    rng = np.random.default_rng(0)
    image = Image.fromarray((rng.random((SIZE[1], SIZE[0], 3)) * 255).astype(np.uint8))
    mask = np.zeros((SIZE[1], SIZE[0]), dtype=bool)
    mask[100:480, 200:440] = True
    return image, mask


def plain(backend: ic.IcLight, mode: str, image: Image.Image, mask: np.ndarray, steps: int) -> Image.Image:
    import torch

    pipes = backend.pipes[mode]
    work = backend._fit(image.size, AREA)
    high = backend._fit(work, round(work[0] * work[1] * ic.HIGHRES_SCALE ** 2))
    fg = ic.foreground_on_grey(image, mask)
    gen = torch.Generator("cpu").manual_seed(0)
    common = {"prompt": f"{PROMPT}, {ic.ADDED_PROMPT}", "negative_prompt": ic.DEFAULT_NEGATIVE, "generator": gen,
              "guidance_scale": ic.DEFAULT_GUIDANCE[mode], "output_type": "latent"}

    def conds(size: tuple[int, int]) -> torch.Tensor:
        parts = [ic.IcLight._encode(pipes.t2i, [fg.resize(size)])]
        if mode == "fbc":
            parts.append(ic.IcLight._encode(pipes.t2i, [ic.background_without_subject(image, mask, size)]))
        return torch.cat(parts, dim=1)

    with torch.inference_mode():
        if mode == "fc":
            start = ic.IcLight._encode(pipes.t2i, [ic.light_gradient(work, "left")])
            latents = pipes.i2i(image=start, strength=0.9, num_inference_steps=round(steps / 0.9),
                                cross_attention_kwargs={"concat_conds": conds(work)}, **common).images
        else:
            latents = pipes.t2i(width=work[0], height=work[1], num_inference_steps=steps,
                                cross_attention_kwargs={"concat_conds": conds(work)}, **common).images
        pixels = [p.resize(high, Image.Resampling.LANCZOS) for p in ic.IcLight._decode(pipes.t2i, latents)]
        latents = pipes.i2i(image=ic.IcLight._encode(pipes.t2i, pixels), strength=0.5,
                            num_inference_steps=round(steps / 0.5),
                            cross_attention_kwargs={"concat_conds": conds(high)}, **common).images
        return ic.IcLight._decode(pipes.t2i, latents)[0]


def engine(backend: ic.IcLight, mode: str, image: Image.Image, mask: np.ndarray, steps: int) -> Image.Image:
    params: dict[str, Any] = {"background": image} if mode == "fbc" else {}
    request = EngineRequest(image=image, mask=mask, prompt=PROMPT, steps=steps, seed=0, params=params)
    return backend.run(EngineTask.RELIGHT, request, NullContext())[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--modes", nargs="+", default=["fc", "fbc"], choices=["fc", "fbc"])
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-iclight-"))
    offsets = {mode: str(tiny_iclight.build_offset(mode, root)) for mode in ("fc", "fbc")}
    config = BackendConfig(backend="ic-light", weights=str(tiny_iclight.build_sd15(root)), max_area=AREA, **offsets)
    backend = ic.IcLight(config)
    started = time.perf_counter()
    backend.load()
    print(f"load (both offsets merged): {time.perf_counter() - started:.2f} s")
    image, mask = inputs()
    for mode in args.modes:
        engine(backend, mode, image, mask, args.steps)  # warm-up
        times: dict[str, list[float]] = {"plain": [], "engine": []}
        for _ in range(args.rounds):
            for name, run in (("plain", plain), ("engine", engine)):
                t = time.perf_counter()
                run(backend, mode, image, mask, args.steps)
                times[name].append(time.perf_counter() - t)
        p, e = statistics.median(times["plain"]), statistics.median(times["engine"])
        print(f"{mode}: plain {p:.3f} s, engine {e:.3f} s, ratio {e / p:.2f}x "
              f"(input {SIZE[0]}x{SIZE[1]}, work area {AREA}, {args.steps} steps, {args.rounds} rounds)")


if __name__ == "__main__":
    main()
