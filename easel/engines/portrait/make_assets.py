"""Draw the small artworks the portrait styles paste in (seals, New Year lettering, lantern, plum branch).

Run once by hand (`python -m easel.engines.portrait.make_assets`); the PNGs it writes ship in
`assets/`, so nothing here runs at request time and serving needs no CJK font. Needs Noto Serif CJK.
"""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

ASSETS = Path(__file__).parent / "assets"
SERIF_BOLD = "/usr/share/fonts/opentype/noto/NotoSerifCJK-Bold.ttc"
SIMPLIFIED_CHINESE = 2  # face index of "Noto Serif CJK SC" inside the collection
CINNABAR = (178, 34, 34)
GOLD = (236, 190, 80)


def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(SERIF_BOLD, size, index=SIMPLIFIED_CHINESE)


def _worn(img: Image.Image, seed: int, amount: float) -> Image.Image:
    """Knock random specks out of the alpha, as a stamp pressed on paper leaves them."""
    rng = np.random.default_rng(seed)
    rgba = np.asarray(img).copy()
    noise = cv2.GaussianBlur(rng.random(rgba.shape[:2]).astype(np.float32), (0, 0), 2.0)
    noise = (noise - noise.min()) / (noise.max() - noise.min())
    rgba[:, :, 3] = (rgba[:, :, 3] * np.clip((noise - amount) * 6 + 0.5, 0, 1)).astype(np.uint8)
    return Image.fromarray(rgba)


def seal_square(text: str, seed: int) -> Image.Image:
    """A square cinnabar seal with the characters cut out (white on red), two per column, right to left."""
    size = 256
    img = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    draw.rounded_rectangle((8, 8, size - 8, size - 8), radius=14, fill=(*CINNABAR, 255))
    font = _font(100)
    columns = [text[i : i + 2] for i in range(0, len(text), 2)]
    for col, chars in enumerate(columns):
        x = size - 70 - col * 116
        for row, char in enumerate(chars):
            draw.text((x, 72 + row * 112), char, font=font, fill=(0, 0, 0, 0), anchor="mm")
    return _worn(img, seed, 0.18)


def seal_oval(text: str, seed: int) -> Image.Image:
    """An upright oval seal: red characters inside a red ring (red on paper)."""
    w, h = 150, 260
    img = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    draw.ellipse((6, 6, w - 6, h - 6), outline=(*CINNABAR, 255), width=10)
    font = _font(84)
    for row, char in enumerate(text):
        draw.text((w / 2, 82 + row * 96), char, font=font, fill=(*CINNABAR, 255), anchor="mm")
    return _worn(img, seed, 0.15)


def lettering(text: str) -> Image.Image:
    """Gold characters with a dark red outline and a soft shadow, for a festive banner."""
    font = _font(200)
    pad = 40
    box = font.getbbox(text)
    w, h = box[2] - box[0] + 2 * pad, box[3] - box[1] + 2 * pad
    img = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    shadow = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    ImageDraw.Draw(shadow).text((pad - box[0] + 8, pad - box[1] + 10), text, font=font, fill=(60, 0, 0, 170))
    img.alpha_composite(shadow.filter(ImageFilter.GaussianBlur(8)))
    ImageDraw.Draw(img).text(
        (pad - box[0], pad - box[1]),
        text,
        font=font,
        fill=(*GOLD, 255),
        stroke_width=9,
        stroke_fill=(120, 10, 10, 255),
    )
    return img


def fu_diamond() -> Image.Image:
    """The 福 character on a red square turned 45 degrees (a doufang), gold border."""
    size = 300
    img = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    c, r = size / 2, size / 2 - 6
    diamond = [(c, c - r), (c + r, c), (c, c + r), (c - r, c)]
    draw.polygon(diamond, fill=(200, 20, 30, 255), outline=(*GOLD, 255), width=8)
    inner = [(c, c - r + 22), (c + r - 22, c), (c, c + r - 22), (c - r + 22, c)]
    draw.polygon(inner, outline=(*GOLD, 255), width=3)
    draw.text((c, c + 4), "福", font=_font(150), fill=(25, 10, 10, 255), anchor="mm")
    return img


