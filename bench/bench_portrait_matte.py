"""How much of the subject the portrait styles keep, and how much background they still replace.

The portrait engine keeps what its matte covers and paints a new background everywhere else. The
matte used to be the person model's alone (MediaPipe selfie segmentation plus the face oval), which
gives a tripod, a camera or a guitar almost zero and so cut them away. `subject_matte` widens it by
everything joined to the person that is not clearly background. This bench measures both mattes in
the same run, on
- the cameraman (the development case of issue 13): hand-placed tripod legs, camera, sky and grass;
- real portraits without props (astronaut, grace_hopper): the background must still be replaced;
- composites with a known matte: a person cut out of a photo plus a drawn or cut-out object
  (tripod and camera, guitar, bicycle, cat, cup) pasted onto a known background;
- two photos without a person (china, flower): the engine refuses them (no face); the matte alone is
  measured on them too.
and makes a before/after sheet of 喜迎新年 and 二次元 on the real photos and some composites.

Run: OMP_NUM_THREADS=1 nice -n 5 .venv/bin/python bench/bench_portrait_matte.py
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from matplotlib import cbook
from PIL import Image, ImageDraw, ImageFont
from skimage import data
from sklearn.datasets import load_sample_image

from easel.engines.face import FaceBox, face_landmarks
from easel.engines.portrait import NoFaceError, scene
from easel.engines.portrait.engine import paint
from easel.engines.portrait.framing import find_clear_face
from easel.engines.portrait.subject import subject_matte

ROOT = Path(__file__).resolve().parent
SHEETS = ROOT / "sheets"
FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
SIZE = 512


@dataclass
class Case:
    name: str
    split: str  # "dev" (tuned on) or "held-out"
    rgb: np.ndarray
    person: np.ndarray | None = None  # true person pixels (bool), where known
    objects: np.ndarray | None = None  # true non-person subject pixels (bool): what issue 13 is about
    background: np.ndarray | None = None  # true background pixels (bool)
    note: str = ""


# -- ground truth for the real photos -------------------------------------------------------------------


def _lines(shape: tuple[int, int], segments: list[tuple[tuple[int, int], tuple[int, int]]], width: int) -> np.ndarray:
    mask = np.zeros(shape, np.uint8)
    for start, end in segments:
        cv2.line(mask, start, end, 1, width)
    return mask.astype(bool)


def cameraman() -> Case:
    """Tripod and camera placed by hand on the 512² picture (centre lines of the pole and legs)."""
    rgb = np.repeat(data.camera()[:, :, None], 3, axis=2)
    shape = rgb.shape[:2]
    tripod = _lines(
        shape,
        [((293, 300), (293, 482)), ((309, 334), (401, 508)), ((282, 332), (234, 508)), ((258, 462), (246, 510))],
        3,
    )
    camera = np.zeros(shape, bool)
    camera[142:180, 262:318] = True
    background = np.zeros(shape, bool)
    background[0:50, :] = True  # sky above the head
    background[262:512, 430:512] = True  # grass right of the tripod
    background[400:455, 302:335] = True  # grass between the pole and the right leg
    return Case(
        "cameraman",
        "dev",
        rgb,
        objects=tripod | camera,
        background=background,
        note="objects: tripod pole and legs, camera body; background: sky, grass (the skyline is left out)",
    )


def plain_portrait(name: str, split: str, rgb: np.ndarray) -> Case:
    """A portrait without props: the person model's matte is taken as the truth, with a margin either
    side left unscored (hair and shoulder edges)."""
    p = scene._person_mask(rgb) >= 0.5
    margin = np.ones((31, 31), np.uint8)
    person = cv2.erode(p.astype(np.uint8), margin).astype(bool)
    background = ~cv2.dilate(p.astype(np.uint8), margin).astype(bool)
    return Case(
        name,
        split,
        rgb,
        person=person,
        background=background,
        note="truth: person model's matte, 15 px either side of its edge unscored",
    )


# -- composites with a known matte ------------------------------------------------------------------------


def _fit(rgb: np.ndarray, side: int = SIZE) -> np.ndarray:
    return cv2.resize(rgb, (side, side), interpolation=cv2.INTER_AREA)


def backgrounds() -> dict[str, tuple[str, np.ndarray]]:
    grass = data.grass().astype(np.float32) / 255.0
    field = np.stack([grass * 0.45 + 0.1, grass * 0.7 + 0.15, grass * 0.35 + 0.05], axis=2)
    sky = np.linspace(0.0, 1.0, SIZE, dtype=np.float32)[:, None, None]
    sky = (1 - sky) * np.asarray((0.45, 0.65, 0.95), np.float32) + sky * np.asarray((0.85, 0.9, 0.97), np.float32)
    outdoor = np.where(np.arange(SIZE)[:, None, None] < SIZE * 0.45, np.broadcast_to(sky, (SIZE, SIZE, 3)), field)
    brick = data.brick().astype(np.float32) / 255.0
    wall = np.stack([brick * 0.8 + 0.15, brick * 0.55 + 0.1, brick * 0.45 + 0.08], axis=2)
    return {
        "field": ("dev", (outdoor * 255).astype(np.uint8)),
        "brick": ("dev", (np.clip(wall, 0, 1) * 255).astype(np.uint8)),
        "china": ("held-out", _fit(load_sample_image("china.jpg")[:, 100:527])),
        "flower": ("held-out", _fit(load_sample_image("flower.jpg")[:, 0:427])),
    }


def person_cutouts() -> dict[str, tuple[str, np.ndarray, np.ndarray]]:
    """Person photos and the person model's hard matte on them (what is pasted is the truth)."""
    grace = np.asarray(Image.open(cbook.get_sample_data("grace_hopper.jpg")))[:512]
    out = {}
    for name, split, rgb in (("astronaut", "dev", data.astronaut()), ("grace", "held-out", _fit(grace))):
        mask = scene._person_mask(rgb) >= 0.5
        _, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8))
        biggest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
        out[name] = (split, rgb, labels == biggest)
    return out


