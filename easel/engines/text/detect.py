"""Text detection and recognition with PP-OCRv4 (rapidocr-onnxruntime; weights ship in the wheel).

Two passes: the default detector on the photo and, when asked to be sensitive, a low-threshold
detector on local-contrast images, where semi-transparent watermark text (35-45 % opacity) that the
first pass misses stands out: the grey high-pass, and on colour photos the saturation high-pass (a
white, grey or black overlay takes a share α of every pixel's saturation away, whatever its colour,
so the mark shows over colourful texture that hides it from the grey image). Recognition stays on
for both: its confidence rejects the false boxes that low thresholds bring (cat eyes read as "O"), and the text
tells Chinese from Latin, so a prompt can ask for one script only. On busy backgrounds the detector
often finds only part of a faint line, so each horizontal line is grown sideways while the
recogniser reads more characters in the longer strip. Lines that mix scripts are split into
single-script regions.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import cv2
import numpy as np

from easel.engines.lazy import Lazy
from easel.engines.text.scripts import Script, char_script, script_runs, text_script

# RapidOCR's call writes box_thresh, unclip_ratio and text_score onto the shared engine whenever any
# keyword is given, so every call passes all three with this engine's own values: the writes are
# then idempotent and concurrent calls from worker threads cannot change each other's thresholds.
_DEFAULT_CALL = {"box_thresh": 0.5, "unclip_ratio": 1.6, "text_score": 0.0}
_SENSITIVE_CALL = {"box_thresh": 0.3, "unclip_ratio": 1.6, "text_score": 0.0}
# The recogniser's confidence below which a box is taken for texture, not text. Boxes that only the
# low-threshold pass found must be read more confidently.
MIN_TEXT_SCORE = 0.5
MIN_FAINT_TEXT_SCORE = 0.65
# A single character read without high confidence is texture more often than text: a cup rim reads
# as "O" and cat fur as "D" (skimage coffee and chelsea), and removing them damages the photo.
LONE_CHAR_MIN_SCORE = 0.9
# Growing a partly detected line: at most this many steps of one line height per side, each one
# accepted only if the recogniser reads more characters at least this confidently.
_MAX_EXTENSION_STEPS = 12
_EXTENSION_MIN_SCORE = 0.75
# A box of a later pass mostly covered by the boxes of an earlier one adds nothing.
_DUPLICATE_COVERAGE = 0.8
# Saturation (max - min channel) that a tenth of an image must reach before its loss is looked for.
_MIN_COLOUR = 24


@dataclass(frozen=True, eq=False)
class TextRegion:
    """One line (or one single-script part of a line) of text in pixel coordinates.

    polygon: 4x2 float32 corners, clockwise from top-left along the reading direction.
    faint: found only by the sensitive pass (typically a semi-transparent watermark).
    recover_only: read only on the saturation-loss image; such a line is removed only if its blend
    can be inverted (its box is loose over colourful texture, and inpainting it smears faces).
    """

    polygon: np.ndarray
    text: str
    score: float
    script: Script
    faint: bool = False
    recover_only: bool = False


@dataclass
class _Line:
    quad: np.ndarray
    text: str
    score: float
    pieces: list[str]  # characters or words, in reading order
    positions: list[float]  # centre of each piece along the line, 0 = start, 1 = end


def _make_engine(**kwargs: float) -> Any:  # RapidOCR has no type stubs
    from rapidocr_onnxruntime import RapidOCR

    return RapidOCR(**kwargs)


_default_engine = Lazy(lambda: _make_engine())
_sensitive_engine = Lazy(lambda: _make_engine(det_thresh=0.2, det_box_thresh=0.3))


def detect_text(rgb: np.ndarray, *, sensitive: bool = False, desaturation: bool = True) -> list[TextRegion]:
    """Text regions in an RGB uint8 image, each with its recognised text and script.

    sensitive=True adds the low-threshold pass on the local-contrast images, which finds faint
    (semi-transparent) overlay text; it roughly doubles the time. desaturation: see detect_faint.
    """
    bgr = np.ascontiguousarray(rgb[:, :, 2::-1])  # RapidOCR reads an ndarray as BGR
    regions = _run(_default_engine.get(), bgr, _DEFAULT_CALL, MIN_TEXT_SCORE, faint=False)
    if not sensitive:
        return regions
    faint = detect_faint(rgb, desaturation=desaturation)
    return regions + [r for r in faint if _coverage(r.polygon, regions) < _DUPLICATE_COVERAGE]


def detect_faint(rgb: np.ndarray, *, desaturation: bool = True) -> list[TextRegion]:
    """The sensitive pass alone: low thresholds on the local-contrast images (faint overlay text).

    A line read on the saturation image is added where the grey image did not already show it.
    desaturation=False skips that image: on a turned copy (rotated.py) the replicated edges of the
    canvas streak, and their saturation loss reads as letters; and a caller that would drop its
    lines (recover_only) saves the pass."""
    engine = _sensitive_engine.get()
    found = _run(engine, local_contrast(rgb), _SENSITIVE_CALL, MIN_FAINT_TEXT_SCORE, True)
    if not (desaturation and _has_colour(rgb)):
        return found
    seen = _run(engine, desaturation_contrast(rgb), _SENSITIVE_CALL, MIN_FAINT_TEXT_SCORE, True)
    return found + [replace(r, recover_only=True) for r in seen if _coverage(r.polygon, found) < _DUPLICATE_COVERAGE]


def local_contrast(rgb: np.ndarray) -> np.ndarray:
    """Grey high-pass around mid-grey, amplified (BGR out): faint overlays become clear strokes.

    The blur radius follows the image size so that strokes of text at the usual relative sizes pass
    while shading and colour areas (which hide faint text from the detector) are removed.
    """
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    sigma = max(6.0, min(rgb.shape[:2]) / 40.0)
    high = grey - cv2.GaussianBlur(grey, (0, 0), sigma)
    out = np.clip(128.0 + 3.0 * high, 0, 255).astype(np.uint8)
    return cv2.cvtColor(out, cv2.COLOR_GRAY2BGR)


def desaturation_contrast(rgb: np.ndarray) -> np.ndarray:
    """Loss of saturation against the surroundings, amplified (BGR out): where a neutral overlay
    sits on colour. Same blur radius and gain as local_contrast."""
    channels = rgb.astype(np.float32)
    saturation = channels.max(axis=2) - channels.min(axis=2)
    sigma = max(6.0, min(rgb.shape[:2]) / 40.0)
    loss = cv2.GaussianBlur(saturation, (0, 0), sigma) - saturation
    out = np.clip(128.0 + 3.0 * loss, 0, 255).astype(np.uint8)
    return cv2.cvtColor(out, cv2.COLOR_GRAY2BGR)


def _has_colour(rgb: np.ndarray) -> bool:
    """Whether the image has colour for an overlay to take away (grey scans and textures have none)."""
    channels = rgb[::4, ::4].astype(np.int16)
    return bool(np.percentile(channels.max(axis=2) - channels.min(axis=2), 90) >= _MIN_COLOUR)


def _run(engine: Any, bgr: np.ndarray, call: dict[str, float], min_score: float, faint: bool) -> list[TextRegion]:
    result, _ = engine(bgr, use_det=True, use_cls=False, use_rec=True, return_word_box=True, **call)
    lines: list[_Line] = []
    for polygon, text, score, word_boxes, words, _word_scores in result or []:
        if score < min_score or not str(text).strip():
            continue
        if _char_count(str(text)) == 1 and score < LONE_CHAR_MIN_SCORE:
            continue
        quad = np.asarray(polygon, dtype=np.float32).reshape(4, 2)
        pieces, positions = _pieces_and_positions(quad, str(text), word_boxes, words)
        lines.append(_Line(quad, str(text), float(score), pieces, positions))
    regions: list[TextRegion] = []
    for line in lines:
        others = [other.quad for other in lines if other is not line]
        _extend_line(engine, bgr, line, others, call)
        regions.extend(_split_by_script(line, faint))
    return regions


def _pieces_and_positions(
    quad: np.ndarray, text: str, word_boxes: list[list[list[float]]], words: list[str]
) -> tuple[list[str], list[float]]:
    """The recogniser's pieces with their centres along the line (estimated if it gave no boxes)."""
    if not words or len(words) != len(word_boxes):
        return list(text), _estimated_positions(text)
    start, axis = quad[0], quad[1] - quad[0]
    length2 = float(axis @ axis) or 1.0
    centres = [float((np.mean(np.asarray(box, np.float32), axis=0) - start) @ axis) / length2 for box in word_boxes]
    return [str(w) for w in words], centres


