"""Which face the portrait is about, and the crop and output size the repaint contract asks for.

Contract (wanx-style-repaint-v1): inputs up to 1.5:1 keep their aspect and come out with a short side
of 1536; wider (or taller) inputs are cropped to 1.5:1 around the face and come out at 2304x1536
(1536x2304 when the input stands upright).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from easel.engines.face import FaceBox, detect_faces

OUTPUT_SHORT_SIDE = 1536
MAX_ASPECT = 1.5
# A "clear" face: the detector is confident, and the face is big enough that a repaint can keep it
# recognisable. 0.06 of the short side is about 92 px in a 1536-px output.
MIN_FACE_SCORE = 0.6
MIN_FACE_FRACTION = 0.06
# MediaPipe's full-range detector looks at 192 px anyway; detecting on a bounded copy keeps 20-MP
# inputs cheap without losing faces that pass MIN_FACE_FRACTION.
DETECT_LONG_SIDE = 1024
# In a crop of an upright picture the eyes belong above the middle, as in a portrait photo.
UPRIGHT_FACE_HEIGHT = 0.4


class NoFaceError(ValueError):
    """The image has no face clear enough to repaint; `code` is machine-readable, the message says why."""

    code = "NoClearFace"

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason  # "no_face" or "face_too_small"


@dataclass(frozen=True)
class FramePlan:
    """The part of the input to keep and the size of the output, both in pixels."""

    crop_left: int
    crop_top: int
    crop_width: int
    crop_height: int
    out_width: int
    out_height: int
    cropped: bool

    def crop(self, rgb: np.ndarray) -> np.ndarray:
        return rgb[self.crop_top : self.crop_top + self.crop_height, self.crop_left : self.crop_left + self.crop_width]


def plan_frame(width: int, height: int, face: FaceBox | None, *, short_side: int = OUTPUT_SHORT_SIDE) -> FramePlan:
    """Crop (only when the aspect exceeds 1.5:1, centred on the face) and output size per the contract."""
    if width < 1 or height < 1:
        raise ValueError(f"image size must be positive, got {width}x{height}")
    wide = width >= height
    long, short = (width, height) if wide else (height, width)
    if long <= short * MAX_ASPECT:
        out_long = round(short_side * long / short)
        out_w, out_h = (out_long, short_side) if wide else (short_side, out_long)
        return FramePlan(0, 0, width, height, out_w, out_h, cropped=False)
    kept_long = min(long, round(short * MAX_ASPECT))
    out_long = round(short_side * MAX_ASPECT)
    if wide:
        centre = face.left + face.width / 2 if face else width / 2
        left = _clamp(round(centre - kept_long / 2), 0, width - kept_long)
        return FramePlan(left, 0, kept_long, height, out_long, short_side, cropped=True)
    centre = face.top + face.height / 2 if face else height * UPRIGHT_FACE_HEIGHT
    top = _clamp(round(centre - kept_long * UPRIGHT_FACE_HEIGHT), 0, height - kept_long)
    return FramePlan(0, top, width, kept_long, short_side, out_long, cropped=True)


def find_clear_face(rgb: np.ndarray) -> FaceBox:
    """The largest confidently detected face, in input pixels; NoFaceError when there is none."""
    h, w = rgb.shape[:2]
    scale = min(1.0, DETECT_LONG_SIDE / max(h, w))
    small = rgb if scale == 1.0 else cv2.resize(rgb, (round(w * scale), round(h * scale)), cv2.INTER_AREA)
    faces = detect_faces(small, min_score=MIN_FACE_SCORE)
    if not faces:
        raise NoFaceError(
            "No clear face was found in the input image; upload a photo with a clearly visible face.",
            reason="no_face",
        )
    face = max(faces, key=lambda f: f.width * f.height)
    fraction = min(face.width, face.height) / min(small.shape[:2])
    if fraction < MIN_FACE_FRACTION:
        raise NoFaceError(
            f"The face is too small ({fraction:.0%} of the short side; at least "
            f"{MIN_FACE_FRACTION:.0%} is needed); upload a closer portrait.",
            reason="face_too_small",
        )
    return FaceBox(
        round(face.left / scale),
        round(face.top / scale),
        round(face.width / scale),
        round(face.height / scale),
        face.score,
    )


def _clamp(value: int, low: int, high: int) -> int:
    return max(low, min(high, value))
