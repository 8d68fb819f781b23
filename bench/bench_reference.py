"""reference_to_image: Easel's engine layer against a plain diffusers call of the same pipeline.

What runs, per backend, on the tiny random-weight folders of tests/engines/diffusion/tiny_reference.py (SDXL base
+ IP-Adapter + CLIP encoder) and tiny_models.py (Qwen-Image-Edit-Plus), loaded from real files:
- plain: the pipeline as a diffusers user would set it up (for sdxl-ip-adapter `load_ip_adapter` and
  `set_ip_adapter_scale(0.6)`), called once with the same prompt, steps, guidance, size and reference image.
- engine: `Engines.run(REFERENCE_TO_IMAGE, …)`: the backend module, reference resizing, prompt recipe, size
  fitting, generator per image, progress callback.
Model loading is excluded. Rounds alternate plain / engine and medians are compared (this 2-vCPU machine is
shared). Tiny models make the pipeline's own Python overhead a large share, so the ratio bounds Easel's
overhead from above; on real weights the denoiser dominates.

Usage: .venv/bin/python bench/bench_reference.py [--size 128] [--steps 4] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from PIL import Image  # noqa: E402

from easel.engines.base import EngineRequest, EngineTask, NullContext  # noqa: E402
from easel.engines.config import BackendConfig, EnginesConfig  # noqa: E402
from easel.engines.diffusion.qwenimage_edit_plus import reference_prompt  # noqa: E402
from easel.engines.diffusion.sdxl_ip_adapter import read_adapter  # noqa: E402
from easel.engines.manager import Engines  # noqa: E402
from tests.engines.diffusion import tiny_models, tiny_reference  # noqa: E402

PROMPT = "卡通形象小心翼翼地探出头"
BACKENDS = ("sdxl-ip-adapter", "qwen-image-edit-plus")


def character(size: int) -> Image.Image:
    from skimage import data

    return Image.fromarray(data.astronaut()).resize((size, size), Image.Resampling.LANCZOS)


def table(name: str, root: Path, size: int, steps: int) -> BackendConfig:
    if name == "sdxl-ip-adapter":
        return BackendConfig(backend=name, weights=str(tiny_reference.sdxl_base(root)), max_area=size * size,
                             steps=steps, ip_adapter=str(tiny_reference.ip_adapter(root)),
                             image_encoder=str(tiny_reference.image_encoder(root)))
    return BackendConfig(backend=name, weights=str(tiny_models.build(name, root)), max_area=size * size, steps=steps)


def plain_pipeline(name: str, root: Path) -> Any:
    import diffusers
    from transformers import CLIPImageProcessorPil, CLIPVisionModelWithProjection

    from easel.engines.diffusion.qwenimage_edit import area_scoped, load_processor

    if name == "qwen-image-edit-plus":
        folder = tiny_models.build(name, root)
        cls = area_scoped(diffusers.QwenImageEditPlusPipeline)
        return cls.from_pretrained(folder, processor=load_processor(folder / "processor"))
    encoder = CLIPVisionModelWithProjection.from_pretrained(tiny_reference.image_encoder(root))
    side = encoder.config.image_size
    features = CLIPImageProcessorPil(size={"shortest_edge": side}, crop_size={"height": side, "width": side})
    pipe = diffusers.StableDiffusionXLPipeline.from_pretrained(tiny_reference.sdxl_base(root), image_encoder=encoder,
                                                               feature_extractor=features)
    pipe.load_ip_adapter(read_adapter(tiny_reference.ip_adapter(root)), subfolder="", weight_name="")
    pipe.set_ip_adapter_scale(0.6)
    return pipe


def plain_call(pipe: Any, name: str, image: Image.Image, size: int, steps: int) -> float:
    import torch

    from easel.engines.diffusion import qwenimage_edit

    kwargs: dict[str, Any] = {"height": size, "width": size, "num_inference_steps": steps,
                              "generator": torch.Generator().manual_seed(0)}
    if name == "qwen-image-edit-plus":
        kwargs |= {"prompt": reference_prompt(PROMPT, 1), "image": [image.resize((size, size))],
                   "true_cfg_scale": 4.0, "negative_prompt": " "}
    else:
        kwargs |= {"prompt": PROMPT, "negative_prompt": "", "ip_adapter_image": [[image]], "guidance_scale": 6.0}
    token = qwenimage_edit._area.set(size * size)
    try:
        started = time.perf_counter()
        pipe(**kwargs)
        return time.perf_counter() - started
    finally:
        qwenimage_edit._area.reset(token)


def engine_call(engines: Engines, image: Image.Image) -> float:
    started = time.perf_counter()
    engines.run(EngineTask.REFERENCE_TO_IMAGE, EngineRequest(image=image, prompt=PROMPT, seed=0), NullContext())
    return time.perf_counter() - started


def bench(name: str, root: Path, size: int, steps: int, rounds: int) -> dict[str, float]:
    engines = Engines(EnginesConfig(tables={EngineTask.REFERENCE_TO_IMAGE: table(name, root, size, steps)}))
    pipe = plain_pipeline(name, root)
    pipe.set_progress_bar_config(disable=True)
    image = character(512)
    plain_call(pipe, name, image, size, steps)  # warm-up both, loading excluded
    engine_call(engines, image)
    plain, engine = [], []
    for _ in range(rounds):
        plain.append(plain_call(pipe, name, image, size, steps))
        engine.append(engine_call(engines, image))
    return {"plain": statistics.median(plain), "engine": statistics.median(engine)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--backends", nargs="*", default=list(BACKENDS))
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-reference-"))
    print(f"# reference_to_image, {platform.machine()} {os.cpu_count()} CPUs, {args.size}x{args.size}, "
          f"{args.steps} steps, median of {args.rounds}")
    print("| backend | plain pipeline (s) | Easel engine (s) | ratio |")
    print("|---|---|---|---|")
    for name in args.backends:
        result = bench(name, root, args.size, args.steps, args.rounds)
        ratio = result["engine"] / result["plain"]
        print(f"| {name} | {result['plain']:.3f} | {result['engine']:.3f} | {ratio:.2f}x |")


if __name__ == "__main__":
    main()
