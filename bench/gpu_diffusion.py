"""GPU bench for the diffusion backends, for a machine lent through the device tool (one prepared run).

Builds a FLUX.2-klein-4B-shaped pipeline on random weights (full-size transformer and VAE, so the compute
shapes are real; a 1-layer text encoder of the real width, so prompt encoding is not measured), saves it
as a diffusers folder, and measures at 1024x1024, same process, same pipeline:
1. plain diffusers: `pipe(prompt, image=..., num_inference_steps=S)`: s/image, steps/s;
2. Easel's backend (`Engines.run`, engine layer only): s/image, and the ratio to 1;
3. batching: 4 requests from 4 threads with max_batch=4 against the same 4 one after another;
4. first-block cache and torch.compile against eager (each in a fresh Engines);
and the peak GPU memory of each. Prints a Markdown table for bench/RESULTS.md.

    python bench/gpu_diffusion.py --out /tmp/gpu-bench            # on the GPU machine
    python bench/gpu_diffusion.py --tiny --device cpu --steps 2   # checks the script itself here
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from easel.engines.base import EngineRequest, EngineTask, NullContext  # noqa: E402
from easel.engines.config import BackendConfig, EnginesConfig  # noqa: E402
from easel.engines.diffusion.flux2_klein_edit import text_encoder_layers  # noqa: E402
from easel.engines.manager import Engines  # noqa: E402

PROMPT = "a red boat on a calm lake at sunset"


def build_pipeline(folder: Path, tiny: bool) -> None:
    """Save a random-weight Flux2KleinPipeline; full size unless `tiny` (a shape check only)."""
    import torch
    from diffusers import (
        AutoencoderKLFlux2,
        FlowMatchEulerDiscreteScheduler,
        Flux2KleinPipeline,
        Flux2Transformer2DModel,
    )
    from transformers import Qwen3Config, Qwen3ForCausalLM

    from tests.engines.diffusion.tiny_models import _qwen_tokenizer

    if (folder / "model_index.json").exists():
        return
    tok = _qwen_tokenizer()
    torch.manual_seed(0)
    if tiny:
        transformer = Flux2Transformer2DModel(in_channels=4, num_layers=1, num_single_layers=1,
                                              attention_head_dim=16, num_attention_heads=2, joint_attention_dim=16,
                                              axes_dims_rope=[4, 4, 4, 4])
        vae = AutoencoderKLFlux2(block_out_channels=(8, 8), latent_channels=1, norm_num_groups=1,
                                 down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2)
        hidden, layers = 16, 2
    else:
        # klein 4B: 5 double-stream + 20 single-stream blocks, 24 heads of 128, text width 3 x 2560
        transformer = Flux2Transformer2DModel(num_layers=5, num_single_layers=20, num_attention_heads=24,
                                              joint_attention_dim=7680, guidance_embeds=False)
        vae = AutoencoderKLFlux2()
        hidden, layers = 2560, 3
    text_encoder = Qwen3ForCausalLM(Qwen3Config(hidden_size=hidden, intermediate_size=hidden, num_hidden_layers=layers,
                                                num_attention_heads=2, num_key_value_heads=2, head_dim=hidden // 2,
                                                vocab_size=len(tok)))
    pipe = Flux2KleinPipeline(scheduler=FlowMatchEulerDiscreteScheduler(), vae=vae, text_encoder=text_encoder,
                              tokenizer=tok, transformer=transformer)
    pipe.save_pretrained(folder)


def peak_gb(device: str) -> float:
    import torch

    if not device.startswith("cuda"):
        return 0.0
    value = torch.cuda.max_memory_allocated() / 1024**3
    torch.cuda.reset_peak_memory_stats()
    return value


def timed(fn: Any, repeats: int) -> float:
    fn()  # warm-up (compile, cache hooks, allocator)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def engines_for(folder: Path, args: argparse.Namespace, **overrides: Any) -> Engines:
    table = BackendConfig(backend="flux2-klein", weights=str(folder), device=args.device, steps=args.steps,
                          max_area=args.size * args.size, **overrides)
    return Engines(EnginesConfig(tables={EngineTask.INSTRUCT_EDIT: table}))


def fill_engines(folder: Path, args: argparse.Namespace, **overrides: Any) -> Engines:
    table = BackendConfig(backend="flux2-klein-inpaint", weights=str(folder), device=args.device, steps=args.steps,
                          max_area=args.size * args.size, **overrides)
    return Engines(EnginesConfig(tables={EngineTask.FILL: table}))


def main() -> None:
    import torch
    from diffusers import Flux2KleinPipeline

    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=Path("/tmp/easel-gpu-bench"))
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--steps", type=int, default=28)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tiny", action="store_true")
    args = parser.parse_args()
    folder = args.out / ("tiny" if args.tiny else "klein-4b-random")
    build_pipeline(folder, args.tiny)
    image = Image.new("RGB", (args.size, args.size), (90, 120, 160))
    dtype = torch.float32 if args.device == "cpu" else torch.bfloat16
    rows: list[tuple[str, float, float]] = []

    pipe = Flux2KleinPipeline.from_pretrained(folder, torch_dtype=dtype).to(args.device)

    layers = text_encoder_layers(pipe)  # what the backend passes too

    def plain() -> None:
        pipe(prompt=PROMPT, image=image, height=args.size, width=args.size, num_inference_steps=args.steps,
             text_encoder_out_layers=layers, generator=torch.Generator(args.device).manual_seed(0))

    rows.append(("plain diffusers, 1 image", timed(plain, args.repeats), peak_gb(args.device)))
    request = EngineRequest(image=image, prompt=PROMPT, seed=0)
    variants = (("Easel backend, eager", {}), ("Easel backend, first-block cache", {"cache": "first-block"}),
                ("Easel backend, torch.compile", {"compile": True}))
    for label, overrides in variants:
        engines = engines_for(folder, args, **overrides)
        try:
            seconds = timed(lambda e=engines: e.run(EngineTask.INSTRUCT_EDIT, request, NullContext()), args.repeats)
            rows.append((label, seconds, peak_gb(args.device)))
        except Exception as exc:  # a cache or compile path this build cannot take is reported, not fatal
            rows.append((f"{label}: failed ({type(exc).__name__}: {str(exc)[:80]})", float("nan"), 0.0))
        del engines
    # batching: the inpaint pipeline batches per sample (the edit pipeline reads an image list as references)
    mask = np.zeros((args.size, args.size), bool)
    mask[args.size // 4: 3 * args.size // 4, args.size // 4: 3 * args.size // 4] = True
    masked = EngineRequest(image=image, prompt=PROMPT, mask=mask, seed=0)
    fill = fill_engines(folder, args, max_batch=4, batch_wait_ms=200)

    def four_sequential() -> None:
        for _ in range(4):
            fill.run(EngineTask.FILL, masked, NullContext())

    def four_concurrent() -> None:
        threads = [threading.Thread(target=fill.run, args=(EngineTask.FILL, masked, NullContext()))
                   for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    sequential = timed(four_sequential, args.repeats)
    rows.append(("4 masked requests one after another, flux2-klein-inpaint (s for all 4)", sequential,
                 peak_gb(args.device)))
    concurrent = timed(four_concurrent, args.repeats)
    rows.append(("4 concurrent masked requests, max_batch=4 (s for all 4)", concurrent, peak_gb(args.device)))
    print(f"| what | s | peak GB |  ({args.size}x{args.size}, {args.steps} steps, {args.device}, {dtype})")
    print("|---|---|---|")
    for label, seconds, peak in rows:
        print(f"| {label} | {seconds:.3f} | {peak:.1f} |")
    print(f"\nsteps/s plain: {args.steps / rows[0][1]:.2f}; Easel/plain: {rows[1][1] / rows[0][1]:.3f}; "
          f"batching throughput gain at 4: {sequential / concurrent:.2f}x")


if __name__ == "__main__":
    main()
