"""Title / subtitle layout for wanx-background-generation's text_results.

Placement: candidate blocks (title with its subtitle under it, or CJK columns set vertically) at
nine anchors and five sizes are scored by how much of the subject (its alpha, with a margin) they
cover, how busy the background under them is, a preference for the top and for large type, and a
small seeded jitter so samples differ. Colour: the title takes the most colourful hue of the
subject (else the background), moved in OKLab lightness until its contrast with every part of
the region beneath clears WCAG 4.5:1 with a margin; when no colour can, a gradient band (block at
an edge) or a rounded label (block mid-frame) goes under it first. The subtitle sits on a rounded
label in the title's colour, or stands alone with its own readable colour.

Every text layer's top/left/width/height is the ink box of its glyphs as render_layers draws them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

import cv2
import numpy as np

from easel.engines.compose.colour import RGB, hex_colour, parse_hex_colour
from easel.engines.typeset import palette as pal
from easel.engines.typeset.fonts import SANS, SERIF, available_families
from easel.engines.typeset.render import TextStyle, measure_text, render_layers

Direction = Literal["horizontal", "vertical"]
Box = tuple[int, int, int, int]  # left, top, width, height

_ANALYSIS_SIDE = 256
_SCALES = (1.0, 0.85, 0.72, 0.6, 0.5)
_SMALL_SCALES = (0.4, 0.3, 0.2)
_ANCHOR_PRIOR = {
    ("top", "center"): 0.0, ("top", "left"): 0.12, ("top", "right"): 0.12,
    ("bottom", "center"): 0.22, ("bottom", "left"): 0.3, ("bottom", "right"): 0.3,
    ("middle", "left"): 0.28, ("middle", "right"): 0.28, ("middle", "center"): 0.8,
}
_VERTICAL_PRIOR = 0.15
_BAND_OPACITY = 0.85
# a plate's reach beyond the glyph box, in units of the font size (x, y)
PLATE_PAD = (0.35, 0.2)
_LABEL_OPACITY = 0.92


@dataclass(frozen=True)
class TitleLayout:
    """The DashScope layers for one sample, and the font family actually drawn."""

    layers: list[dict]
    font_family: str
    sample_idx: int

    def params(self) -> dict:
        """One element of output.text_results.params."""
        return {"sample_idx": self.sample_idx, "layers": self.layers}


@dataclass(frozen=True)
class _Choices:
    family: str
    sub_on_label: bool
    prefer_band: bool


@dataclass(frozen=True)
class _Block:
    direction: Direction
    vertical_anchor: str
    horizontal_anchor: str
    scale: float
    title_size: int
    sub_size: int
    title_box: Box
    sub_box: Box | None
    label_box: Box | None
    box: Box
    cost: float = 0.0


@dataclass
class _Maps:
    """Integral images at analysis scale for fast box means."""

    scale: float
    occupied: np.ndarray
    busy: np.ndarray
    cache: dict = field(default_factory=dict)

    def mean(self, table: np.ndarray, box: Box) -> float:
        left, top, width, height = (round(v * self.scale) for v in box)
        x1, y1 = min(table.shape[1] - 1, left + max(1, width)), min(table.shape[0] - 1, top + max(1, height))
        left, top = max(0, left), max(0, top)
        area = max(1, (x1 - left) * (y1 - top))
        return float(table[y1, x1] - table[top, x1] - table[y1, left] + table[top, left]) / area


def layout_title(
    image: np.ndarray,
    subject_alpha: np.ndarray,
    title: str,
    sub_title: str | None,
    *,
    seed: int = 0,
    sample_idx: int = 0,
) -> TitleLayout:
    """Lay out a title (and optional subtitle) over an RGB uint8 image avoiding the subject."""
    title = title.strip()
    sub_title = (sub_title or "").strip() or None
    if not title:
        raise ValueError("title must not be empty")
    rng = np.random.default_rng([max(0, seed), max(0, sample_idx)])
    choices = _draw_choices(rng)
    maps = _analysis_maps(image, subject_alpha)
    block = _best_block(image.shape[1], image.shape[0], title, sub_title, choices, maps, rng)
    layers = _dress(image, subject_alpha, block, title, sub_title, choices)
    return TitleLayout(layers, choices.family, sample_idx)


def _draw_choices(rng: np.random.Generator) -> _Choices:
    families = available_families()
    draws = rng.random(3)
    family = SERIF if SERIF in families and draws[0] < 0.25 else families[0] if families else SANS
    return _Choices(family=family, sub_on_label=bool(draws[1] < 0.55), prefer_band=bool(draws[2] < 0.35))


def _analysis_maps(image: np.ndarray, alpha: np.ndarray) -> _Maps:
    height, width = alpha.shape
    scale = min(1.0, _ANALYSIS_SIDE / max(height, width))
    size = (max(8, round(width * scale)), max(8, round(height * scale)))
    small_alpha = cv2.resize(alpha, size, interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    # Keep a margin of about 2.5% of the frame between text and subject.
    margin = max(1, round(0.025 * max(size)))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * margin + 1, 2 * margin + 1))
    occupied = cv2.dilate((small_alpha > 0.1).astype(np.float32), kernel)
    grey = cv2.cvtColor(cv2.resize(image[..., :3], size, interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2GRAY)
    gradient = np.hypot(cv2.Sobel(grey, cv2.CV_32F, 1, 0), cv2.Sobel(grey, cv2.CV_32F, 0, 1))
    busy = cv2.GaussianBlur(np.clip(gradient / 120.0, 0.0, 1.0), (0, 0), 2.0)
    return _Maps(size[0] / width, cv2.integral(occupied), cv2.integral(busy))


def _best_block(width: int, height: int, title: str, sub_title: str | None, choices: _Choices,
                maps: _Maps, rng: np.random.Generator) -> _Block:
    candidates = []
    directions: list[Direction] = ["horizontal"]
    if all(_is_cjk(ch) for ch in title + (sub_title or "")) and len(title) > 1:
        directions.append("vertical")
    bases = {d: _base_sizes(width, height, title, sub_title, d, choices, maps) for d in directions}
    # Small canvases get smaller floors and scales until something fits.
    for scales, floors in ((_SCALES, (12, 10)), (_SMALL_SCALES, (6, 5))):
        for direction in directions:
            title_base, sub_base = bases[direction]
            for scale in scales:
                sizes = (max(floors[0], round(title_base * scale)), max(floors[1], round(sub_base * scale)))
                candidates += _placements(width, height, title, sub_title, direction, scale, sizes, choices, maps)
        if candidates:
            break
    if not candidates:
        raise ValueError(f"a {width}x{height} canvas is too small for the title")
    jitter = rng.uniform(0.0, 0.18, size=len(candidates))
    scored = [replace(c, cost=_cost(c, maps) + float(j)) for c, j in zip(candidates, jitter, strict=True)]
    return min(scored, key=lambda c: c.cost)


def _cost(block: _Block, maps: _Maps) -> float:
    overlap = maps.mean(maps.occupied, block.box)
    busy = maps.mean(maps.busy, block.box)
    prior = _ANCHOR_PRIOR[(block.vertical_anchor, block.horizontal_anchor)]
    if block.direction == "vertical":
        prior += _VERTICAL_PRIOR
    crowded = 3.0 if overlap > 0.03 else 0.0
    return 10.0 * overlap + crowded + 1.2 * busy + prior + 1.6 * (1.0 - block.scale)


def _base_sizes(width: int, height: int, title: str, sub_title: str | None, direction: Direction,
                choices: _Choices, maps: _Maps) -> tuple[float, float]:
    """Largest sensible sizes: title about 60% of the frame across (or down, set vertically)."""
    title_w, title_h = _measure(maps, title, choices.family, "Bold", 100, direction)
    if direction == "horizontal":
        title_size = min(0.6 * width * 100 / max(1, title_w), 0.14 * height, 0.25 * width)
    else:
        title_size = min(0.6 * height * 100 / max(1, title_h), 0.12 * width)
    title_size = max(title_size, 0.03 * min(width, height))
    sub_size = 0.42 * title_size
    if sub_title:
        sub_w, sub_h = _measure(maps, sub_title, choices.family, "Regular", 100, direction)
        reach = sub_w if direction == "horizontal" else sub_h
        extent = width if direction == "horizontal" else height
        sub_size = min(sub_size, 0.8 * extent * 100 / max(1, reach))
    return title_size, sub_size


def _placements(width: int, height: int, title: str, sub_title: str | None, direction: Direction,
                scale: float, sizes: tuple[int, int], choices: _Choices, maps: _Maps) -> list[_Block]:
    title_size, sub_size = sizes
    title_w, title_h = _measure(maps, title, choices.family, "Bold", title_size, direction)
    sub = _measure(maps, sub_title, choices.family, "Regular", sub_size, direction) if sub_title else None
    pad = (round(0.6 * sub_size), round(0.32 * sub_size)) if choices.sub_on_label else (0, 0)
    if direction == "vertical":
        pad = (pad[1], pad[0])
    gap = round(0.3 * title_size)
    # the frame margin is kept by the title's plate too (it reaches PLATE_PAD beyond the glyphs), so a
    # plated title never sits a few pixels from the edge
    frame_margin = round(0.05 * min(width, height))
    margin = (frame_margin + round(PLATE_PAD[0] * title_size), frame_margin + round(PLATE_PAD[1] * title_size))
    blocks = []
    for vertical_anchor in ("top", "middle", "bottom"):
        for horizontal_anchor in ("left", "center", "right"):
            if direction == "vertical" and horizontal_anchor == "center":
                continue
            block = _arrange(direction, (vertical_anchor, horizontal_anchor), (title_w, title_h), sub, pad,
                             gap, margin, (width, height), scale, sizes)
            if block is not None:
                blocks.append(block)
    return blocks


def _arrange(direction: Direction, anchor: tuple[str, str], title: tuple[int, int], sub: tuple[int, int] | None,
             pad: tuple[int, int], gap: int, margin: tuple[int, int], frame: tuple[int, int], scale: float,
             sizes: tuple[int, int]) -> _Block | None:
    (title_w, title_h), (width, height), (margin_x, margin_y) = title, frame, margin
    label = (sub[0] + 2 * pad[0], sub[1] + 2 * pad[1]) if sub else (0, 0)
    if direction == "horizontal":
        block_w = max(title_w, label[0])
        block_h = title_h + (gap + label[1] if sub else 0)
    else:
        block_w = title_w + (gap + label[0] if sub else 0)
        block_h = max(title_h, label[1])
    if block_w > width - 2 * margin_x or block_h > height - 2 * margin_y:
        return None
    x = {"left": margin_x, "center": (width - block_w) // 2, "right": width - margin_x - block_w}[anchor[1]]
    y = {"top": margin_y, "middle": (height - block_h) // 2, "bottom": height - margin_y - block_h}[anchor[0]]
    if direction == "horizontal":
        title_box = (_align(x, block_w, title_w, anchor[1]), y, title_w, title_h)
        label_box = (_align(x, block_w, label[0], anchor[1]), y + title_h + gap, *label) if sub else None
    else:
        # Columns read right to left: the title is the right-hand column.
        title_box = (x + block_w - title_w, y, title_w, title_h)
        label_box = (x, y, *label) if sub else None
    sub_box = (label_box[0] + pad[0], label_box[1] + pad[1], sub[0], sub[1]) if sub and label_box else None
    has_label = sub is not None and pad != (0, 0)
    return _Block(direction, anchor[0], anchor[1], scale, sizes[0], sizes[1], title_box, sub_box,
                  label_box if has_label else None, (x, y, block_w, block_h))


def _align(x: int, block_w: int, item_w: int, anchor: str) -> int:
    if anchor == "left":
        return x
    if anchor == "right":
        return x + block_w - item_w
    return x + (block_w - item_w) // 2


def _measure(maps: _Maps, text: str, family: str, weight: str, size: int, direction: Direction) -> tuple[int, int]:
    key = (text, family, weight, size, direction)
    if key not in maps.cache:
        maps.cache[key] = measure_text(text, TextStyle(family, weight, size, direction, _line_height(direction)))
    return maps.cache[key]


def _line_height(direction: Direction) -> float:
    return 1.05 if direction == "vertical" else 1.0


def _dress(image: np.ndarray, alpha: np.ndarray, block: _Block, title: str, sub_title: str | None,
           choices: _Choices) -> list[dict]:
    """Colours, backing and the final layer list for the chosen block."""
    subject_px, background_px = _pixels(image, alpha)
    accent = pal.accent_colour([pal.palette(subject_px), pal.palette(background_px)])
    backing: list[dict] = []
    plain = pal.text_colour(accent, _crop(image, block.title_box))
    if plain is None or (choices.prefer_band and block.vertical_anchor != "middle"):
        backing = _backing(image, alpha, block, accent)
    ground = render_layers(_crop(image, block.box, pad=0), _shift(backing, block.box)) if backing else None
    title_region = _crop(ground, _relative(block.title_box, block.box)) if ground is not None \
        else _crop(image, block.title_box)
    chosen = pal.text_colour(accent, title_region)
    if chosen is None:  # patchy even under the band: fall back to an opaque label
        backing = [_label_layer(block.title_box, block.title_size, pal.ground_colour(title_region, None, "dark"),
                                1.0)]
        chosen = (pal.readable_colour(accent, *_flat_range(backing[0]), "dark") or (0, 0, 0), "dark")
    title_colour, polarity = chosen
    layers = [*backing]
    layers.append(_text_layer(title, "Title", block.title_box, block.title_size, "Bold", title_colour, block,
                              choices.family, shadow=polarity == "light" and not backing))
    if sub_title and block.sub_box is not None:
        layers += _subtitle_layers(image, ground, block, sub_title, title_colour, accent, choices)
    for idx, layer in enumerate(layers):
        layer["idx"] = idx
    return layers


def _subtitle_layers(image: np.ndarray, ground: np.ndarray | None, block: _Block, sub_title: str,
                     title_colour: RGB, accent: RGB | None, choices: _Choices) -> list[dict]:
    assert block.sub_box is not None
    if block.label_box is not None:
        label = _label_layer(block.label_box, block.sub_size, title_colour, 1.0, pill=True)
        low, high = _flat_range(label)
        polarity = pal.natural_polarity(low, high)
        start = pal.tinted(accent, 0.96 if polarity == "light" else 0.25)
        colour = pal.readable_colour(start, low, high, polarity)
        colour = colour or pal.readable_colour(None, low, high, "light" if polarity == "dark" else "dark")
        return [label, _text_layer(sub_title, "SubTitle", block.sub_box, block.sub_size, "Regular",
                                   colour or (255, 255, 255), block, choices.family, shadow=False)]
    region = _crop(ground, _relative(block.sub_box, block.box)) if ground is not None \
        else _crop(image, block.sub_box)
    chosen = pal.text_colour(title_colour, region)
    if chosen is None:
        label = _label_layer(block.sub_box, block.sub_size, pal.ground_colour(region, None, "dark"),
                             _LABEL_OPACITY, pill=True, padded=True)
        colour = pal.readable_colour(title_colour, *_flat_range(label, _LABEL_OPACITY, region), "dark")
        return [label, _text_layer(sub_title, "SubTitle", block.sub_box, block.sub_size, "Regular",
                                   colour or (0, 0, 0), block, choices.family, shadow=False)]
    colour, polarity = chosen
    return [_text_layer(sub_title, "SubTitle", block.sub_box, block.sub_size, "Regular", colour, block,
                        choices.family, shadow=polarity == "light" and ground is None)]


def _backing(image: np.ndarray, alpha: np.ndarray, block: _Block, accent: RGB | None) -> list[dict]:
    """A gradient band from the frame edge for edge blocks, else a rounded label under the title."""
    region = _crop(image, block.box)
    low, high = pal.luminance_range(region)
    polarity = pal.natural_polarity(low, high)
    ground = pal.ground_colour(region, None, polarity)  # the backdrop's own hue, so the band belongs to it
    if block.vertical_anchor != "middle" and block.direction == "horizontal":
        # The longest fade that stays off the subject.
        for fade in (0.9, 0.6, 0.35, 0.15):
            band = _band_layer(image.shape[1], image.shape[0], block, ground, fade)
            if _subject_share(alpha, band) < 0.04:
                return [band]
    return [_label_layer(block.title_box, block.title_size, ground, _LABEL_OPACITY, padded=True)]


def _band_layer(width: int, height: int, block: _Block, colour: RGB, fade_share: float) -> dict:
    """Full-width band from the frame edge: opaque under the block, then fading over fade_share of it."""
    _, top, _, block_h = block.box
    margin = round(0.05 * min(width, height))
    solid = (top + block_h + margin // 2) if block.vertical_anchor == "top" else (height - top + margin // 2)
    band_h = min(height, round(solid + fade_share * block_h + margin // 2))
    fade = round(100 * (band_h - solid) / band_h) / 100
    if block.vertical_anchor == "top":
        band_top, coords = 0, {"x1": 0, "y1": band_h, "x2": 0, "y2": 0}
    else:
        band_top, coords = height - band_h, {"x1": 0, "y1": 0, "x2": 0, "y2": band_h}
    stops = [{"offset": 0, "color": hex_colour(colour, 0)}, {"offset": fade, "color": hex_colour(colour, 255)},
             {"offset": 1, "color": hex_colour(colour, 255)}]
    return _mask_layer((0, band_top, width, band_h), colour, _BAND_OPACITY, radius=0,
                       gradient={"type": "linear", "gradient_units": "pixels", "coords": coords,
                                 "color_stops": stops})


def _label_layer(box: Box, size: int, colour: RGB, opacity: float, pill: bool = False,
                 padded: bool = False) -> dict:
    left, top, width, height = box
    if padded:
        pad_x, pad_y = round(PLATE_PAD[0] * size), round(PLATE_PAD[1] * size)
        left, top, width, height = left - pad_x, top - pad_y, width + 2 * pad_x, height + 2 * pad_y
    radius = height // 2 if pill else max(2, round(0.18 * min(width, height)))
    gradient = {"type": "linear", "gradient_units": "pixels", "coords": {"x1": 0, "y1": 0, "x2": 0, "y2": height},
                "color_stops": [{"offset": 0, "color": hex_colour(colour, 255)},
                                {"offset": 1, "color": hex_colour(colour, 255)}]}
    return _mask_layer((left, top, width, height), colour, opacity, radius, gradient,
                       box_shadow=f"0px {max(1, size // 24)}px #00000033")


def _mask_layer(box: Box, colour: RGB, opacity: float, radius: int, gradient: dict | None,
                box_shadow: str | None = None) -> dict:
    left, top, width, height = box
    return {"type": "text_mask", "idx": 0, "color": hex_colour(colour), "opacity": opacity,
            "top": int(top), "left": int(left), "width": int(width), "height": int(height),
            "radius": int(radius), "gradient": gradient, "box_shadow": box_shadow}


def _text_layer(content: str, sub_type: str, box: Box, size: int, weight: str, colour: RGB, block: _Block,
                family: str, shadow: bool) -> dict:
    left, top, width, height = box
    alignment = "center" if block.direction == "vertical" else block.horizontal_anchor
    offset = max(1, round(size / 40))
    return {
        "type": "text", "sub_type": sub_type, "content": content, "idx": 0,
        "font_family": family, "font_size": int(size), "font_weight": weight,
        "font_color": hex_colour(colour), "direction": block.direction, "alignment": alignment,
        "line_height": _line_height(block.direction), "opacity": 1,
        "font_italic": False, "fontItalic": False, "font_line_through": False, "font_under_line": False,
        "top": int(top), "left": int(left), "width": int(width), "height": int(height),
        "text_shadow": f"{offset}px {offset}px #00000059" if shadow else None,
        "text_stroke": None,
    }


def _flat_range(layer: dict, opacity: float = 1.0, under: np.ndarray | None = None) -> tuple[float, float]:
    """Luminance range of a label: its own colour, or its colour over what is under it when translucent."""
    colour = np.float32(parse_hex_colour(layer["color"])[0])
    if under is None or opacity >= 1.0:
        region = np.broadcast_to(colour.astype(np.uint8), (1, 1, 3))
    else:
        region = np.clip(under * (1 - opacity) + colour * opacity + 0.5, 0, 255).astype(np.uint8)
    return pal.luminance_range(region)


def _subject_share(alpha: np.ndarray, layer: dict) -> float:
    top, left, width, height = layer["top"], layer["left"], layer["width"], layer["height"]
    window = alpha[max(0, top):top + height, max(0, left):left + width]
    return float((window > 25).mean()) if window.size else 0.0


def _pixels(image: np.ndarray, alpha: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    step = max(1, round(max(alpha.shape) / 160))
    small_image, small_alpha = image[::step, ::step, :3], alpha[::step, ::step]
    return small_image[small_alpha > 128], small_image[small_alpha < 25]


def _crop(image: np.ndarray, box: Box, pad: int = 0) -> np.ndarray:
    left, top, width, height = box
    y0, x0 = max(0, top - pad), max(0, left - pad)
    return image[y0:top + height + pad, x0:left + width + pad]


def _relative(box: Box, outer: Box) -> Box:
    return (box[0] - outer[0], box[1] - outer[1], box[2], box[3])


def _shift(layers: list[dict], outer: Box) -> list[dict]:
    return [{**layer, "left": layer["left"] - outer[0], "top": layer["top"] - outer[1]} for layer in layers]


def _is_cjk(char: str) -> bool:
    return "\u3400" <= char <= "\u9fff" or "\uf900" <= char <= "\ufaff"
