"""Drawing DashScope text layers (type "text" and "text_mask") onto an image.

Geometry contract: a text layer's top/left/width/height is the box of its glyph ink (the fill,
without stroke or shadow). The ink is placed in that box by `alignment` horizontally and centred
vertically, so when width/height are the measured ink size (as layout produces them) the ink box
is the layer box to the pixel. `measure_text` gives that ink size.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from easel.engines.compose.colour import parse_hex_colour
from easel.engines.typeset.fonts import load_font, text_runs

_SHADOW = re.compile(r"^\s*(-?\d+(?:\.\d+)?)px\s+(-?\d+(?:\.\d+)?)px\s+(#[0-9a-fA-F]{3,8})\s*$")
_STROKE = re.compile(r"^\s*(\d+(?:\.\d+)?)px\s+(#[0-9a-fA-F]{3,8})\s*$")
_ITALIC_SLANT = 0.2
_SUPERSAMPLE = 4


@dataclass(frozen=True)
class TextStyle:
    family: str
    weight: str
    size: int
    direction: str = "horizontal"
    line_height: float = 1.0
    italic: bool = False
    underline: bool = False
    line_through: bool = False
    stroke_px: int = 0


@dataclass(frozen=True)
class GlyphMasks:
    """Float masks (0..1) on one canvas, and the fill's ink box on it (x0, y0, x1, y1, exclusive)."""

    fill: np.ndarray
    stroke: np.ndarray | None
    ink: tuple[int, int, int, int]


def measure_text(text: str, style: TextStyle) -> tuple[int, int]:
    """Width and height of the text's ink as render_layers draws it."""
    x0, y0, x1, y1 = glyph_masks(text, style).ink
    return x1 - x0, y1 - y0


def glyph_masks(text: str, style: TextStyle) -> GlyphMasks:
    font = load_font(style.family, style.weight, style.size)
    runs = text_runs(text, style.family, style.weight, style.size)
    size = style.size
    pad = size // 2 + style.stroke_px + 4
    advance = size * style.line_height
    if style.direction == "vertical":
        canvas = (int(size * 1.6) + 2 * pad, int(sum(len(run) for run, _ in runs) * advance + size) + 2 * pad)
    else:
        length = sum(run_font.getlength(run) for run, run_font in runs)
        canvas = (int(length) + 2 * pad + int(_ITALIC_SLANT * size), int(size * 1.6) + 2 * pad)
    baseline = pad + font.getmetrics()[0]
    fill = _draw(runs, baseline, style, canvas, pad, stroke=0)
    stroke = _draw(runs, baseline, style, canvas, pad, stroke=style.stroke_px) if style.stroke_px > 0 else None
    if style.italic:
        fill = _slant(fill, baseline)
        stroke = _slant(stroke, baseline) if stroke is not None else None
    if style.direction != "vertical":
        _decorate(fill, font, style, pad)
    box = fill.getbbox()
    if box is None:
        box = (pad, pad, pad + 1, pad + 1)
    stroke_mask = _as_unit(stroke) if stroke is not None else None
    return GlyphMasks(_as_unit(fill), stroke_mask, box)


def _as_unit(image: Image.Image) -> np.ndarray:
    return np.asarray(image, dtype=np.float32) / 255.0


def _draw(runs: list[tuple[str, ImageFont.FreeTypeFont]], baseline: int, style: TextStyle, canvas: tuple[int, int],
          pad: int, stroke: int) -> Image.Image:
    """The runs' glyphs, each from its own face, on the main face's baseline (faces differ in ascent)."""
    image = Image.new("L", canvas, 0)
    draw = ImageDraw.Draw(image)
    if style.direction == "vertical":
        ascent = baseline - pad
        chars = [(char, font) for run, font in runs for char in run]
        for i, (char, font) in enumerate(chars):
            x = pad + (style.size - font.getlength(char)) / 2
            y = pad + i * style.size * style.line_height + ascent
            draw.text((x, y), char, font=font, anchor="ls", fill=255, stroke_width=stroke, stroke_fill=255)
    else:
        x = float(pad)
        for run, font in runs:
            draw.text((x, baseline), run, font=font, anchor="ls", fill=255, stroke_width=stroke, stroke_fill=255)
            x += font.getlength(run)
    return image


def _slant(image: Image.Image, baseline: int) -> Image.Image:
    return image.transform(image.size, Image.Transform.AFFINE,
                           (1, _ITALIC_SLANT, -_ITALIC_SLANT * baseline, 0, 1, 0), Image.Resampling.BILINEAR)


