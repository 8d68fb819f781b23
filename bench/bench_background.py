"""Background-generation bench: Easel's CPU compose + typeset engines at 1024² and 2048², and sheets.

Subjects (made here, offline):
- coffee: skimage's coffee photo cut out with a hand-made mask (saucer ellipse, cup-rim ellipse and a
  spoon-handle polygon, feathered by a 1-px Gaussian), standing on a transparent square canvas;
- astronaut: skimage's astronaut with MediaPipe selfie segmentation (general model) as alpha; the
  person is cut by the bottom edge, so it exercises the "portrait" (wall shadow) path.
References: the coffee photo itself with the cup and saucer made transparent (the "reference with
another subject, alpha 0" case; the hole is filled), and skimage's rocket photo (no alpha).

Baseline, timed in the same run: a plain alpha-over composite of the subject on the same background
plus one PIL text draw at a fixed place. The ratio says what the real work costs over that.

    .venv/bin/python bench/bench_background.py [--rounds 3] [--no-sheets]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw
from skimage import data

from easel.engines.compose import (
    composite_subject,
    fit_reference,
    parse_backdrop_prompt,
    studio_backdrop,
    variation_from_noise_level,
)
from easel.engines.typeset import layout_title, render_layers
from easel.engines.typeset.fonts import SANS, load_font

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out" / "background"
SHEETS = ROOT / "bench" / "sheets"
TITLE, SUB_TITLE = "分享好时光", "只为不一样的你"


# --- subjects and references -----------------------------------------------------------------------

def coffee_mask() -> np.ndarray:
    mask = np.zeros((400, 600), np.uint8)
    cv2.ellipse(mask, (278, 232), (201, 153), -4, 0, 360, 255, -1)
    cv2.ellipse(mask, (290, 112), (118, 95), 0, 0, 360, 255, -1)
    cv2.fillPoly(mask, [np.array([[398, 75], [412, 66], [424, 72], [404, 150], [388, 140]])], 255)
    return cv2.GaussianBlur(mask, (0, 0), 1.0)


def coffee_subject(size: int) -> np.ndarray:
    mask = coffee_mask()
    ys, xs = np.nonzero(mask)
    crop = np.dstack([data.coffee(), mask])[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    scale = 0.55 * size / crop.shape[1]
    crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
    canvas = np.zeros((size, size, 4), np.uint8)
    height, width = crop.shape[:2]
    top, left = int(size * 0.9) - height, (size - width) // 2
    canvas[top:top + height, left:left + width] = crop
    return canvas


def astronaut_subject(size: int) -> np.ndarray:
    import mediapipe as mp

    photo = data.astronaut()
    with mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=0) as segmenter:
        mask = segmenter.process(photo).segmentation_mask
    alpha = (np.clip(mask, 0, 1) * 255 + 0.5).astype(np.uint8)
    rgba = np.dstack([photo, alpha])
    return cv2.resize(rgba, (size, size), interpolation=cv2.INTER_CUBIC)


def coffee_table_reference() -> np.ndarray:
    """The coffee photo with its cup and saucer transparent: only the wooden table should remain."""
    hole = cv2.dilate(coffee_mask(), np.ones((9, 9), np.uint8)) > 0
    return np.dstack([data.coffee(), np.where(hole, 0, 255).astype(np.uint8)])


# --- the pipeline and the baseline -----------------------------------------------------------------

def make_background(size: int, subject: np.ndarray, source: str | np.ndarray, seed: int,
                    variation: float) -> np.ndarray:
    if isinstance(source, str):
        spec = parse_backdrop_prompt(source)
        assert spec is not None, source
        return studio_backdrop((size, size), spec, seed=seed, variation=variation, subject_alpha=subject[..., 3])
    return fit_reference(source, (size, size))


def generate(subject: np.ndarray, background: np.ndarray, seed: int, variation: float,
             title: str | None) -> tuple[np.ndarray, list[dict], str]:
    result = composite_subject(background, subject, seed=seed, variation=variation)
    if not title:
        return result.image, [], ""
    layout = layout_title(result.image, result.alpha, title, SUB_TITLE, seed=seed, sample_idx=seed)
    return render_layers(result.image, layout.layers), layout.layers, layout.font_family


def baseline(subject: np.ndarray, background: np.ndarray) -> np.ndarray:
    alpha = subject[..., 3:4].astype(np.float32) / 255.0
    out = subject[..., :3] * alpha + background * (1 - alpha)
    image = Image.fromarray(out.astype(np.uint8))
    size = image.size[0]
    ImageDraw.Draw(image).text((size // 10, size // 20), TITLE, font=load_font(SANS, "Bold", size // 10),
                               fill=(40, 40, 40))
    return np.asarray(image)


# --- timing ------------------------------------------------------------------------------------------

def median_time(fn: Callable[[], object], rounds: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def time_size(size: int, rounds: int) -> dict[str, float]:
    coffee = coffee_subject(size)
    wood = coffee_table_reference()
    spec = parse_backdrop_prompt("studio gray")
    studio = studio_backdrop((size, size), spec, subject_alpha=coffee[..., 3])
    composite = composite_subject(studio, coffee, seed=1, variation=0.4)
    layout = layout_title(composite.image, composite.alpha, TITLE, SUB_TITLE)
    stages = {
        "studio_backdrop": lambda: studio_backdrop((size, size), spec, seed=1, variation=0.4,
                                                   subject_alpha=coffee[..., 3]),
        "fit_reference (rocket, no alpha)": lambda: fit_reference(data.rocket(), (size, size)),
        "fit_reference (coffee table, 46% hole)": lambda: fit_reference(wood, (size, size)),
        "composite_subject": lambda: composite_subject(studio, coffee, seed=1, variation=0.4),
        "layout_title": lambda: layout_title(composite.image, composite.alpha, TITLE, SUB_TITLE),
        "render_layers": lambda: render_layers(composite.image, layout.layers),
        "one studio output with title (all stages)": lambda: generate(
            coffee, make_background(size, coffee, "studio gray", 1, 0.4), 1, 0.4, TITLE),
        "baseline: alpha-over + one PIL text draw": lambda: baseline(coffee, studio),
    }
    return {name: median_time(fn, rounds) for name, fn in stages.items()}


# --- sheets ------------------------------------------------------------------------------------------

def caption_tile(image: np.ndarray, caption: str, side: int) -> Image.Image:
    tile = Image.fromarray(image).resize((side, side), Image.Resampling.LANCZOS)
    framed = Image.new("RGB", (side, side + 26), (250, 250, 250))
    framed.paste(tile, (0, 0))
    ImageDraw.Draw(framed).text((6, side + 4), caption, font=load_font(SANS, "Regular", 15), fill=(30, 30, 30))
    return framed


def save_sheet(tiles: list[Image.Image], columns: int, path: Path) -> None:
    width, height = tiles[0].size
    rows = (len(tiles) + columns - 1) // columns
    sheet = Image.new("RGB", (columns * width + (columns + 1) * 6, rows * height + (rows + 1) * 6), (255, 255, 255))
    for i, tile in enumerate(tiles):
        sheet.paste(tile, (6 + (i % columns) * (width + 6), 6 + (i // columns) * (height + 6)))
    sheet.save(path, optimize=True)
    if path.stat().st_size > 1_400_000:  # keep committed sheets small: fall back to 256 dithered colours
        sheet.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.FLOYDSTEINBERG).save(
            path, optimize=True)


def main_sheet(size: int) -> None:
    coffee, astronaut = coffee_subject(size), astronaut_subject(size)
    wood, rocket = coffee_table_reference(), data.rocket()
    variation = variation_from_noise_level(300)
    cases: list[tuple[str, np.ndarray, str | np.ndarray, int, str | None]] = [
        ("ref: coffee table (hole filled), seed 0", coffee, wood, 0, None),
        ("ref: coffee table, seed 1", coffee, wood, 1, None),
        ("ref: rocket, seed 0", astronaut, rocket, 0, None),
        ("ref: rocket + title", astronaut, rocket, 2, TITLE),
        ("纯白背景", coffee, "纯白背景", 0, None),
        ("studio gray", coffee, "studio gray", 0, None),
        ("渐变蓝色背景", coffee, "渐变蓝色背景", 0, None),
        ("粉色纯色背景", coffee, "粉色纯色背景", 0, None),
        ("浅灰色影棚 + title", coffee, "浅灰色影棚", 1, TITLE),
        ("米色影棚 + title", coffee, "米色影棚", 2, TITLE),
        ("蓝白渐变 + title", astronaut, "蓝白渐变", 3, TITLE),
        ("深蓝色影棚 + title", coffee, "深蓝色影棚", 4, TITLE),
    ]
    tiles, records = [], []
    for caption, subject, source, seed, title in cases:
        background = make_background(size, subject, source, seed, variation)
        image, layers, family = generate(subject, background, seed, variation, title)
        name = f"{len(tiles):02d}.png"
        Image.fromarray(image).save(OUT / name)
        records.append({"file": name, "caption": caption, "font_family": family, "layers": layers})
        tiles.append(caption_tile(image, caption, 300))
    (OUT / "main_layers.json").write_text(json.dumps(records, ensure_ascii=False, indent=1))
    save_sheet(tiles, 4, SHEETS / "background_sheet.png")


def variation_sheet(size: int) -> None:
    coffee = coffee_subject(size)
    tiles = []
    for noise_level in (0, 300, 999):
        variation = variation_from_noise_level(noise_level)
        for seed in range(4):
            background = make_background(size, coffee, "studio beige", seed, variation)
            image, _, _ = generate(coffee, background, seed, variation, None)
            tiles.append(caption_tile(image, f"studio beige, noise_level {noise_level}, seed {seed}", 300))
    save_sheet(tiles, 4, SHEETS / "background_variations.png")


def detail_sheet(size: int) -> None:
    """1:1 crops: the saucer's base with its contact and cast shadow on white, the astronaut's hair edge."""
    from easel.engines.compose import subject_geometry

    coffee, astronaut = coffee_subject(size), astronaut_subject(size)
    cup = composite_subject(make_background(size, coffee, "纯白背景", 0, 0.0), coffee).image
    person = composite_subject(make_background(size, astronaut, "studio gray", 0, 0.0), astronaut).image
    base = subject_geometry(coffee[..., 3])
    x0, y0 = int(base.centre_x) - 60, base.base_y - 220
    crops = [cup[y0:y0 + 300, x0:x0 + 300], person[0:300, size // 4: size // 4 + 300]]
    captions = ("saucer base on 纯白背景, 1:1", "hair edge on studio gray, 1:1")
    tiles = [caption_tile(c, text, 300) for c, text in zip(crops, captions, strict=True)]
    save_sheet(tiles, 2, SHEETS / "background_detail.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-sheets", action="store_true")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    SHEETS.mkdir(parents=True, exist_ok=True)
    cores = len(os.sched_getaffinity(0))
    results = {"machine": f"{platform.processor() or platform.machine()}, {cores} cores", "rounds": args.rounds}
    for size in (1024, 2048):
        results[str(size)] = time_size(size, args.rounds)
        print(f"\n{size}x{size} (median of {args.rounds} after a warm-up)")
        base = results[str(size)]["baseline: alpha-over + one PIL text draw"]
        for name, seconds in results[str(size)].items():
            print(f"  {name:48s} {seconds * 1000:8.1f} ms   x{seconds / base:6.1f} baseline")
    (OUT / "timings.json").write_text(json.dumps(results, indent=1))
    if not args.no_sheets:
        main_sheet(1024)
        variation_sheet(768)
        detail_sheet(1024)


if __name__ == "__main__":
    main()
