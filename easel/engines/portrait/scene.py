"""The working picture a style paints on: the photo at working size plus where the face and the subject are."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import cv2
import numpy as np

from easel.engines.face import FaceBox, face_landmarks
from easel.engines.lazy import Lazy
from easel.engines.portrait.subject import subject_matte

# Mesh points around the eyes, brows and lips: the features that make a face recognisable.
_RIGHT_EYE = (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246)
_LEFT_EYE = (263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466)
_BROWS = (70, 63, 105, 66, 107, 55, 65, 52, 53, 46, 300, 293, 334, 296, 336, 285, 295, 282, 283, 276)
_LIPS = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185)
_FEATURE_POINTS = _RIGHT_EYE + _LEFT_EYE + _BROWS + _LIPS


def _make_segmenter():
    import mediapipe as mp

    # The general model (256x256) follows hair and shoulders better than the landscape one.
    return mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=0)


_segmenter = Lazy(_make_segmenter)
# MediaPipe graphs must not run concurrently; a call takes a few milliseconds.
_segmenter_lock = threading.Lock()


@dataclass(frozen=True)
class Scene:
    """Float32 images in 0..1 at working size; masks are HxW float32 in 0..1."""

    rgb: np.ndarray
    face: np.ndarray  # the face oval, feathered
    features: np.ndarray  # eyes, brows and lips, feathered
    # What stays in front of a new background: the person (hair, body) and everything joined to them
    # that is not clearly background (a held camera, its tripod, a guitar, a pet), feathered.
    subject: np.ndarray
    face_box: FaceBox
    eyes: tuple[tuple[float, float], ...]  # eye centres from the face mesh; empty when the mesh missed
    seed: int

    @property
    def unit(self) -> float:
        """Pixels per 1/768 of the short side, so filter sizes scale with the working size."""
        return min(self.rgb.shape[:2]) / 768.0

    @property
    def background(self) -> np.ndarray:
        return 1.0 - self.subject

    def rng(self, salt: int) -> np.random.Generator:
        """A generator per use, so every random layer is fixed by the seed alone."""
        return np.random.default_rng([self.seed, salt])


def build_scene(work_rgb: np.ndarray, face_box: FaceBox, seed: int) -> Scene:
    """Find the face mesh and the subject in the working-size photo (uint8 RGB)."""
    points = face_landmarks(work_rgb)
    face_mask, feature_mask = _face_masks(work_rgb.shape[:2], points, face_box)
    person = np.maximum(_person_mask(work_rgb), face_mask)
    eyes = () if points is None else tuple(_eye_centre(points, ring) for ring in (_RIGHT_EYE, _LEFT_EYE))
    return Scene(
        rgb=work_rgb.astype(np.float32) / 255.0,
        face=face_mask,
        features=feature_mask,
        subject=subject_matte(work_rgb, person),
        face_box=face_box,
        eyes=eyes,
        seed=seed,
    )


def _face_masks(shape: tuple[int, int], points: np.ndarray | None, box: FaceBox) -> tuple[np.ndarray, np.ndarray]:
    face = np.zeros(shape, np.uint8)
    features = np.zeros(shape, np.uint8)
    size = max(box.width, box.height)
    if points is None:
        # The mesh can miss a face the detector found (profile, occlusion); an ellipse on the box is
        # the honest fallback and keeps the face region gentle all the same.
        centre = (round(box.left + box.width / 2), round(box.top + box.height * 0.45))
        cv2.ellipse(face, centre, (round(box.width * 0.55), round(box.height * 0.7)), 0, 0, 360, 255, -1)
    else:
        xy = points[:, :2].astype(np.int32)
        cv2.fillConvexPoly(face, cv2.convexHull(xy), 255)
        for pt in xy[list(_FEATURE_POINTS)]:
            cv2.circle(features, (int(pt[0]), int(pt[1])), max(2, round(size * 0.035)), 255, -1)
    return _feather(face, size * 0.06), _feather(features, size * 0.03)


def _eye_centre(points: np.ndarray, ring: tuple[int, ...]) -> tuple[float, float]:
    x, y = points[list(ring), :2].mean(axis=0)
    return float(x), float(y)


def _person_mask(rgb: np.ndarray) -> np.ndarray:
    with _segmenter_lock:
        result = _segmenter.get().process(np.ascontiguousarray(rgb))
    mask = result.segmentation_mask
    if mask is None:
        return np.zeros(rgb.shape[:2], np.float32)
    mask = cv2.resize(mask.astype(np.float32), (rgb.shape[1], rgb.shape[0]), interpolation=cv2.INTER_LINEAR)
    # The model's soft edge is wide; a steeper ramp gives a cleaner figure against repainted backgrounds.
    mask = np.clip((mask - 0.3) / 0.4, 0.0, 1.0)
    return cv2.GaussianBlur(mask, (0, 0), min(rgb.shape[:2]) / 400)


def _feather(mask: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(mask.astype(np.float32) / 255.0, (0, 0), max(1.0, sigma))