def _decorate(fill: Image.Image, font: ImageFont.FreeTypeFont, style: TextStyle, pad: int) -> None:
    """Underline and line-through, drawn into the fill so they count as ink."""
    if not (style.underline or style.line_through):
        return
    box = fill.getbbox()
    if box is None:
        return
    draw = ImageDraw.Draw(fill)
    thickness = max(1, round(style.size / 16))
    ascent = font.getmetrics()[0]
    if style.underline:
        y = pad + ascent + round(style.size * 0.08)
        draw.rectangle((box[0], y, box[2] - 1, y + thickness - 1), fill=255)
    if style.line_through:
        y = (box[1] + box[3]) // 2 - thickness // 2
        draw.rectangle((box[0], y, box[2] - 1, y + thickness - 1), fill=255)


def style_of(layer: dict) -> TextStyle:
    stroke = parse_stroke(layer.get("text_stroke"))
    return TextStyle(
        family=str(layer.get("font_family", "")),
        weight=str(layer.get("font_weight", "Regular")),
        size=int(layer["font_size"]),
        direction="vertical" if str(layer.get("direction", "")).startswith("vert") else "horizontal",
        line_height=float(layer.get("line_height") or 1.0),
        italic=bool(layer.get("font_italic", layer.get("fontItalic", False))),
        underline=bool(layer.get("font_under_line", False)),
        line_through=bool(layer.get("font_line_through", False)),
        stroke_px=stroke[0] if stroke else 0,
    )


def parse_shadow(value: object) -> tuple[float, float, tuple[int, int, int], int] | None:
    """'2px 3px #80808080' -> (dx, dy, rgb, alpha); None / 0 / '0px 0px ...' -> None."""
    if not isinstance(value, str):
        return None
    match = _SHADOW.match(value)
    if not match:
        return None
    dx, dy = float(match.group(1)), float(match.group(2))
    rgb, alpha = parse_hex_colour(match.group(3))
    if (dx == 0 and dy == 0) or alpha == 0:
        return None
    return dx, dy, rgb, alpha


def parse_stroke(value: object) -> tuple[int, tuple[int, int, int], int] | None:
    """'1px #fffffff0' -> (px, rgb, alpha); None / '0px ...' -> None."""
    if not isinstance(value, str):
        return None
    match = _STROKE.match(value)
    if not match:
        return None
    width = round(float(match.group(1)))
    rgb, alpha = parse_hex_colour(match.group(2))
    return (width, rgb, alpha) if width > 0 and alpha > 0 else None


def render_layers(image: np.ndarray, layers: list[dict]) -> np.ndarray:
    """Draw the layers in idx order onto a copy of an RGB uint8 image."""
    out = np.ascontiguousarray(image[..., :3]).copy()
    extent = _extent(layers, out.shape[1], out.shape[0])
    if extent is None:
        return out
    # Only the part the layers can reach is converted to float and drawn on.
    left, top, right, bottom = extent
    canvas = out[top:bottom, left:right].astype(np.float32)
    for layer in sorted(layers, key=lambda item: int(item.get("idx", 0))):
        moved = {**layer, "left": int(layer["left"]) - left, "top": int(layer["top"]) - top}
        if layer.get("type") == "text_mask":
            _draw_mask_layer(canvas, moved)
        elif layer.get("type") == "text":
            _draw_text_layer(canvas, moved)
    out[top:bottom, left:right] = np.clip(canvas + 0.5, 0, 255).astype(np.uint8)
    return out


def _extent(layers: list[dict], width: int, height: int) -> tuple[int, int, int, int] | None:
    """Union of the layers' boxes, widened for glyph overhang, shadows and strokes, within the image."""
    boxes = []
    for layer in layers:
        if layer.get("type") not in ("text", "text_mask"):
            continue
        reach = int(layer.get("font_size", 0)) + 16
        left, top = int(layer["left"]), int(layer["top"])
        right, bottom = left + int(layer["width"]), top + int(layer["height"])
        boxes.append((left - reach, top - reach, right + reach, bottom + reach))
    if not boxes:
        return None
    left, top = max(0, min(b[0] for b in boxes)), max(0, min(b[1] for b in boxes))
    right, bottom = min(width, max(b[2] for b in boxes)), min(height, max(b[3] for b in boxes))
    return (left, top, right, bottom) if left < right and top < bottom else None


def _draw_text_layer(canvas: np.ndarray, layer: dict) -> None:
    style = style_of(layer)
    masks = glyph_masks(str(layer.get("content", "")), style)
    x0, y0, x1, y1 = masks.ink
    free_w = int(layer["width"]) - (x1 - x0)
    free_h = int(layer["height"]) - (y1 - y0)
    alignment = str(layer.get("alignment", "left"))
    shift_x = free_w // 2 if alignment in ("center", "middle") else (free_w if alignment == "right" else 0)
    origin_x = int(layer["left"]) + shift_x - x0
    origin_y = int(layer["top"]) + free_h // 2 - y0
    opacity = float(layer.get("opacity", 1.0))
    rgb, alpha = parse_hex_colour(str(layer.get("font_color", "#000000")))
    outline = masks.stroke if masks.stroke is not None else masks.fill
    shadow = parse_shadow(layer.get("text_shadow"))
    if shadow is not None:
        dx, dy, shadow_rgb, shadow_alpha = shadow
        _paint(canvas, outline, origin_x + round(dx), origin_y + round(dy), shadow_rgb,
               opacity * shadow_alpha / 255.0)
    stroke = parse_stroke(layer.get("text_stroke"))
    if stroke is not None and masks.stroke is not None:
        _paint(canvas, masks.stroke, origin_x, origin_y, stroke[1], opacity * stroke[2] / 255.0)
    _paint(canvas, masks.fill, origin_x, origin_y, rgb, opacity * alpha / 255.0)


