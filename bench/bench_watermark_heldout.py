"""Held-out review of remove_watermark on single semi-transparent marks it was not tuned on.

bench_watermark_tiled.py's marks are rendered in Noto Sans CJK Bold, the font the engine's glyph
prior also renders with. This bench stamps marks in other fonts (DejaVu Sans Bold, Liberation
Serif, DejaVu Sans Mono; Noto only for CJK text, in its Regular weight), other texts, angles,
opacities, colours and positions, on the held-out photos at other crops and on a constructed
aerial-looking relief (matplotlib's Jacksboro fault DEM, hill-shaded), and compares the code in
this checkout with another checkout (the baseline), same machine, same minutes:

    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_watermark_heldout.py run /tmp/new.npz
    (cd <baseline checkout> && OMP_NUM_THREADS=1 .venv/bin/python <this file> run /tmp/base.npz)
    .venv/bin/python bench/bench_watermark_heldout.py report /tmp/base.npz /tmp/new.npz
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from watermark_cases import BLACK, WHITE, blend, psnr_in

ROOT = Path(__file__).resolve().parent.parent
DEJAVU_BOLD = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
DEJAVU_MONO = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"
LIBERATION_SERIF = "/usr/share/fonts/truetype/liberation/LiberationSerif-Regular.ttf"
NOTO_REGULAR = ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2)
GREY = (200.0, 200.0, 200.0)


@dataclass(frozen=True)
class Mark:
    text: str
    font: str | tuple[str, int]
    size_frac: float  # of the image's shorter side
    angle: float
    opacity: float
    colour: tuple[float, float, float]
    centre: tuple[float, float]  # (x, y) as fractions of the image


MARKS = {
    "confidential-dejavu-20": Mark("CONFIDENTIAL", DEJAVU_BOLD, 0.09, 20, 0.40, WHITE, (0.5, 0.45)),
    "copyright-serif-0-black": Mark("© Lumen Photo 2026", LIBERATION_SERIF, 0.085, 0, 0.35, BLACK, (0.5, 0.7)),
    "cjk-regular-minus30": Mark("样片 PREVIEW", NOTO_REGULAR, 0.10, -30, 0.50, WHITE, (0.45, 0.5)),
    "mono-grey-10": Mark("ID 0042-PROOF", DEJAVU_MONO, 0.075, 10, 0.45, GREY, (0.55, 0.35)),
}


def _font(spec: str | tuple[str, int], size: int) -> ImageFont.FreeTypeFont:
    if isinstance(spec, tuple):
        return ImageFont.truetype(spec[0], size, index=spec[1])
    return ImageFont.truetype(spec, size)


def coverage(shape: tuple[int, int], mark: Mark) -> np.ndarray:
    h, w = shape
    canvas = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(canvas)
    font = _font(mark.font, max(10, round(mark.size_frac * min(h, w))))
    x0, y0, x1, y1 = draw.textbbox((0, 0), mark.text, font=font)
    cx, cy = mark.centre[0] * w, mark.centre[1] * h
    draw.text((cx - (x1 - x0) / 2 - x0, cy - (y1 - y0) / 2 - y0), mark.text, font=font, fill=255)
    rotated = canvas.rotate(mark.angle, resample=Image.Resampling.BICUBIC, center=(cx, cy))
    return np.asarray(rotated, np.float32) / 255.0


def stamped(clean: np.ndarray, cover: np.ndarray, mark: Mark) -> np.ndarray:
    return blend(clean, cover, mark.opacity, mark.colour)


def relief() -> np.ndarray:
    """An aerial-looking texture: the Jacksboro fault DEM, hill-shaded over a terrain colour map."""
    from matplotlib import cbook, colormaps
    from matplotlib.colors import LightSource

    dem = cbook.get_sample_data("jacksboro_fault_dem.npz")
    elevation = dem["elevation"].astype(np.float64)
    shaded = LightSource(azdeg=315, altdeg=40).shade(elevation, cmap=colormaps["gist_earth"], blend_mode="soft",
                                                      vert_exag=0.05)
    rgb = (shaded[..., :3] * 255).astype(np.uint8)
    return np.asarray(Image.fromarray(rgb).resize((480, 480), Image.Resampling.LANCZOS))


def photos() -> dict[str, np.ndarray]:
    from matplotlib import cbook
    from sklearn.datasets import load_sample_image

    china, flower = load_sample_image("china.jpg"), load_sample_image("flower.jpg")
    with cbook.get_sample_data("grace_hopper.jpg") as handle:
        hopper = np.asarray(Image.open(handle).convert("RGB"))
    return {
        "china-left": np.ascontiguousarray(china[:, :400]),
        "flower-right": np.ascontiguousarray(flower[40:, 200:]),
        "grace_hopper-face": np.ascontiguousarray(hopper[:420, 60:460]),
        "relief": relief(),
    }


def footprint(cover: np.ndarray, mark: Mark) -> np.ndarray:
    return cover * mark.opacity * 255 > 8  # where the mark moved a channel by more than 8 levels


def measure(clean: np.ndarray, marked: np.ndarray, result: np.ndarray, foot: np.ndarray) -> dict[str, float]:
    import cv2

    diff = np.abs(result.astype(np.int16) - clean.astype(np.int16)).max(axis=2)
    grown = cv2.dilate(foot.astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
    changed = np.abs(result.astype(np.int16) - marked.astype(np.int16)).max(axis=2)
    return {
        "foot": float(foot.sum()),
        "left": float((diff[foot] > 8).mean()),
        "psnr": psnr_in(clean, result, foot),
        "psnr_before": psnr_in(clean, marked, foot),
        "changed_out": float((changed[~grown] > 8).sum()),
    }


def run(out_path: str) -> None:
    sys.path.insert(0, str(Path.cwd()))  # the checkout this runs in, not necessarily this file's
    from easel.engines.text.removal import remove_text

    results: dict[str, np.ndarray] = {}
    for photo_name, clean in photos().items():
        for mark_name, mark in MARKS.items():
            cover = coverage(clean.shape[:2], mark)
            marked = stamped(clean, cover, mark)
            started = time.perf_counter()
            result, _ = remove_text(marked, "去除水印")
            seconds = time.perf_counter() - started
            key = f"{photo_name}/{mark_name}"
            metrics = measure(clean, marked, result, footprint(cover, mark))
            metrics["seconds"] = seconds
            print(key, {k: round(v, 3) for k, v in metrics.items()}, flush=True)
            results[f"{key}|clean"], results[f"{key}|marked"], results[f"{key}|result"] = clean, marked, result
            results[f"{key}|metrics"] = np.array([metrics[k] for k in METRIC_KEYS])
    np.savez_compressed(out_path, **results)


METRIC_KEYS = ("foot", "left", "psnr", "psnr_before", "changed_out", "seconds")


def report(base_path: str, new_path: str) -> None:
    base, new = np.load(base_path), np.load(new_path)
    keys = sorted({k.split("|")[0] for k in new.files}, key=lambda k: list(new.files).index(f"{k}|clean"))
    lines = ["| case | foot | base left | new left | base PSNR | new PSNR (before) | base chg out | new chg out | "
             "base s | new s |", "|---|---|---|---|---|---|---|---|---|---|"]
    for key in keys:
        b = dict(zip(METRIC_KEYS, base[f"{key}|metrics"], strict=True))
        n = dict(zip(METRIC_KEYS, new[f"{key}|metrics"], strict=True))
        lines.append(f"| {key} | {n['foot']:.0f} | {b['left']:.1%} | {n['left']:.1%} | {b['psnr']:.1f} | "
                     f"{n['psnr']:.1f} ({n['psnr_before']:.1f}) | {b['changed_out']:.0f} | {n['changed_out']:.0f} | "
                     f"{b['seconds']:.1f} | {n['seconds']:.1f} |")
    mean = {side: np.mean([dict(zip(METRIC_KEYS, data[f"{k}|metrics"], strict=True))["psnr"] for k in keys])
            for side, data in (("base", base), ("new", new))}
    lines.append(f"\nMean PSNR inside the mark: base {mean['base']:.1f} dB, new {mean['new']:.1f} dB.")
    print("\n".join(lines))
    _sheet(base, new, keys)


def _sheet(base: np.lib.npyio.NpzFile, new: np.lib.npyio.NpzFile, keys: list[str]) -> None:
    """Rows of input | base | new | clean, 200 px wide each."""
    width, rows = 200, []
    for key in keys:
        tiles = [new[f"{key}|marked"], base[f"{key}|result"], new[f"{key}|result"], new[f"{key}|clean"]]
        h, w = tiles[0].shape[:2]
        height = round(h * width / w)
        rows.append(np.concatenate([np.asarray(Image.fromarray(t).resize((width, height))) for t in tiles], axis=1))
    widest = max(r.shape[1] for r in rows)
    sheet = np.concatenate([np.pad(r, ((0, 4), (0, widest - r.shape[1]), (0, 0)), constant_values=255)
                            for r in rows], axis=0)
    out = ROOT / "bench" / "sheets" / "watermark_heldout.png"
    Image.fromarray(sheet).save(out)
    print(f"sheet: {out}")


if __name__ == "__main__":
    if sys.argv[1] == "run":
        run(sys.argv[2])
    else:
        report(sys.argv[2], sys.argv[3])
