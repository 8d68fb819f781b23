"""Held-out cases for the CPU expand and removal engines (issue 13, items 2 and 4), before and after.

"Before" is the committed version of easel/engines/outpaint and of the removal pass without its
texture stage, run in the same process on the same inputs as "after" (the working tree). None of
these photos is used by the tests or was used for tuning (that was scikit-image's): matplotlib's
grace_hopper.jpg, scikit-learn's china.jpg and flower.jpg, and constructed scenes (a banner with a
name tag near its edge, a bench on grass, boxes on a shelf, a flag on the sky).

Expand metrics, over the new border: *palette dE* = mean Lab distance of border pixels to the
nearest of the photo's 16 k-means colours (a fade to black or white scores high); *far dE* = Lab
distance between the mean colour of the canvas's outer tenth on each expanded side and that of the
photo's edge tenth it continues (a fade to black or white scores high); *dup NCC* = best normalised
cross-correlation of the salient object (its crop, grey) against windows lying wholly in the
border (a copied or ghosted object scores near 1); *texture* = mean absolute high-pass in the
border over that of the photo's edge band (1 = same grain, 0 = a blur).
Removal metrics, in the hole: PSNR and SSIM against the scene without the object, and *texture*
= mean absolute high-pass in the hole over that of the ring around it (the truth's ratio is shown).

    .venv/bin/python bench/bench_cpufill.py
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import cv2
import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from easel.engines.inpaint import classical, texture  # noqa: E402
from easel.engines.outpaint import border_sizes, expand  # noqa: E402

SHEETS = ROOT / "bench" / "sheets"


# --- the committed outpaint engine, for the same-run baseline ---------------------------------------


def committed_outpaint() -> ModuleType:
    """easel.engines.outpaint as committed (git HEAD), importable as `outpaint_before`."""
    folder = Path(tempfile.mkdtemp(prefix="outpaint_before_")) / "outpaint_before"
    folder.mkdir()
    names = subprocess.run(
        ["git", "ls-tree", "--name-only", "HEAD", "easel/engines/outpaint/"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    for name in names:
        text = subprocess.run(["git", "show", f"HEAD:{name}"], cwd=ROOT, check=True, capture_output=True, text=True)
        source = text.stdout.replace("easel.engines.outpaint.", "outpaint_before.").replace(
            "from easel.engines.outpaint import", "from outpaint_before import"
        )
        (folder / Path(name).name).write_text(source)
    sys.path.insert(0, str(folder.parent))
    return importlib.import_module("outpaint_before")


# --- held-out inputs -------------------------------------------------------------------------------


def sample(name: str) -> np.ndarray:
    if name == "grace_hopper":
        from matplotlib import cbook

        with cbook.get_sample_data("grace_hopper.jpg") as f:
            return np.asarray(Image.open(f).convert("RGB"))
    from sklearn.datasets import load_sample_image

    return load_sample_image(f"{name}.jpg")


def name_tag_banner() -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """China's hazy hills and lake as a 4:1 banner with a white name tag near its left edge."""
    banner = cv2.resize(sample("china")[40:200, 120:640], (480, 120), interpolation=cv2.INTER_AREA).copy()
    y0, x0, th, tw = 34, 8, 44, 120
    tag = Image.fromarray(banner)
    draw = ImageDraw.Draw(tag)
    draw.rectangle([x0, y0, x0 + tw, y0 + th], fill=(246, 246, 240), outline=(200, 30, 30), width=3)
    draw.text((x0 + 10, y0 + 8), "HELLO my name", fill=(20, 20, 20))
    draw.text((x0 + 10, y0 + 24), "is EASEL", fill=(20, 20, 20))
    return np.asarray(tag), (y0, y0 + th + 1, x0, x0 + tw + 1)


def expand_cases() -> list[tuple[str, np.ndarray, tuple[float, float, float, float], tuple[int, int, int, int]]]:
    """(name, photo, scales top/bottom/left/right, salient object's box y0 y1 x0 x1)."""
    china = sample("china")
    flower = sample("flower")
    hopper = cv2.resize(sample("grace_hopper"), (300, 384), interpolation=cv2.INTER_AREA)
    tagged, tag_box = name_tag_banner()
    return [
        ("china banner 2x sideways", china[150:310].copy(), (1.0, 1.0, 2.0, 2.0), (0, 160, 240, 400)),
        ("name tag banner", tagged, (1.0, 1.0, 2.0, 1.5), tag_box),  # dup NCC: the whole tag
        ("flower x1.5", flower, (1.5, 1.5, 1.5, 1.5), (385, 427, 295, 395)),
        ("grace hopper x1.5", hopper, (1.5, 1.5, 1.5, 1.5), (30, 200, 70, 230)),
    ]