def _draw_mask_layer(canvas: np.ndarray, layer: dict) -> None:
    left, top = int(layer["left"]), int(layer["top"])
    width, height = int(layer["width"]), int(layer["height"])
    if width <= 0 or height <= 0:
        return
    shape = rounded_box(width, height, int(layer.get("radius") or 0))
    opacity = float(layer.get("opacity", 1.0))
    shadow = parse_shadow(layer.get("box_shadow"))
    if shadow is not None:
        dx, dy, shadow_rgb, shadow_alpha = shadow
        _paint(canvas, shape, left + round(dx), top + round(dy), shadow_rgb, opacity * shadow_alpha / 255.0)
    colours, alphas = mask_fill(layer, width, height)
    _paint_rgba(canvas, shape * alphas * opacity, colours, left, top)


def rounded_box(width: int, height: int, radius: int) -> np.ndarray:
    """Anti-aliased rounded-rectangle coverage (float32 height x width); radius is capped at half a side."""
    radius = max(0, min(radius, width // 2, height // 2))
    if radius == 0:
        return np.ones((height, width), dtype=np.float32)
    big = Image.new("L", (width * _SUPERSAMPLE, height * _SUPERSAMPLE), 0)
    ImageDraw.Draw(big).rounded_rectangle(
        (0, 0, width * _SUPERSAMPLE - 1, height * _SUPERSAMPLE - 1), radius=radius * _SUPERSAMPLE, fill=255
    )
    return np.asarray(big.resize((width, height), Image.Resampling.BOX), dtype=np.float32) / 255.0


def mask_fill(layer: dict, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel colour (h, w, 3) and alpha (h, w) of a text_mask: its gradient, else its colour."""
    gradient = layer.get("gradient")
    if not gradient or not gradient.get("color_stops"):
        rgb, alpha = parse_hex_colour(str(layer.get("color", "#ffffff")))
        colours = np.broadcast_to(np.float32(rgb), (height, width, 3))
        return colours, np.full((height, width), alpha / 255.0, dtype=np.float32)
    coords = gradient.get("coords", {})
    x1, y1 = float(coords.get("x1", 0)), float(coords.get("y1", 0))
    x2, y2 = float(coords.get("x2", 0)), float(coords.get("y2", height))
    direction = np.float32([x2 - x1, y2 - y1])
    length2 = float(direction @ direction) or 1.0
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32) + 0.5
    t = np.clip(((xs - x1) * direction[0] + (ys - y1) * direction[1]) / length2, 0.0, 1.0)
    stops = sorted(gradient["color_stops"], key=lambda stop: float(stop.get("offset", 0)))
    offsets = np.float32([float(stop.get("offset", 0)) for stop in stops])
    parsed = [parse_hex_colour(str(stop.get("color", "#000000"))) for stop in stops]
    rgba = np.float32([[*rgb, alpha] for rgb, alpha in parsed])
    channels = [np.interp(t, offsets, rgba[:, k]).astype(np.float32) for k in range(4)]
    return np.stack(channels[:3], axis=-1), channels[3] / 255.0


def _paint(canvas: np.ndarray, mask: np.ndarray, left: int, top: int, rgb: tuple[int, int, int],
           opacity: float) -> None:
    colours = np.broadcast_to(np.float32(rgb), (*mask.shape, 3))
    _paint_rgba(canvas, mask * np.float32(opacity), colours, left, top)


def _paint_rgba(canvas: np.ndarray, alpha: np.ndarray, colours: np.ndarray, left: int, top: int) -> None:
    """Alpha-blend colours (h, w, 3) with coverage alpha (h, w) at (left, top), clipped to the canvas."""
    height, width = canvas.shape[:2]
    x0, y0 = max(0, left), max(0, top)
    x1, y1 = min(width, left + alpha.shape[1]), min(height, top + alpha.shape[0])
    if x0 >= x1 or y0 >= y1:
        return
    a = alpha[y0 - top:y1 - top, x0 - left:x1 - left][..., None]
    c = colours[y0 - top:y1 - top, x0 - left:x1 - left]
    region = canvas[y0:y1, x0:x1]
    region *= 1.0 - a
    region += c * a


__all__ = [
    "GlyphMasks",
    "TextStyle",
    "glyph_masks",
    "mask_fill",
    "measure_text",
    "parse_shadow",
    "parse_stroke",
    "render_layers",
    "rounded_box",
    "style_of",
]
