"""Face detection and face mesh from MediaPipe's legacy solutions (weights ship in the wheel).

MediaPipe graphs are not safe to call from several threads at once, so each call holds a lock;
the calls take a few milliseconds, which makes the lock cheap.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from easel.engines.lazy import Lazy


@dataclass(frozen=True)
class FaceBox:
    """A detected face in pixel coordinates of the input image."""

    left: int
    top: int
    width: int
    height: int
    score: float


def _make_detector():
    import mediapipe as mp

    # model_selection=1 is the full-range model: it also finds smaller faces in half-body shots.
    return mp.solutions.face_detection.FaceDetection(model_selection=1, min_detection_confidence=0.5)


def _make_mesh():
    import mediapipe as mp

    return mp.solutions.face_mesh.FaceMesh(
        static_image_mode=True, max_num_faces=1, refine_landmarks=False, min_detection_confidence=0.5
    )


_detector = Lazy(_make_detector)
_mesh = Lazy(_make_mesh)
_detector_lock = threading.Lock()
_mesh_lock = threading.Lock()


def detect_faces(rgb: np.ndarray, min_score: float = 0.5) -> list[FaceBox]:
    """Faces in an RGB uint8 image, best first."""
    h, w = rgb.shape[:2]
    with _detector_lock:
        result = _detector.get().process(np.ascontiguousarray(rgb[:, :, :3]))
    faces = []
    for det in result.detections or []:
        score = float(det.score[0])
        if score < min_score:
            continue
        box = det.location_data.relative_bounding_box
        left = round(max(0.0, box.xmin) * w)
        top = round(max(0.0, box.ymin) * h)
        right = round(min(1.0, box.xmin + box.width) * w)
        bottom = round(min(1.0, box.ymin + box.height) * h)
        if right > left and bottom > top:
            faces.append(FaceBox(left, top, right - left, bottom - top, score))
    return sorted(faces, key=lambda f: f.score, reverse=True)


def face_landmarks(rgb: np.ndarray) -> np.ndarray | None:
    """The 468 face-mesh points of the most prominent face as an (N, 3) float array.

    x and y are in pixels; z is MediaPipe's relative depth scaled like x (smaller is nearer the
    camera). None when no face is found.
    """
    h, w = rgb.shape[:2]
    with _mesh_lock:
        result = _mesh.get().process(np.ascontiguousarray(rgb[:, :, :3]))
    if not result.multi_face_landmarks:
        return None
    points = result.multi_face_landmarks[0].landmark
    return np.array([(p.x * w, p.y * h, p.z * w) for p in points], dtype=np.float32)
