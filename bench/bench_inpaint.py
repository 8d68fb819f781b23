"""Inpainting bench: Easel's classical engine against OpenCV Telea (radius 5) on the same holes.

Photos: skimage astronaut, coffee, chelsea, rocket (centre square crop, resized to 512 and 1024;
chelsea and rocket are upscaled from 300 and 427 px). Holes per photo: a square (20 % of the side,
4 % of the pixels), a large square (30 % of the side, 9 %), free-form brush strokes (about 10 %,
fixed seed per photo) and rendered text (many small disconnected holes, like a watermark).

Metrics, inside the hole only, on the RGB result after compositing onto the original:
- PSNR over the hole pixels.
- SSIM: skimage.metrics.structural_similarity (7x7 uniform window, data_range 255, RGB with
  channel_axis, per-channel maps averaged) computed over the hole's bounding box padded by 3 px,
  then the SSIM map averaged over the hole pixels only. The padding gives every window centred on
  a hole pixel the same context it has in the full image.
- Time: median of --repeats runs (after one warm-up for Easel), single process.

Usage: .venv/bin/python bench/bench_inpaint.py [--sizes 512 1024] [--repeats 3] [--candidates]
--candidates adds OpenCV NS, xphoto FSR_FAST and pypatchmatch (patch radius 3) at 512 for reference.
Full-size outputs go to bench/out/inpaint/; small sheets to bench/sheets/inpaint_*.png.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from skimage import data
from skimage.metrics import structural_similarity

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from easel.engines.inpaint import inpaint  # noqa: E402 - after the path set-up above

PHOTOS = ("astronaut", "coffee", "chelsea", "rocket")
KINDS = ("square", "big-square", "strokes", "text")
OUT_DIR = ROOT / "bench" / "out" / "inpaint"
SHEET_DIR = ROOT / "bench" / "sheets"
SSIM_PAD = 3  # half of skimage's 7x7 window
MAGENTA = (255, 0, 255)

Method = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass
class Row:
    size: int
    photo: str
    kind: str
    coverage: float
    method: str
    psnr: float
    ssim: float
    seconds: float


# --- inputs -------------------------------------------------------------------------------------


def photo(name: str, size: int) -> np.ndarray:
    img = getattr(data, name)()
    h, w = img.shape[:2]
    side = min(h, w)
    img = img[(h - side) // 2 : (h - side) // 2 + side, (w - side) // 2 : (w - side) // 2 + side]
    interp = cv2.INTER_AREA if side >= size else cv2.INTER_CUBIC
    return cv2.resize(img, (size, size), interpolation=interp)


def square_hole(size: int, side_share: float, cy: float, cx: float) -> np.ndarray:
    side = int(size * side_share)
    y0, x0 = int(size * cy - side / 2), int(size * cx - side / 2)
    hole = np.zeros((size, size), bool)
    hole[y0 : y0 + side, x0 : x0 + side] = True
    return hole


def stroke_hole(size: int, seed: int, coverage: float = 0.10) -> np.ndarray:
    """Random brush strokes (polylines 12-28 px wide at 512, scaled with the size) until `coverage`."""
    rng = np.random.default_rng(seed)
    scale = size / 512
    hole = np.zeros((size, size), np.uint8)
    while hole.mean() < coverage:
        x, y = (int(v) for v in rng.integers(0, size, 2))
        width = int(rng.integers(12, 29) * scale)
        for _ in range(int(rng.integers(3, 8))):
            angle, length = rng.uniform(0, 2 * np.pi), rng.uniform(30, 90) * scale
            nx = int(np.clip(x + length * np.cos(angle), 0, size - 1))
            ny = int(np.clip(y + length * np.sin(angle), 0, size - 1))
            cv2.line(hole, (x, y), (nx, ny), 1, width)
            x, y = nx, ny
    return hole.astype(bool)


def text_hole(size: int, seed: int) -> np.ndarray:
    """Rendered text lines, dilated a little as a text remover would: many small holes."""
    rng = np.random.default_rng(seed)
    scale = size / 512
    hole = np.zeros((size, size), np.uint8)
    words = ("SAMPLE", "Easel 2026", "watermark", "(c) stock photo", "PREVIEW")
    for i in range(4):
        text = words[int(rng.integers(0, len(words)))]
        org = (int(rng.integers(10, size // 3)), int((0.2 + 0.2 * i) * size))
        cv2.putText(hole, text, org, cv2.FONT_HERSHEY_SIMPLEX, 1.2 * scale, 1, max(2, int(3 * scale)))
    grow = max(1, int(2 * scale))
    return cv2.dilate(hole, np.ones((2 * grow + 1, 2 * grow + 1), np.uint8)).astype(bool)


def hole_for(kind: str, size: int, photo_index: int) -> np.ndarray:
    if kind == "square":
        return square_hole(size, 0.20, 0.5, 0.45)
    if kind == "big-square":
        return square_hole(size, 0.30, 0.35, 0.6)
    if kind == "strokes":
        return stroke_hole(size, seed=photo_index)
    return text_hole(size, seed=100 + photo_index)


# --- methods ------------------------------------------------------------------------------------


def telea(rgb: np.ndarray, hole: np.ndarray) -> np.ndarray:
    return cv2.inpaint(rgb, hole.astype(np.uint8) * 255, 5, cv2.INPAINT_TELEA)


def navier_stokes(rgb: np.ndarray, hole: np.ndarray) -> np.ndarray:
    return cv2.inpaint(rgb, hole.astype(np.uint8) * 255, 5, cv2.INPAINT_NS)


def fsr_fast(rgb: np.ndarray, hole: np.ndarray) -> np.ndarray:
    bgr = np.ascontiguousarray(rgb[..., ::-1])
    out = np.zeros_like(bgr)
    cv2.xphoto.inpaint(bgr, (~hole).astype(np.uint8) * 255, out, cv2.xphoto.INPAINT_FSR_FAST)  # valid-pixel mask
    return out[..., ::-1]


def patchmatch_p3(rgb: np.ndarray, hole: np.ndarray) -> np.ndarray:
    import patchmatch

    patchmatch.set_random_seed(0)
    return patchmatch.inpaint(rgb, hole.astype(np.uint8) * 255, patch_size=3)


def easel(rgb: np.ndarray, hole: np.ndarray) -> np.ndarray:
    return inpaint(rgb, hole, seed=0)


# --- measurement --------------------------------------------------------------------------------


def hole_scores(truth: np.ndarray, result: np.ndarray, hole: np.ndarray) -> tuple[float, float]:
    ys, xs = np.nonzero(hole)
    y0, y1 = max(0, ys.min() - SSIM_PAD), min(hole.shape[0], ys.max() + SSIM_PAD + 1)
    x0, x1 = max(0, xs.min() - SSIM_PAD), min(hole.shape[1], xs.max() + SSIM_PAD + 1)
    t, r, h = truth[y0:y1, x0:x1], result[y0:y1, x0:x1], hole[y0:y1, x0:x1]
    _, ssim_map = structural_similarity(t, r, channel_axis=2, data_range=255, full=True)
    mse = float(((t[h].astype(np.float64) - r[h].astype(np.float64)) ** 2).mean())
    psnr = 10 * np.log10(255.0**2 / max(mse, 1e-12))
    return float(psnr), float(ssim_map.mean(axis=2)[h].mean())


def timed(method: Method, rgb: np.ndarray, hole: np.ndarray, repeats: int) -> tuple[np.ndarray, float]:
    times = []
    result = rgb
    for _ in range(repeats):
        start = time.perf_counter()
        result = method(rgb, hole)
        times.append(time.perf_counter() - start)
    composited = np.where(hole[..., None], result, rgb)  # candidates may touch outside pixels
    return composited, statistics.median(times)


def run(sizes: list[int], repeats: int, candidates: bool) -> tuple[list[Row], dict]:
    rows: list[Row] = []
    keep: dict = {}
    easel(photo("astronaut", 128), square_hole(128, 0.2, 0.5, 0.5))  # warm-up (imports, tables)
    for size in sizes:
        for index, name in enumerate(PHOTOS):
            img = photo(name, size)
            for kind in KINDS:
                hole = hole_for(kind, size, index)
                methods: dict[str, Method] = {"telea": telea, "easel": easel}
                if candidates and size == 512:
                    methods |= {"ns": navier_stokes, "fsr_fast": fsr_fast, "patchmatch_p3": patchmatch_p3}
                for method_name, method in methods.items():
                    n = repeats if method_name in ("telea", "easel") else 1
                    result, seconds = timed(method, img, hole, n)
                    psnr, ssim = hole_scores(img, result, hole)
                    rows.append(Row(size, name, kind, float(hole.mean()), method_name, psnr, ssim, seconds))
                    keep[(size, name, kind, method_name)] = result
                    print(
                        f"{size} {name:9s} {kind:10s} {method_name:13s} {psnr:6.2f} dB  SSIM {ssim:.3f}  "
                        f"{seconds * 1000:7.1f} ms",
                        flush=True,
                    )
                keep[(size, name, kind, "hole")] = hole
                keep[(size, name, "image")] = img
    return rows, keep


# --- reporting ----------------------------------------------------------------------------------


def markdown(rows: list[Row]) -> str:
    lines = []
    methods = list(dict.fromkeys(r.method for r in rows))
    for size in sorted({r.size for r in rows}):
        present = [m for m in methods if any(r.size == size and r.method == m for r in rows)]
        lines.append(f"\n### {size}x{size}\n")
        lines.append(
            "| photo | hole | share | "
            + " | ".join(f"{m} PSNR / SSIM / ms" for m in present)
            + " | ΔSSIM easel−telea |"
        )
        lines.append("|---|---|---|" + "---|" * len(present) + "---|")
        for name in PHOTOS:
            for kind in KINDS:
                cells = {r.method: r for r in rows if (r.size, r.photo, r.kind) == (size, name, kind)}
                row = cells["telea"]
                parts = [f"{c.psnr:.2f} / {c.ssim:.3f} / {c.seconds * 1000:.0f}" for c in (cells[m] for m in present)]
                delta = cells["easel"].ssim - cells["telea"].ssim
                lines.append(f"| {name} | {kind} | {row.coverage:.1%} | " + " | ".join(parts) + f" | {delta:+.3f} |")
    lines.append("\n### Summary against Telea (same holes)\n")
    lines.append(
        "| size | method | cases | SSIM ≥ Telea | mean ΔSSIM | min ΔSSIM | mean ΔPSNR dB | min ΔPSNR dB "
        "| time ratio (median) |"
    )
    lines.append("|---|---|---|---|---|---|---|---|---|")
    for size in sorted({r.size for r in rows}):
        for method in methods:
            if method == "telea":
                continue
            pairs = [
                (r, next(t for t in rows if (t.size, t.photo, t.kind, t.method) == (size, r.photo, r.kind, "telea")))
                for r in rows
                if r.size == size and r.method == method
            ]
            if not pairs:
                continue
            ds = [a.ssim - b.ssim for a, b in pairs]
            dp = [a.psnr - b.psnr for a, b in pairs]
            ratio = statistics.median(a.seconds / b.seconds for a, b in pairs)
            wins = sum(d >= 0 for d in ds)
            lines.append(
                f"| {size} | {method} | {len(pairs)} | {wins}/{len(pairs)} | {np.mean(ds):+.4f} | {min(ds):+.4f} | "
                f"{np.mean(dp):+.2f} | {min(dp):+.2f} | {ratio:.1f}x |"
            )
    stroke_1024 = [r for r in rows if r.size == 1024 and r.kind == "strokes" and r.method == "easel"]
    if stroke_1024:
        worst = max(r.seconds for r in stroke_1024)
        lines.append(
            f"\nTime target (1024², ~10 % free-form strokes, ≤ 1 s): worst of 4 photos {worst:.2f} s "
            f"→ {'met' if worst <= 1.0 else 'NOT met'}."
        )
    return "\n".join(lines) + "\n"


def with_hole_shown(img: np.ndarray, hole: np.ndarray) -> np.ndarray:
    shown = img.copy()
    shown[hole] = MAGENTA
    return shown


def zoom(img: np.ndarray, hole: np.ndarray, side: int) -> np.ndarray:
    ys, xs = np.nonzero(hole)
    margin = max(ys.max() - ys.min(), xs.max() - xs.min()) // 2
    y0, y1 = max(0, ys.min() - margin), min(img.shape[0], ys.max() + margin)
    x0, x1 = max(0, xs.min() - margin), min(img.shape[1], xs.max() + margin)
    return cv2.resize(img[y0:y1, x0:x1], (side, side), interpolation=cv2.INTER_AREA)


def save_sheets(keep: dict) -> list[Path]:
    SHEET_DIR.mkdir(parents=True, exist_ok=True)
    size = 512
    rows = []
    for name in PHOTOS:
        for kind in ("square", "big-square"):
            hole, img = keep[(size, name, kind, "hole")], keep[(size, name, "image")]
            tiles = [with_hole_shown(img, hole), keep[(size, name, kind, "telea")], keep[(size, name, kind, "easel")]]
            rows.append(np.hstack([zoom(t, hole, 200) for t in tiles]))
    squares = SHEET_DIR / "inpaint_sheet.png"
    cv2.imwrite(str(squares), np.vstack(rows)[..., ::-1], [cv2.IMWRITE_PNG_COMPRESSION, 9])
    rows = []
    for name, kind in (("astronaut", "strokes"), ("coffee", "text"), ("chelsea", "strokes")):
        hole, img = keep[(size, name, kind, "hole")], keep[(size, name, "image")]
        tiles = [with_hole_shown(img, hole), keep[(size, name, kind, "telea")], keep[(size, name, kind, "easel")]]
        rows.append(np.hstack([cv2.resize(t, (340, 340), interpolation=cv2.INTER_AREA) for t in tiles]))
    strokes = SHEET_DIR / "inpaint_strokes.png"
    cv2.imwrite(str(strokes), np.vstack(rows)[..., ::-1], [cv2.IMWRITE_PNG_COMPRESSION, 9])
    return [squares, strokes]


def save_outputs(keep: dict) -> None:
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for key, value in keep.items():
        if len(key) == 4 and key[3] != "hole":
            size, name, kind, method = key
            cv2.imwrite(str(OUT_DIR / f"{size}_{name}_{kind}_{method}.png"), value[..., ::-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[512, 1024])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--candidates", action="store_true")
    args = parser.parse_args()
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, OpenCV {cv2.__version__}, numpy {np.__version__}"
    )
    rows, keep = run(args.sizes, args.repeats, args.candidates)
    report = markdown(rows)
    print(report)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    (OUT_DIR / "tables.md").write_text(report)
    save_outputs(keep)
    if 512 in args.sizes:
        for path in save_sheets(keep):
            print(f"sheet: {path.relative_to(ROOT)} ({path.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
