"""Text / watermark removal bench (wanx2.1-imageedit remove_watermark).

Chinese and English text is rendered with PIL (Noto Sans CJK SC) onto the four scikit-image photos in
three kinds of case: opaque captions, faint watermarks (35-45 % opacity) and small text. Each case is
run through `remove_text` (the engine: default + sensitive detection, stroke masks, a check pass)
and through a baseline built from the same parts: default detection only, whole boxes, one fill.

Per case it reports how many planted characters the checker still reads after removal (the checker
is the sensitive two-pass detector with recognition, stricter than a plain OCR call), how many
pixels changed outside the planted text boxes (grown by 0.3 x font size + 4 px), PSNR inside the
planted boxes against the clean photo, and the time. Writes bench/results/watermark.md and a
before/after sheet.

    .venv/bin/python bench/bench_watermark.py
"""

from __future__ import annotations

import os
import platform
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from easel.engines.text import TextRegion, detect_text, fill, removal_target, remove_text, text_mask

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
RESULTS = ROOT / "bench" / "results" / "watermark.md"
SHEET = ROOT / "bench" / "sheets" / "watermark_before_after.png"
FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
FONT_INDEX_SC = 2  # the .ttc holds JP, KR, SC, TC, HK; SC has the simplified forms
PHOTOS = ("astronaut", "coffee", "chelsea", "rocket")
MAX_FOUND_SHARE = 0.05
# "Outside the text" starts this many font sizes (+4 px) beyond each planted line's glyph box: the
# detector's boxes reach about 0.3-0.5 of a line height past the glyphs, and the mask grows them by
# 0.2 more before it narrows to the strokes.
BOX_GROW = 0.5
# A pixel belongs to the planted text where rendering moved it this far (0-255) from the clean photo.
GLYPH_DIFF = 12

CHINESE = ("版权所有", "禁止转载", "样图", "中文水印", "图片来源网络", "摄影作品", "仅供参考", "新品上市")
ENGLISH = ("SAMPLE", "Copyright 2024", "www.example.com", "Hello World", "PREVIEW", "Stock Photo", "DRAFT")
COLOURS = {"white": (255, 255, 255), "black": (0, 0, 0), "yellow": (255, 220, 0), "red": (220, 30, 30)}


@dataclass
class Planted:
    text: str
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 of the rendered glyphs
    size: int
    opacity: float
    colour: str


@dataclass
class Case:
    name: str
    clean: np.ndarray
    image: np.ndarray
    planted: list[Planted]


def photo(name: str) -> np.ndarray:
    from skimage import data

    return getattr(data, name)()