def _estimated_positions(text: str) -> list[float]:
    """Character centres along a line from typical advance widths: CJK 1 em, Latin and digits about
    0.55 em, spaces 0.3 em."""
    widths = [1.0 if char_script(ch) == "chinese" else 0.3 if ch.isspace() else 0.55 for ch in text]
    total = sum(widths) or 1.0
    centres, run = [], 0.0
    for w in widths:
        centres.append((run + w / 2) / total)
        run += w
    return centres


def _extend_line(engine: Any, bgr: np.ndarray, line: _Line, others: list[np.ndarray], call: dict[str, float]) -> None:
    """Grow a horizontal line sideways while the recogniser reads more characters in it.

    ("E样图" of a faint "SAMPLE 样图" becomes the whole line.) Steps of one line height; a step counts
    only if it adds characters at a confident score, so plain background next to the text stops it.
    """
    if not _is_horizontal(line.quad):
        return
    h, w = bgr.shape[:2]
    step = _unit(line.quad[1] - line.quad[0]) * float(np.linalg.norm(line.quad[3] - line.quad[0]))
    grew = False
    for side in (0, 1):  # 0: move the start edge backwards, 1: move the end edge forwards
        for _ in range(_MAX_EXTENSION_STEPS):
            grown = _grow_side(line.quad, step, side, w, h)
            if grown is None or any(_added_overlap(grown, line.quad, other) > 0.3 for other in others):
                break
            text, score = _recognise(engine, bgr, grown, call)
            if _char_count(text) <= _char_count(line.text) or score < _EXTENSION_MIN_SCORE:
                break
            line.quad, line.text, line.score, grew = grown, text, min(line.score, score), True
    if grew:
        line.pieces, line.positions = list(line.text), _estimated_positions(line.text)


