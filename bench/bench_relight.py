"""Relight bench: Easel's CPU relighting engine, time and peak memory at 512², 1024², 2048², plus a
before/after sheet.

Each size runs in a fresh subprocess so its peak RSS is its own. Inside it the engine alternates
with a baseline on the same input: a naive "relight" that multiplies a left-to-right gradient and a
warm tint into the linear image (the per-pixel floor any relight pays: sRGB decode, one gain, encode).
The ratio engine / baseline is what to compare across machines; the seconds depend on the load.

The astronaut's subject mask comes from MediaPipe selfie segmentation (threshold 0.5); the coffee
cup's from OpenCV GrabCut seeded with a rectangle; the RGBA row uses the astronaut's mask as alpha
over a black background, as a cut-out from a matting tool would arrive.

    .venv/bin/python bench/bench_relight.py [--repeats 3] [--sizes 512 1024 2048] [--no-sheet]
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

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
SHEET = ROOT / "bench" / "sheets" / "relight_sheet.png"
FACES = ROOT / "bench" / "sheets" / "relight_faces.png"
PROMPT = "warm light from the left"
SHEET_PROMPTS = [
    ("light from the left", "light from the left"),
    ("从右侧打光", "from the right (zh)"),
    ("dramatic top light", "dramatic top light"),
    ("温暖的夕阳光", "warm sunset (zh)"),
    ("cool moonlight", "cool moonlight"),
    ("霓虹灯光", "neon (zh)"),
]
TILE = 220
FONTS = ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def peak_rss_mb() -> float:
    """This process's high-water resident set size (VmHWM), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def astronaut_and_mask() -> tuple[np.ndarray, np.ndarray]:
    import mediapipe as mp
    from skimage import data

    rgb = data.astronaut()
    with mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=0) as segmenter:
        mask = segmenter.process(rgb).segmentation_mask > 0.5
    return rgb, (mask * 255).astype(np.uint8)


def coffee_and_mask() -> tuple[np.ndarray, np.ndarray]:
    from skimage import data

    rgb = data.coffee()
    h, w = rgb.shape[:2]
    labels = np.zeros((h, w), np.uint8)
    cv2.grabCut(
        cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
        labels,
        (40, 20, w - 70, h - 40),
        np.zeros((1, 65)),
        np.zeros((1, 65)),
        5,
        cv2.GC_INIT_WITH_RECT,
    )
    mask = ((labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)).astype(np.uint8)
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((25, 25), np.uint8))
    return rgb, mask * 255


def naive_relight(rgb: np.ndarray) -> np.ndarray:
    """Baseline: a left-bright gradient and a warm tint, multiplied in linear light."""
    from easel.engines.relight.colour import linear_to_srgb, srgb_to_linear

    w = rgb.shape[1]
    gradient = np.linspace(1.3, 0.7, w, dtype=np.float32)[None, :, None]
    tint = np.float32([1.15, 1.0, 0.85])
    return linear_to_srgb(srgb_to_linear(rgb) * gradient * tint)


def run_size(size: int, repeats: int) -> dict[str, float]:
    """One measurement in this (fresh) process."""
    rgb, mask = astronaut_and_mask()
    rgb = cv2.resize(rgb, (size, size), interpolation=cv2.INTER_CUBIC)
    mask = cv2.resize(mask, (size, size), interpolation=cv2.INTER_NEAREST)
    rss_before = peak_rss_mb()
    from easel.engines.relight import relight

    start = time.perf_counter()
    relight(rgb, mask, PROMPT)
    first = time.perf_counter() - start
    engine, baseline = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        naive_relight(rgb)
        baseline.append(time.perf_counter() - start)
        start = time.perf_counter()
        result = relight(rgb, mask, PROMPT)
        engine.append(time.perf_counter() - start)
    Image.fromarray(result.image).save(OUT / f"relight_{size}.png")
    return {
        "size": size,
        "first_call_s": first,
        "engine_s": statistics.median(engine),
        "baseline_s": statistics.median(baseline),
        "peak_rss_mb": peak_rss_mb(),
        "rss_before_mb": rss_before,
    }


def measure(size: int, repeats: int) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, __file__, "--child", str(size), "--repeats", str(repeats)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"size {size} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for path in FONTS:
        if Path(path).exists():
            return ImageFont.truetype(path, size)
    return ImageFont.load_default()