def render(clean: np.ndarray, specs: list[tuple[str, int, str, float]], rng: np.random.Generator) -> Case:
    """Draw each (text, size, colour, opacity) at a random free place; returns the case."""
    base = Image.fromarray(clean).convert("RGBA")
    h, w = clean.shape[:2]
    planted: list[Planted] = []
    for text, size, colour, opacity in specs:
        font = ImageFont.truetype(FONT, size, index=FONT_INDEX_SC)
        layer = Image.new("RGBA", base.size, (0, 0, 0, 0))
        draw = ImageDraw.Draw(layer)
        x0, y0, x1, y1 = draw.textbbox((0, 0), text, font=font)
        for _ in range(200):
            x = int(rng.integers(4, max(5, w - (x1 - x0) - 4)))
            y = int(rng.integers(4 - y0, max(5 - y0, h - y1 - 4)))
            box = (x + x0, y + y0, x + x1, y + y1)
            if box[2] < w and box[3] < h and not any(_overlap(box, p.box, size // 2) for p in planted):
                break
        else:
            continue
        draw.text((x, y), text, font=font, fill=(*COLOURS[colour], round(255 * opacity)))
        base = Image.alpha_composite(base, layer)
        planted.append(Planted(text, box, size, opacity, colour))
    return Case("", clean, np.asarray(base.convert("RGB")), planted)


def _overlap(a: tuple[int, ...], b: tuple[int, ...], margin: int) -> bool:
    return not (a[2] + margin < b[0] or b[2] + margin < a[0] or a[3] + margin < b[1] or b[3] + margin < a[1])


def cases() -> list[Case]:
    out = []
    for i, name in enumerate(PHOTOS):
        clean = photo(name)
        scale = min(clean.shape[:2]) / 512
        rng = np.random.default_rng(100 + i)

        def px(size: float, scale: float = scale) -> int:
            return max(14, round(size * scale))

        kinds = {
            "captions": [
                (CHINESE[(i + 0) % 8], px(44), "white", 1.0),
                (ENGLISH[(i + 1) % 7], px(36), "yellow", 1.0),
                (CHINESE[(i + 4) % 8], px(28), "black", 1.0),
                (ENGLISH[(i + 3) % 7], px(24), "red", 1.0),
            ],
            "watermark": [
                (f"{ENGLISH[0]} {CHINESE[2]}", px(60), "white", 0.43),
                (CHINESE[(i + 1) % 8], px(30), "white", 0.35),
                (ENGLISH[(i + 2) % 7], px(26), "black", 0.40),
                (CHINESE[(i + 5) % 8], px(40), "black", 0.45),
            ],
            "small": [
                (CHINESE[(i + 6) % 8], px(18), "white", 0.8),
                (ENGLISH[(i + 5) % 7], px(18), "black", 0.7),
                (CHINESE[(i + 3) % 8], px(22), "yellow", 0.6),
                (ENGLISH[(i + 4) % 7], px(16), "white", 0.9),
            ],
        }
        for kind, specs in kinds.items():
            case = render(clean, specs, rng)
            case.name = f"{name}/{kind}"
            out.append(case)
    return out


def grown_box_mask(case: Case) -> np.ndarray:
    mask = np.zeros(case.image.shape[:2], bool)
    for p in case.planted:
        g = round(BOX_GROW * p.size) + 4
        mask[max(0, p.box[1] - g) : p.box[3] + g, max(0, p.box[0] - g) : p.box[2] + g] = True
    return mask


def planted_chars(case: Case) -> Counter[str]:
    return Counter(ch.lower() for p in case.planted for ch in p.text if not ch.isspace())


def chars_read(image: np.ndarray, case: Case, boxes: np.ndarray) -> int:
    """How many planted characters the checker reads inside the planted boxes."""
    read: Counter[str] = Counter()
    for region in detect_text(image, sensitive=True):
        if _touches(region, boxes):
            read.update(ch.lower() for ch in region.text if not ch.isspace())
    return sum((read & planted_chars(case)).values())


def _touches(region: TextRegion, boxes: np.ndarray) -> bool:
    inside = np.zeros(boxes.shape, np.uint8)
    cv2.fillPoly(inside, [np.round(region.polygon).astype(np.int32)], 1)
    return bool((inside.astype(bool) & boxes).any())


def psnr_in(a: np.ndarray, b: np.ndarray, where: np.ndarray) -> float:
    diff = a[where].astype(np.float64) - b[where]
    return float(10 * np.log10(255**2 / max(np.mean(diff**2), 1e-9)))


def baseline(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Default detection only, whole grown boxes, one fill: what a plain OCR + inpaint would do."""
    regions = detect_text(image, sensitive=False)
    mask = text_mask(image, regions, removal_target(""), glyphs=False)
    return fill(image, mask), mask


def measure(case: Case) -> dict[str, float]:
    boxes = grown_box_mask(case)
    tight = np.zeros_like(boxes)
    for p in case.planted:
        tight[p.box[1] : p.box[3], p.box[0] : p.box[2]] = True
    glyphs = np.abs(case.image.astype(np.int16) - case.clean).max(axis=2) > GLYPH_DIFF
    row: dict[str, float] = {"chars": sum(planted_chars(case).values())}
    row["read_before"] = chars_read(case.image, case, boxes)
    for side, run in (("easel", lambda im: remove_text(im, "去除图像中的文字")), ("base", baseline)):
        start = time.perf_counter()
        result, mask = run(case.image)
        row[f"{side}_s"] = time.perf_counter() - start
        row[f"{side}_read"] = chars_read(result, case, boxes)
        row[f"{side}_changed_out"] = int((np.any(result != case.image, axis=2) & ~boxes).sum())
        row[f"{side}_mask_out"] = int(((mask > 0) & ~boxes).sum())
        row[f"{side}_missed"] = float((glyphs & (mask == 0)).sum() / max(1, glyphs.sum()))
        row[f"{side}_mask_share"] = float((mask > 0).sum() / max(1, tight.sum()))
        row[f"{side}_psnr"] = psnr_in(result, case.clean, tight)
        if side == "easel":
            case_result = result
            case_mask = mask
    save_case(case, case_result, case_mask)
    return row


def save_case(case: Case, result: np.ndarray, mask: np.ndarray) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    stem = case.name.replace("/", "_")
    overlay = case.image.copy()
    overlay[mask > 0] = (0.5 * overlay[mask > 0] + [0, 127, 127]).astype(np.uint8)
    Image.fromarray(np.concatenate([case.image, overlay, result], axis=1)).save(OUT / f"wm_{stem}.png")


def english_only_check() -> dict[str, float]:
    """去除英文文字 on a mixed case: English must go, Chinese must stay readable."""
    clean = photo("coffee")
    specs = [("Morning Coffee", 40, "white", 1.0), ("早安咖啡", 40, "white", 1.0), ("SAMPLE 样图", 48, "white", 0.43)]
    case = render(clean, specs, np.random.default_rng(7))
    result, _ = remove_text(case.image, "去除英文文字")
    read = Counter()
    for region in detect_text(result, sensitive=True):
        read.update(ch.lower() for ch in region.text if not ch.isspace())
    latin = Counter(ch.lower() for p in case.planted for ch in p.text if ch.isascii() and not ch.isspace())
    chinese = Counter(ch for p in case.planted for ch in p.text if not ch.isascii() and not ch.isspace())
    return {
        "latin_planted": sum(latin.values()),
        "latin_read": sum((read & latin).values()),
        "chinese_planted": sum(chinese.values()),
        "chinese_read": sum((read & chinese).values()),
    }


def sheet(names: list[str]) -> None:
    rows = []
    for name in names:
        im = Image.open(OUT / f"wm_{name.replace('/', '_')}.png")
        im = im.resize((900, round(im.height * 900 / im.width)), Image.Resampling.LANCZOS)
        canvas = Image.new("RGB", (im.width, im.height + 18), "white")
        canvas.paste(im, (0, 18))
        ImageDraw.Draw(canvas).text((4, 3), f"{name}: input | mask | result", fill="black")
        rows.append(canvas)
    out = Image.new("RGB", (900, sum(r.height for r in rows)), "white")
    y = 0
    for r in rows:
        out.paste(r, (0, y))
        y += r.height
    SHEET.parent.mkdir(parents=True, exist_ok=True)
    out.save(SHEET, optimize=True)


def inpainter_name() -> str:
    try:
        import easel.engines.inpaint  # noqa: F401
    except ImportError:
        return "cv2.inpaint TELEA (fallback: easel.engines.inpaint not importable)"
    return "easel.engines.inpaint.inpaint"


def main() -> None:
    remove_text(photo("astronaut"), "")  # load the models outside the timings
    rows = []
    for case in cases():
        row = measure(case)
        rows.append((case.name, row))
        print(case.name, {k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()}, flush=True)
    mixed = english_only_check()
    print("english-only", mixed)
    sheet(["astronaut/watermark", "coffee/captions", "chelsea/small", "rocket/watermark"])
    write_results(rows, mixed)


# What the sheet showed when it was last looked at (bench/sheets/watermark_before_after.png).
SHEET_NOTES = (
    "**Sheet** (`bench/sheets/watermark_before_after.png`: input | mask in cyan | result). astronaut/watermark:"
    " the faint white `SAMPLE 样图`, `摄影作品` and `禁止转载` are gone; the 40 %-black `www.example.com` on the"
    " orange suit was never detected and is still there (the *missed* column counts it); the `SAMPLE` mask"
    " reaches onto the suit strap, where the line was grown one step too far. coffee/captions: all captions"
    " gone; the fills on the saucer and the wood are smooth patches that show on a close look. chelsea/small:"
    " all four lines gone; `摄影作品` crossed the cat's eye, whose lower half is now a smooth fill."
    " rocket/watermark: all text gone; where `SAMPLE 样图` crossed the rocket, the rocket body is smeared."
)


def write_results(rows: list[tuple[str, dict[str, float]]], mixed: dict[str, float]) -> None:
    def total(key: str) -> float:
        return sum(r[key] for _, r in rows)

    chars = total("chars")
    lines = [
        "## Text / watermark removal (remove_watermark)",
        "",
        f"`.venv/bin/python bench/bench_watermark.py` on {platform.machine()}, {os.cpu_count()} cores (shared),"
        f" Python {platform.python_version()}. Inpainter: {inpainter_name()}.",
        "",
        "Text in Noto Sans CJK SC rendered onto the four scikit-image photos; per photo three cases:"
        " *captions* (opaque, 24-44 px at 512), *watermark* (35-45 % opacity white/black, up to 60 px,"
        " one mixed `SAMPLE 样图` line), *small* (16-22 px, 60-90 % opacity)."
        " **easel** = `remove_text(img, '去除图像中的文字')`; **base** = default detection only, whole boxes,"
        " one fill (same inpainter). *read* = planted characters the checker (sensitive two-pass"
        " PP-OCRv4 with recognition) still reads inside the planted boxes; *chg out* = pixels changed"
        " outside the planted boxes grown by 0.5 x font size + 4 px; *missed* = share of glyph pixels"
        " (rendering moved them > 12 levels) left outside the mask; *mask/box* = mask area over tight"
        " glyph box area; PSNR inside the tight boxes against the clean photo.",
        "",
        "| case | chars | read before | easel read | base read | easel missed | base missed | easel chg out"
        " | base chg out | easel mask/box | easel PSNR | base PSNR | easel s | base s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in rows:
        lines.append(
            f"| {name} | {r['chars']} | {r['read_before']} | {r['easel_read']} | {r['base_read']}"
            f" | {r['easel_missed']:.1%} | {r['base_missed']:.1%} | {r['easel_changed_out']}"
            f" | {r['base_changed_out']} | {r['easel_mask_share']:.2f}"
            f" | {r['easel_psnr']:.1f} | {r['base_psnr']:.1f} | {r['easel_s']:.2f} | {r['base_s']:.2f} |"
        )
    lines += [
        "",
        f"**Total:** {chars:.0f} planted characters; the checker reads {total('read_before'):.0f} before"
        f" removal, {total('easel_read'):.0f} ({total('easel_read') / chars:.1%}) after easel,"
        f" {total('base_read'):.0f} ({total('base_read') / chars:.1%}) after the baseline"
        f" (target: at most {MAX_FOUND_SHARE:.0%}). Pixels changed outside the planted boxes:"
        f" {total('easel_changed_out'):.0f} (easel), {total('base_changed_out'):.0f} (base)."
        f" Time: easel {total('easel_s'):.1f} s, base {total('base_s'):.1f} s"
        f" (ratio {total('easel_s') / total('base_s'):.2f}).",
        "",
        f"**去除英文文字 on a mixed image** (`Morning Coffee`, `早安咖啡`, faint `SAMPLE 样图`):"
        f" Latin characters read after removal {mixed['latin_read']}/{mixed['latin_planted']},"
        f" Chinese characters still read {mixed['chinese_read']}/{mixed['chinese_planted']}.",
        "",
        SHEET_NOTES,
        "",
    ]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines))


if __name__ == "__main__":
    main()