def lantern() -> Image.Image:
    """A round red lantern with gold caps and a tassel, shaded so it reads as a globe."""
    w, h = 220, 380
    img = np.zeros((h, w, 4), np.float32)
    cx, cy, rx, ry = w / 2, 170, 100, 110
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    nx, ny = (xs - cx) / rx, (ys - cy) / ry
    inside = nx * nx + ny * ny <= 1.0
    shade = np.sqrt(np.clip(1.0 - nx * nx - ny * ny, 0, 1))
    ribs = 0.85 + 0.15 * np.abs(np.cos(np.arcsin(np.clip(nx, -1, 1)) * 4))
    body = np.stack([0.55 + 0.45 * shade, 0.05 + 0.25 * shade**3, 0.04 + 0.1 * shade**4], -1) * ribs[..., None]
    img[inside, :3] = body[inside]
    img[inside, 3] = 1.0
    pil = Image.fromarray((np.clip(img, 0, 1) * 255).astype(np.uint8))
    draw = ImageDraw.Draw(pil)
    draw.rectangle((cx - 42, cy - ry - 14, cx + 42, cy - ry + 12), fill=(*GOLD, 255))
    draw.rectangle((cx - 42, cy + ry - 12, cx + 42, cy + ry + 14), fill=(*GOLD, 255))
    draw.line((cx, 0, cx, cy - ry - 14), fill=(120, 80, 30, 255), width=4)
    for dx in range(-18, 19, 4):
        draw.line((cx, cy + ry + 14, cx + dx, h - 8), fill=(205, 30, 30, 255), width=3)
    draw.rectangle((cx - 8, cy + ry + 12, cx + 8, cy + ry + 34), fill=(*GOLD, 255))
    return pil


def plum_branch(seed: int) -> Image.Image:
    """An ink plum branch with pale pink blossoms, drawn as a random recursive tree."""
    rng = np.random.default_rng(seed)
    w, h = 700, 520
    layer = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    tips: list[tuple[float, float]] = []

    def grow(x: float, y: float, angle: float, length: float, width: float, depth: int) -> None:
        segments = 4
        for _ in range(segments):
            angle += rng.normal(0, 0.25)
            nx, ny = x + math.cos(angle) * length / segments, y + math.sin(angle) * length / segments
            draw.line((x, y, nx, ny), fill=(48, 40, 38, 235), width=max(1, round(width)))
            x, y = nx, ny
            width *= 0.85
        tips.append((x, y))
        if depth == 0:
            return
        for turn in (-0.6, 0.5):
            if rng.random() < 0.85:
                grow(x, y, angle + turn + rng.normal(0, 0.2), length * 0.68, width, depth - 1)

    grow(w - 10, 40, math.pi * 0.93, 330, 16, 4)
    for x, y in tips:
        for _ in range(int(rng.integers(1, 3))):
            bx, by = x + rng.normal(0, 10), y + rng.normal(0, 10)
            radius = 9 + rng.random() * 6
            for petal in range(5):
                a = petal * 2 * math.pi / 5 + rng.random()
                px, py = bx + math.cos(a) * radius * 0.8, by + math.sin(a) * radius * 0.8
                draw.ellipse(
                    (px - radius * 0.7, py - radius * 0.7, px + radius * 0.7, py + radius * 0.7),
                    fill=(244, 178, 190, 230),
                )
            draw.ellipse((bx - 3, by - 3, bx + 3, by + 3), fill=(200, 120, 40, 255))
    return layer


def ink_wash_style(seed: int) -> Image.Image:
    """Wandering dry-brush ink strokes on warm paper: a style image that teaches the neural net ink wash."""
    rng = np.random.default_rng(seed)
    size = 512
    ink = np.zeros((size, size), np.float32)
    for _ in range(40):
        x, y = rng.random(2) * size
        angle = rng.random() * math.pi * 2
        points = []
        for _ in range(12):
            angle += rng.normal(0, 0.3)
            x, y = x + math.cos(angle) * 18, y + math.sin(angle) * 18
            points.append((x, y))
        stroke = np.zeros_like(ink)
        width, darkness = int(rng.integers(4, 30)), 0.3 + 0.7 * rng.random()
        cv2.polylines(stroke, [np.array(points, np.int32)], False, darkness, width, cv2.LINE_AA)
        # Dry brush: the bristles leave streaks of bare paper inside the stroke.
        bristles = cv2.GaussianBlur((rng.random((size, size)) > 0.25).astype(np.float32), (0, 0), 1.0)
        ink = np.maximum(ink, cv2.GaussianBlur(stroke * bristles, (0, 0), rng.random() * 3 + 0.5))
    tone = 0.93 * (1.0 - 0.9 * ink)
    rgb = np.stack([tone, tone * 0.97, tone * 0.9], axis=-1)
    return Image.fromarray((np.clip(rgb, 0, 1) * 255).astype(np.uint8))


def main() -> None:
    ASSETS.mkdir(exist_ok=True)
    seal_square("丹青墨韵", seed=1).save(ASSETS / "seal_ink.png", optimize=True)
    seal_oval("清雅", seed=2).save(ASSETS / "seal_elegant.png", optimize=True)
    lettering("新年快乐").save(ASSETS / "newyear_text.png", optimize=True)
    fu_diamond().save(ASSETS / "fu.png", optimize=True)
    lantern().save(ASSETS / "lantern.png", optimize=True)
    plum_branch(seed=3).save(ASSETS / "plum_branch.png", optimize=True)
    ink_wash_style(seed=5).save(ASSETS / "ink_wash_style.png", optimize=True)


if __name__ == "__main__":
    main()