def _draw(shape: tuple[int, int], fn: Callable[[ImageDraw.ImageDraw], None]) -> np.ndarray:
    canvas = Image.new("L", (shape[1], shape[0]), 0)
    fn(ImageDraw.Draw(canvas))
    return np.asarray(canvas) > 0


def draw_tripod(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """A camera on a tripod standing right of the person: dark legs with a chrome stripe."""
    layer = np.zeros((*shape, 3), np.float32)
    legs = [((420, 250), (360, 510)), ((420, 250), (480, 510)), ((420, 250), (425, 505))]
    dark = _draw(shape, lambda d: [d.line([a, b], fill=255, width=7) for a, b in legs])
    shine = _draw(shape, lambda d: [d.line([a, b], fill=255, width=2) for a, b in legs])
    body = _draw(shape, lambda d: d.rounded_rectangle((360, 200, 470, 255), radius=8, fill=255))
    lens = _draw(shape, lambda d: d.ellipse((330, 208, 372, 248), fill=255))
    layer[dark] = (0.12, 0.12, 0.13)
    layer[shine] = (0.78, 0.8, 0.82)
    layer[body] = (0.2, 0.2, 0.22)
    layer[lens] = (0.05, 0.05, 0.06)
    return layer, dark | body | lens


def draw_guitar(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """An acoustic guitar held across the body, its neck reaching out to the right."""
    layer = np.zeros((*shape, 3), np.float32)
    body = _draw(
        shape, lambda d: (d.ellipse((150, 330, 290, 470), fill=255), d.ellipse((250, 350, 360, 450), fill=255))
    )
    neck = _draw(shape, lambda d: d.line([(340, 395), (500, 330)], fill=255, width=22))
    hole = _draw(shape, lambda d: d.ellipse((268, 378, 312, 422), fill=255))
    layer[body] = (0.78, 0.5, 0.22)
    layer[neck] = (0.3, 0.17, 0.08)
    layer[hole] = (0.08, 0.05, 0.03)
    return layer, body | neck


def draw_bicycle(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """A red bicycle leaning on the person's right, thin wheels and frame."""
    layer = np.zeros((*shape, 3), np.float32)

    def bike(d: ImageDraw.ImageDraw) -> None:
        d.ellipse((300, 380, 410, 490), outline=255, width=6)
        d.ellipse((400, 380, 510, 490), outline=255, width=6)
        for a, b in [
            ((355, 435), (410, 370)),
            ((410, 370), (455, 435)),
            ((355, 435), (440, 435)),
            ((410, 370), (470, 370)),
            ((470, 370), (455, 435)),
            ((470, 370), (475, 345)),
            ((400, 360), (425, 360)),
        ]:
            d.line([a, b], fill=255, width=6)

    frame = _draw(shape, bike)
    layer[frame] = (0.75, 0.1, 0.12)
    return layer, frame


def cut_cat(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Chelsea the cat (an ellipse round her head and chest) sitting beside the person."""
    cat = cv2.resize(data.chelsea()[30:300, 70:370], (190, 170), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    layer = np.zeros((*shape, 3), np.float32)
    mask = np.zeros(shape, bool)
    oval = _draw((170, 190), lambda d: d.ellipse((5, 5, 185, 168), fill=255))
    top, left = shape[0] - 170, 300
    layer[top:, left : left + 190][oval] = cat[oval]
    mask[top:, left : left + 190] = oval
    return layer, mask


def cut_cup(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The coffee cup of skimage's coffee photo, held out at chest height."""
    cup = cv2.resize(data.coffee()[10:400, 100:560], (150, 127), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    layer = np.zeros((*shape, 3), np.float32)
    mask = np.zeros(shape, bool)
    oval = _draw((127, 150), lambda d: d.ellipse((2, 2, 148, 125), fill=255))
    top, left = 300, 300
    layer[top : top + 127, left : left + 150][oval] = cup[oval]
    mask[top : top + 127, left : left + 150] = oval
    return layer, mask


OBJECTS: dict[str, Callable[[tuple[int, int]], tuple[np.ndarray, np.ndarray]]] = {
    "tripod": draw_tripod,
    "guitar": draw_guitar,
    "bicycle": draw_bicycle,
    "cat": cut_cat,
    "cup": cut_cup,
}


def composite(person_name: str, bg_name: str, object_name: str) -> Case:
    backs, people = backgrounds(), person_cutouts()
    bg_split, bg = backs[bg_name]
    person_split, photo, person_mask = people[person_name]
    # The person stands left of centre at 80% height, cut at the bottom edge as in a portrait.
    scale = 0.8
    side = round(SIZE * scale)
    small = cv2.resize(photo, (side, side), interpolation=cv2.INTER_AREA)
    small_mask = cv2.resize(person_mask.astype(np.uint8), (side, side), interpolation=cv2.INTER_NEAREST).astype(bool)
    canvas = bg.astype(np.float32) / 255.0
    person = np.zeros((SIZE, SIZE), bool)
    top, left = SIZE - side, 0
    region = canvas[top:, left : left + side]
    region[small_mask] = small[small_mask].astype(np.float32) / 255.0
    person[top:, left : left + side] = small_mask
    layer, obj = OBJECTS[object_name]((SIZE, SIZE))
    canvas[obj] = layer[obj]
    obj_truth = obj.copy()
    person &= ~obj  # an object in front hides the person behind it
    split = "dev" if bg_split == person_split == "dev" else "held-out"
    return Case(
        f"{person_name}+{object_name} on {bg_name}",
        split,
        (canvas * 255 + 0.5).astype(np.uint8),
        person=person,
        objects=obj_truth,
        background=~(person | obj_truth),
    )


def cases() -> list[Case]:
    grace = np.asarray(Image.open(cbook.get_sample_data("grace_hopper.jpg")))
    grace = cv2.resize(grace, (SIZE, round(SIZE * grace.shape[0] / grace.shape[1])), interpolation=cv2.INTER_AREA)
    found = [
        cameraman(),
        plain_portrait("astronaut", "dev", data.astronaut()),
        plain_portrait("grace_hopper", "held-out", grace),
    ]
    plan = [
        ("astronaut", "field", "tripod"),
        ("astronaut", "brick", "guitar"),
        ("astronaut", "field", "cat"),
        ("astronaut", "china", "bicycle"),
        ("grace", "field", "guitar"),
        ("grace", "brick", "tripod"),
        ("grace", "china", "cat"),
        ("grace", "flower", "cup"),
        ("astronaut", "flower", "tripod"),
        ("grace", "field", "bicycle"),
    ]
    return found + [composite(*p) for p in plan]


# -- mattes and scores -----------------------------------------------------------------------------------


def person_matte(rgb: np.ndarray) -> tuple[np.ndarray, FaceBox | None]:
    """What the engine kept before this change: the person model's matte joined with the face oval."""
    try:
        face = find_clear_face(rgb)
    except NoFaceError:
        return scene._person_mask(rgb), None
    face_mask, _ = scene._face_masks(rgb.shape[:2], face_landmarks(rgb), face)
    return np.maximum(scene._person_mask(rgb), face_mask), face


def score(matte: np.ndarray, case: Case) -> dict[str, float]:
    kept = matte >= 0.5
    out: dict[str, float] = {}
    if case.objects is not None:
        out["objects kept"] = float(kept[case.objects].mean())
    if case.person is not None:
        out["person kept"] = float(kept[case.person].mean())
    if case.background is not None:
        out["background replaced"] = float((~kept)[case.background].mean())
    return out


def run() -> tuple[list[str], dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, FaceBox | None]]]:
    rows = [
        "| case | split | objects kept (before → after) | person kept | background replaced | matte time |",
        "|---|---|---|---|---|---|",
    ]
    kept = {}
    totals: dict[str, list[tuple[float, float]]] = {}
    for case in cases():
        before, face = person_matte(case.rgb)
        subject_matte(case.rgb, before)  # warm-up
        start = time.perf_counter()
        after = subject_matte(case.rgb, before)
        ms = (time.perf_counter() - start) * 1000
        b, a = score(before, case), score(after, case)
        cells = []
        for key in ("objects kept", "person kept", "background replaced"):
            if key in b:
                cells.append(f"{b[key]:.2f} → {a[key]:.2f}")
                totals.setdefault(f"{case.split} {key}", []).append((b[key], a[key]))
            else:
                cells.append("–")
        rows.append(f"| {case.name} | {case.split} | " + " | ".join(cells) + f" | {ms:.0f} ms |")
        print(rows[-1], flush=True)
        kept[case.name] = (case.rgb, before, after, face)
    rows.append("")
    for key, pairs in sorted(totals.items()):
        before_mean = statistics.mean(p[0] for p in pairs)
        after_mean = statistics.mean(p[1] for p in pairs)
        rows.append(f"- mean {key} over {len(pairs)} cases: {before_mean:.3f} → {after_mean:.3f}")
    for name in ("china", "flower"):
        photo = load_sample_image(f"{name}.jpg")
        before, _ = person_matte(photo)
        after = subject_matte(photo, before)
        rows.append(
            f"- {name}.jpg (no person): engine refuses with NoClearFace; matte alone keeps "
            f"{(before >= 0.5).mean():.3f} → {(after >= 0.5).mean():.3f} of the picture"
        )
    return rows, kept


# -- the sheet -------------------------------------------------------------------------------------------


def styled(rgb: np.ndarray, matte: np.ndarray, face: FaceBox, style: int) -> np.ndarray:
    """One style painted on a scene whose matte is given (before or after), at the picture's size."""
    points = face_landmarks(rgb)
    face_mask, features = scene._face_masks(rgb.shape[:2], points, face)
    eyes = () if points is None else tuple(scene._eye_centre(points, r) for r in (scene._RIGHT_EYE, scene._LEFT_EYE))
    s = scene.Scene(rgb.astype(np.float32) / 255, face_mask, features, matte, face, eyes, 0)
    return paint(s, style, rgb.shape[1], rgb.shape[0])


def sheet(kept: dict, names: list[str], path: Path) -> None:
    tile, label_h = 190, 22
    columns = ["photo", "喜迎新年 before", "喜迎新年 after", "二次元 before", "二次元 after", "matte after"]
    heights = [round(tile * kept[n][0].shape[0] / kept[n][0].shape[1]) for n in names]
    img = Image.new("RGB", (tile * len(columns), sum(heights) + label_h * (len(names) + 1)), "white")
    draw = ImageDraw.Draw(img)
    font = ImageFont.truetype(FONT, 15)
    for c, label in enumerate(columns):
        draw.text((c * tile + 4, 3), label, fill="black", font=font)
    for r, name in enumerate(names):
        rgb, before, after, face = kept[name]
        tiles = [
            rgb,
            styled(rgb, before, face, 9),
            styled(rgb, after, face, 9),
            styled(rgb, before, face, 2),
            styled(rgb, after, face, 2),
            np.repeat((after * 255).astype(np.uint8)[:, :, None], 3, axis=2),
        ]
        y = label_h * (r + 1) + sum(heights[:r])
        draw.text((4, y + 2), name, fill="black", font=font)
        for c, t in enumerate(tiles):
            img.paste(Image.fromarray(t).resize((tile, heights[r]), Image.Resampling.LANCZOS), (c * tile, y + label_h))
    img.quantize(256, dither=Image.Dither.FLOYDSTEINBERG).save(path, optimize=True)


def main() -> None:
    SHEETS.mkdir(exist_ok=True)
    rows, kept = run()
    print("\n".join(rows))
    names = [
        "cameraman",
        "astronaut",
        "grace_hopper",
        "astronaut+tripod on field",
        "grace+guitar on field",
        "astronaut+bicycle on china",
        "grace+cat on china",
        "grace+cup on flower",
    ]
    sheet(kept, names, SHEETS / "portrait_matte.png")
    print("sheet written", flush=True)


if __name__ == "__main__":
    main()
