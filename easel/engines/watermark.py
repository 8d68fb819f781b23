"""The visible "AI生成" mark that DashScope adds when `watermark` is true.

The glyphs ship as a pre-rendered alpha mask (Noto Sans CJK SC Bold, SIL OFL) so the mark looks
the same on every install, with or without CJK fonts.
"""

from __future__ import annotations

from importlib import resources

from PIL import Image, ImageFilter

from easel.engines.lazy import Lazy


def _load_mark() -> Image.Image:
    with resources.files("easel.assets").joinpath("ai_mark.png").open("rb") as f:
        return Image.open(f).convert("L")


_mark = Lazy(_load_mark)


def add_ai_mark(image: Image.Image) -> Image.Image:
    """A copy with a small white "AI生成" mark and a soft shadow in the bottom-right corner."""
    base = image.convert("RGBA") if image.mode not in ("RGB", "RGBA") else image.copy()
    width, height = base.size
    text_h = max(12, round(min(width, height) * 0.035))
    mark = _mark.get()
    mask = mark.resize((max(1, round(mark.width * text_h / mark.height)), text_h), Image.Resampling.LANCZOS)
    margin = max(6, text_h // 2)
    x, y = width - mask.width - margin, height - mask.height - margin
    if x < 0 or y < 0:
        return base
    # The shadow keeps the mark readable on white backgrounds, the white on dark ones.
    shadow = mask.filter(ImageFilter.GaussianBlur(max(1, text_h // 10))).point(lambda v: v * 0.55)
    offset = max(1, text_h // 14)
    base.paste((0, 0, 0), (x + offset, y + offset), shadow)
    base.paste((255, 255, 255), (x, y), mask.point(lambda v: v * 0.9))
    return base.convert(image.mode) if image.mode in ("RGB", "RGBA") else base