def tile(rgb: np.ndarray, label: str) -> Image.Image:
    h, w = rgb.shape[:2]
    scale = TILE / max(h, w)
    image = Image.fromarray(rgb).resize((round(w * scale), round(h * scale)), Image.LANCZOS)
    canvas = Image.new("RGB", (TILE, TILE + 26), "white")
    canvas.paste(image, ((TILE - image.width) // 2, 26 + (TILE - image.height) // 2))
    ImageDraw.Draw(canvas).text((4, 2), label, fill="black", font=font(16))
    return canvas


def sheet_rows() -> list[tuple[str, str, np.ndarray, np.ndarray | None, np.ndarray | None]]:
    astronaut, astronaut_mask = astronaut_and_mask()
    coffee, coffee_mask = coffee_and_mask()
    cutout = astronaut * (astronaut_mask[..., None] > 0)
    return [
        ("astronaut", "astronaut, RGB + mask", astronaut, astronaut_mask, None),
        ("astronaut_rgba", "astronaut, RGBA cut-out", cutout, None, astronaut_mask),
        ("coffee", "coffee, RGB + mask", coffee, coffee_mask, None),
    ]


def make_sheet() -> list[str]:
    from easel.engines.relight import relight

    rows, notes = [], []
    for slug, name, rgb, mask, alpha in sheet_rows():
        tiles = [tile(rgb, f"input: {name.split(',')[0]}")]
        for prompt, label in SHEET_PROMPTS:
            result = relight(rgb, mask, prompt, alpha=alpha)
            Image.fromarray(result.image).save(OUT / f"relight_{slug}_{label.split(' (')[0].replace(' ', '_')}.png")
            tiles.append(tile(result.image, label if alpha is None else f"{label}, backdrop"))
            notes.append(f"{name} / {prompt}: {'; '.join(result.notes)}")
        rows.append(tiles)
    sheet = Image.new("RGB", (TILE * len(rows[0]), (TILE + 26) * len(rows)), "white")
    for r, tiles in enumerate(rows):
        for c, t in enumerate(tiles):
            sheet.paste(t, (c * TILE, r * (TILE + 26)))
    SHEET.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(SHEET, optimize=True)
    make_face_sheet()
    return notes


def make_face_sheet() -> None:
    """The face 1:1 from a 1024² run, where shading artefacts would show."""
    from easel.engines.relight import relight

    rgb, mask = astronaut_and_mask()
    rgb = cv2.resize(rgb, (1024, 1024), interpolation=cv2.INTER_CUBIC)
    mask = cv2.resize(mask, (1024, 1024), interpolation=cv2.INTER_NEAREST)
    crop = (slice(110, 390), slice(320, 580))
    images = [("input", rgb)] + [(label, relight(rgb, mask, prompt).image) for prompt, label in SHEET_PROMPTS]
    sheet = Image.new("RGB", (260 * len(images), 280 + 26), "white")
    draw = ImageDraw.Draw(sheet)
    for i, (label, image) in enumerate(images):
        sheet.paste(Image.fromarray(np.ascontiguousarray(image[crop])), (i * 260, 26))
        draw.text((i * 260 + 4, 2), label, fill="black", font=font(16))
    sheet.save(FACES, optimize=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", type=int)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sizes", type=int, nargs="+", default=[512, 1024, 2048])
    parser.add_argument("--no-sheet", action="store_true")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    if args.child:
        print(json.dumps(run_size(args.child, args.repeats)))
        return
    machine = platform.processor() or platform.machine()
    print(f"machine: {machine}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"prompt: {PROMPT!r}, defaults (guidance 3.5, steps 20), median of {args.repeats} after a warm-up call\n")
    print("| size | relight | baseline (naive grade) | ratio | first call (with load) | peak RSS | RSS before |")
    print("|---|---|---|---|---|---|---|")
    for size in args.sizes:
        m = measure(size, args.repeats)
        print(
            f"| {size}² | {m['engine_s']:.3f} s | {m['baseline_s']:.3f} s | {m['engine_s'] / m['baseline_s']:.1f}x "
            f"| {m['first_call_s']:.2f} s | {m['peak_rss_mb']:.0f} MB | {m['rss_before_mb']:.0f} MB |"
        )
    if not args.no_sheet:
        for line in make_sheet():
            print(line)
        for path in (SHEET, FACES):
            print(f"sheet: {path.relative_to(ROOT)} ({path.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