def _grow_side(quad: np.ndarray, step: np.ndarray, side: int, w: int, h: int) -> np.ndarray | None:
    grown = quad.copy()
    if side == 0:
        grown[[0, 3]] -= step
    else:
        grown[[1, 2]] += step
    grown[:, 0] = np.clip(grown[:, 0], 0, w - 1)
    grown[:, 1] = np.clip(grown[:, 1], 0, h - 1)
    gained = np.linalg.norm(grown[1] - grown[0]) - np.linalg.norm(quad[1] - quad[0])
    return grown if gained >= 0.25 * float(np.linalg.norm(step)) else None


def _added_overlap(grown: np.ndarray, before: np.ndarray, other: np.ndarray) -> float:
    """Share of the newly added strip that lies in another detected line."""
    added = abs(cv2.contourArea(grown)) - abs(cv2.contourArea(before))
    if added <= 0:
        return 0.0
    inter_new, _ = cv2.intersectConvexConvex(grown, other)
    inter_old, _ = cv2.intersectConvexConvex(before, other)
    return max(0.0, float(inter_new) - float(inter_old)) / added


def _recognise(engine: Any, bgr: np.ndarray, quad: np.ndarray, call: dict[str, float]) -> tuple[str, float]:
    width = max(1, round(float(np.linalg.norm(quad[1] - quad[0]))))
    height = max(1, round(float(np.linalg.norm(quad[3] - quad[0]))))
    target = np.float32([[0, 0], [width, 0], [width, height], [0, height]])
    matrix = cv2.getPerspectiveTransform(quad.astype(np.float32), target)
    strip = cv2.warpPerspective(bgr, matrix, (width, height), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    result, _ = engine(strip, use_det=False, use_cls=False, use_rec=True, **call)
    if not result:
        return "", 0.0
    return str(result[0][0]), float(result[0][1])


def _char_count(text: str) -> int:
    return sum(1 for ch in text if not ch.isspace())


def _split_by_script(line: _Line, faint: bool) -> list[TextRegion]:
    runs = script_runs(line.pieces) if len(line.pieces) == len(line.positions) else []
    if len(runs) <= 1 or not _is_horizontal(line.quad):
        return [TextRegion(line.quad, line.text, line.score, text_script(line.text), faint)]
    pos = line.positions
    cuts = [0.0] + [(pos[end - 1] + pos[end]) / 2 for _, _, end in runs[:-1]] + [1.0]
    return [
        TextRegion(_sub_quad(line.quad, lo, hi), "".join(line.pieces[first:end]), line.score, script, faint)
        for (script, first, end), lo, hi in zip(runs, cuts[:-1], cuts[1:], strict=True)
    ]


def _is_horizontal(quad: np.ndarray) -> bool:
    width = np.linalg.norm(quad[1] - quad[0])
    height = np.linalg.norm(quad[3] - quad[0])
    return bool(width >= height)


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return (v / n).astype(np.float32) if n > 0 else np.zeros(2, np.float32)


def _sub_quad(quad: np.ndarray, lo: float, hi: float) -> np.ndarray:
    tl, tr, br, bl = quad
    corners = [tl + lo * (tr - tl), tl + hi * (tr - tl), bl + hi * (br - bl), bl + lo * (br - bl)]
    return np.array(corners, np.float32)


def _coverage(polygon: np.ndarray, others: list[TextRegion]) -> float:
    """Fraction of `polygon`'s area inside the union of `others` (overlaps between others ignored)."""
    area = abs(cv2.contourArea(polygon))
    if area <= 0:
        return 1.0
    covered = 0.0
    for other in others:
        inter, _ = cv2.intersectConvexConvex(polygon, other.polygon)
        covered += max(0.0, float(inter))
    return min(1.0, covered / area)