def grass(shape: tuple[int, int], seed: int) -> np.ndarray:
    """Blades of grass: many short, thin, slanted strokes in varying greens."""
    rng = np.random.default_rng(seed)
    h, w = shape
    image = np.zeros((h, w, 3), np.uint8)
    image[:] = (52, 96, 38)
    for _ in range(h * w // 18):
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        length, lean = int(rng.integers(5, 13)), int(rng.integers(-3, 4))
        shade = rng.uniform(0.6, 1.5)
        colour = tuple(int(min(255, c * shade)) for c in (70, 130, 45))
        cv2.line(image, (x, y), (x + lean, y - length), colour, 1, cv2.LINE_AA)
    return image


def shelf(shape: tuple[int, int], seed: int) -> np.ndarray:
    """A wooden shelf: fine horizontal grain, two board edges."""
    rng = np.random.default_rng(seed)
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    noise = cv2.GaussianBlur(rng.normal(0, 1, (h, w)).astype(np.float32), (0, 0), sigmaX=9, sigmaY=0.8)
    grain = 0.5 + 0.5 * np.sin(yy * 0.9 + 6 * noise + 0.02 * xx)
    base = np.array([150, 104, 62], np.float32)
    wood = base[None, None] * (0.8 + 0.35 * grain[..., None]) + rng.normal(0, 4, (h, w, 1))
    for edge in (h // 3, 2 * h // 3):
        wood[edge : edge + 4] *= 0.55
    return np.clip(wood, 0, 255).astype(np.uint8)


def with_objects(
    background: np.ndarray, boxes: list[tuple[int, int, int, int, tuple[int, int, int]]]
) -> tuple[np.ndarray, np.ndarray]:
    """The background with solid boxes (y0, y1, x0, x1, colour) painted on, and the removal mask."""
    scene = background.copy()
    mask = np.zeros(background.shape[:2], np.uint8)
    for y0, y1, x0, x1, colour in boxes:
        scene[y0:y1, x0:x1] = colour
        cv2.rectangle(scene, (x0, y0), (x1 - 1, y1 - 1), tuple(int(c * 0.6) for c in colour), 2)
        mask[y0:y1, x0:x1] = 1
    # A removal mask is drawn generously around the object.
    return scene, cv2.dilate(mask, np.ones((7, 7), np.uint8)) > 0


def removal_cases() -> list[tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
    """(name, truth without the object, scene with it, mask)."""
    cases = []
    lawn = grass((320, 480), seed=5)
    bench = [
        (150, 170, 100, 380, (120, 80, 45)),
        (170, 230, 120, 136, (90, 60, 35)),
        (170, 230, 344, 360, (90, 60, 35)),
    ]
    cases.append(("bench on grass", lawn, *with_objects(lawn, bench)))
    wood = shelf((300, 400), seed=6)
    boxes = [
        (40, 100, 60, 150, (200, 190, 160)),
        (30, 100, 170, 230, (60, 90, 150)),
        (140, 200, 250, 360, (180, 60, 50)),
    ]
    cases.append(("boxes on a shelf", wood, *with_objects(wood, boxes)))
    sky = cv2.resize(sample("china")[0:120, 0:300], (450, 180), interpolation=cv2.INTER_CUBIC)
    flag = [(40, 80, 200, 270, (200, 30, 40)), (40, 170, 196, 200, (60, 60, 60))]
    cases.append(("flag on the sky", sky, *with_objects(sky, flag)))
    foliage = sample("china")[250:427, 0:260].copy()
    hole = np.zeros(foliage.shape[:2], bool)
    hole[60:130, 80:170] = True
    cases.append(("china foliage square", foliage, foliage, hole))
    flower = cv2.resize(sample("flower"), (480, 320), interpolation=cv2.INTER_AREA)
    hole = np.zeros(flower.shape[:2], bool)
    hole[40:110, 30:120] = True
    cases.append(("flower bokeh square", flower, flower, hole))
    hopper = cv2.resize(sample("grace_hopper"), (300, 384), interpolation=cv2.INTER_AREA)
    hole = np.zeros(hopper.shape[:2], bool)
    hole[20:80, 220:290] = True  # on the plain blue backdrop
    cases.append(("grace hopper backdrop square", hopper, hopper, hole))
    return cases


# --- metrics ---------------------------------------------------------------------------------------


def lab(rgb: np.ndarray) -> np.ndarray:
    out = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB).astype(np.float32)
    out[..., 0] *= 100.0 / 255.0
    return out


def palette(rgb: np.ndarray, size: int = 16) -> np.ndarray:
    values = lab(rgb).reshape(-1, 3)
    values = values[np.random.default_rng(0).choice(len(values), min(len(values), 30000), replace=False)]
    cv2.setRNGSeed(0)
    _, _, centres = cv2.kmeans(
        values, size, None, (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 30, 0.5), 2, cv2.KMEANS_PP_CENTERS
    )
    return centres


def palette_distance(values: np.ndarray, centres: np.ndarray) -> np.ndarray:
    return np.sqrt(((values[:, None, :] - centres[None]) ** 2).sum(axis=2)).min(axis=1)


def high_pass(rgb: np.ndarray) -> np.ndarray:
    return texture.high_pass(rgb)


def duplication(out: np.ndarray, border: np.ndarray, template: np.ndarray) -> float:
    grey = cv2.cvtColor(out, cv2.COLOR_RGB2GRAY)
    tmpl = cv2.cvtColor(template, cv2.COLOR_RGB2GRAY)
    th, tw = tmpl.shape
    scores = cv2.matchTemplate(grey, tmpl, cv2.TM_CCOEFF_NORMED)
    # only windows lying wholly in the border
    inside = cv2.erode(
        border.astype(np.uint8),
        np.ones((th, tw), np.uint8),
        anchor=(0, 0),
        borderType=cv2.BORDER_CONSTANT,
        borderValue=0,
    )
    allowed = inside[: scores.shape[0], : scores.shape[1]] > 0
    return float(scores[allowed].max()) if allowed.any() else float("nan")


def expand_scores(
    photo: np.ndarray, out: np.ndarray, scales: tuple[float, ...], box: tuple[int, int, int, int]
) -> dict[str, float]:
    h, w = photo.shape[:2]
    top, _, left, _ = border_sizes(h, w, *scales)
    border = np.ones(out.shape[:2], bool)
    border[top : top + h, left : left + w] = False
    centres = palette(photo)
    far = far_fade(photo, out, scales)
    # the photo's edge band along the expanded sides: the region the border continues
    distance = cv2.distanceTransform((~border).astype(np.uint8), cv2.DIST_L2, 5)
    band = ~border & (distance <= max(8, round(0.15 * min(h, w))))
    y0, y1, x0, x1 = box
    return {
        "palette dE": float(palette_distance(lab(out)[border], centres).mean()),
        "far dE": float(far),
        "dup NCC": duplication(out, border, photo[y0:y1, x0:x1]),
        "texture": float(high_pass(out)[border].mean() / max(high_pass(out)[band].mean(), 1e-6)),
    }


def far_fade(photo: np.ndarray, out: np.ndarray, scales: tuple[float, ...]) -> float:
    """Mean over the expanded sides of the Lab distance between the mean colour of the canvas's outer
    tenth on that side and the mean colour of the photo's own edge tenth it continues."""
    h, w = photo.shape[:2]
    top, bottom, left, right = border_sizes(h, w, *scales)
    ch, cw = out.shape[:2]
    ph, pw = max(1, h // 10), max(1, w // 10)
    sides = []
    if top:
        sides.append((out[: max(1, ch // 10), left : left + w], photo[:ph]))
    if bottom:
        sides.append((out[ch - max(1, ch // 10) :, left : left + w], photo[h - ph :]))
    if left:
        sides.append((out[top : top + h, : max(1, cw // 10)], photo[:, :pw]))
    if right:
        sides.append((out[top : top + h, cw - max(1, cw // 10) :], photo[:, w - pw :]))
    gaps = [np.linalg.norm(lab(a).reshape(-1, 3).mean(0) - lab(b).reshape(-1, 3).mean(0)) for a, b in sides]
    return float(np.mean(gaps))


def hole_ssim(truth: np.ndarray, result: np.ndarray, hole: np.ndarray) -> float:
    from skimage.metrics import structural_similarity

    _, ssim_map = structural_similarity(truth, result, channel_axis=2, data_range=255, full=True)
    return float(ssim_map.mean(axis=2)[hole].mean())


def removal_scores(truth: np.ndarray, result: np.ndarray, hole: np.ndarray) -> dict[str, float]:
    mse = float(((truth[hole].astype(np.float64) - result[hole]) ** 2).mean())
    around = texture.ring(hole)
    return {
        "PSNR": 10 * np.log10(255.0**2 / max(mse, 1e-12)),
        "SSIM": hole_ssim(truth, result, hole),
        "texture": float(high_pass(result)[hole].mean() / max(high_pass(result)[around].mean(), 1e-6)),
        "truth texture": float(high_pass(truth)[hole].mean() / max(high_pass(truth)[around].mean(), 1e-6)),
    }


def timed(fn: Callable[[], np.ndarray]) -> tuple[np.ndarray, float]:
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


# --- runs ------------------------------------------------------------------------------------------


def run_expand(before: ModuleType) -> list[str]:
    lines = [
        "| case | canvas | palette dE before / after | far dE | dup NCC | texture | s before / after |",
        "|---|---|---|---|---|---|---|",
    ]
    strips = []
    for name, photo, scales, box in expand_cases():
        old, old_s = timed(lambda photo=photo, scales=scales: before.expand(photo, *scales, seed=0))
        new, new_s = timed(lambda photo=photo, scales=scales: expand(photo, *scales, seed=0))
        a, b = expand_scores(photo, old, scales, box), expand_scores(photo, new, scales, box)
        lines.append(
            f"| {name} | {new.shape[1]}x{new.shape[0]} | {a['palette dE']:.1f} / {b['palette dE']:.1f}"
            f" | {a['far dE']:.1f} / {b['far dE']:.1f} | {a['dup NCC']:.2f} / {b['dup NCC']:.2f}"
            f" | {a['texture']:.2f} / {b['texture']:.2f} | {old_s:.2f} / {new_s:.2f} |"
        )
        print(lines[-1], flush=True)
        strips.append(labelled_pair(name, old, new))
    save_sheet(strips, SHEETS / "cpufill_expand.png")
    return lines


def labelled_pair(name: str, old: np.ndarray, new: np.ndarray, width: int = 1200) -> np.ndarray:
    tiles = []
    for image, label in ((old, "before"), (new, "after")):
        scale = (width / 2 - 4) / image.shape[1] if image.shape[1] < 2.5 * image.shape[0] else width / image.shape[1]
        im = Image.fromarray(cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA))
        canvas = Image.new("RGB", (im.width, im.height + 16), "white")
        canvas.paste(im, (0, 16))
        ImageDraw.Draw(canvas).text((3, 2), f"{name}: {label}", fill="black")
        tiles.append(np.asarray(canvas))
    if tiles[0].shape[1] * 2 <= width:  # side by side
        h = max(t.shape[0] for t in tiles)
        tiles = [np.pad(t, ((0, h - t.shape[0]), (0, 4), (0, 0)), constant_values=255) for t in tiles]
        return np.hstack(tiles)
    return np.vstack(tiles)


def save_sheet(strips: list[np.ndarray], path: Path) -> None:
    width = max(s.shape[1] for s in strips)
    padded = [np.pad(s, ((0, 6), (0, width - s.shape[1]), (0, 0)), constant_values=255) for s in strips]
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.vstack(padded)).save(path, optimize=True)
    print("sheet:", path.relative_to(ROOT))


def run_removal() -> list[str]:
    lines = [
        "| case | hole px | textured? | PSNR before / after | SSIM before / after"
        " | texture before / after (truth) | s before / after |",
        "|---|---|---|---|---|---|---|",
    ]
    strips = []
    chosen = texture.wants_texture
    for name, truth, scene, hole in removal_cases():
        texture.wants_texture = lambda *args: False  # the committed pass: coherence alone
        old, old_s = timed(lambda scene=scene, hole=hole: classical.inpaint(scene, hole, seed=0))
        texture.wants_texture = chosen
        new, new_s = timed(lambda scene=scene, hole=hole: classical.inpaint(scene, hole, seed=0))
        a, b = removal_scores(truth, old, hole), removal_scores(truth, new, hole)
        used = "yes" if not np.array_equal(old, new) else "no"
        lines.append(
            f"| {name} | {int(hole.sum())} | {used} | {a['PSNR']:.2f} / {b['PSNR']:.2f}"
            f" | {a['SSIM']:.3f} / {b['SSIM']:.3f}"
            f" | {a['texture']:.2f} / {b['texture']:.2f} ({a['truth texture']:.2f}) | {old_s:.2f} / {new_s:.2f} |"
        )
        print(lines[-1], flush=True)
        shown = scene.copy()
        shown[hole] = (255, 0, 255)
        row = np.hstack([np.pad(t, ((16, 0), (0, 4), (0, 0)), constant_values=255) for t in (shown, old, new, truth)])
        im = Image.fromarray(row)
        step = scene.shape[1] + 4
        for i, label in enumerate(("mask", "before (coherence)", "after", "truth")):
            ImageDraw.Draw(im).text((i * step + 3, 2), f"{name}: {label}", fill="black")
        strips.append(np.asarray(im))
    save_sheet(
        [
            cv2.resize(
                s, None, fx=min(1.0, 1600 / s.shape[1]), fy=min(1.0, 1600 / s.shape[1]), interpolation=cv2.INTER_AREA
            )
            for s in strips
        ],
        SHEETS / "cpufill_removal.png",
    )
    return lines


def main() -> None:
    before = committed_outpaint()
    print("## expand (held-out)")
    expand_lines = run_expand(before)
    print("## removal (held-out)")
    removal_lines = run_removal()
    print("\n".join(["", *expand_lines, "", *removal_lines]))


if __name__ == "__main__":
    main()
