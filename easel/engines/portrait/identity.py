"""Face identity distance: how far the face geometry of a repaint is from the person in the input.

The measure is MediaPipe's 468-point face mesh (weights in the wheel) of the largest detected face, taken on
a crop around the face so that half-body shots mesh as well as close-ups, then compared after the best
similarity alignment (translation, rotation, scale: orthogonal Procrustes on centred, unit-size point sets).
The distance is the root of the residual sum of squares left after alignment, the square root of
`scipy.spatial.procrustes`' disparity: 0 for the same geometry, about 0.07 for two different people.

What it sees is the shape of the face (proportions of eyes, nose, mouth, jaw), not skin, hair or clothes, so
a restyle that changes colours, costume and background but keeps the face scores low, and a model that draws
somebody else scores high. It is a geometry check, not a face-recognition model: faces with similar
proportions can score close (see IDENTITY_BOUND).

IDENTITY_BOUND was chosen by measuring (bench/portrait_identity.py prints the table):
- the same person, mild changes and restyles (the astronaut and Grace Hopper, each through JPEG q30, blur,
  +40 brightness, greyscale, 10 degree rotation, 2x and 0.5x scale, noise, mirror, and the ten CPU styles):
  0.005 to 0.041, the largest being the CPU 未来科技 style on the astronaut;
- different people: the astronaut family against the Grace Hopper family (400 pairs) 0.055 to 0.082,
  median 0.069; a 12 % stretch of one face (a constructed different face shape) 0.044 to 0.065; of the
  pairs of the 69 meshable faces of scikit-image's lfw_subset (25 px photos, so noisier) 2 % fall within.
0.048 sits between the worst same-person score (0.041) and the best different-person score among the
full-size photos (0.055).
"""

from __future__ import annotations

import cv2
import numpy as np

from easel.engines.face import detect_faces, face_landmarks

IDENTITY_BOUND = 0.048
# the detector works on a bounded copy (it looks at 192 px anyway); the mesh on a crop of this long side
DETECT_LONG_SIDE = 1024
MESH_LONG_SIDE = 384
# the crop around the detected box: this many box sizes wide, so the mesh's own detector sees the whole head
CROP_BOXES = 2.0
MIN_SCORE = 0.5


def face_shape(rgb: np.ndarray) -> np.ndarray | None:
    """The (468, 2) face-mesh points of the largest face in an RGB uint8 image; None when there is no face."""
    rgb = np.ascontiguousarray(rgb[:, :, :3])
    h, w = rgb.shape[:2]
    scale = min(1.0, DETECT_LONG_SIDE / max(h, w))
    small = rgb if scale == 1.0 else cv2.resize(rgb, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
    faces = detect_faces(small, min_score=MIN_SCORE)
    if not faces:
        return None
    face = max(faces, key=lambda f: f.width * f.height)
    half = max(face.width, face.height) * CROP_BOXES / 2 / scale
    cx, cy = (face.left + face.width / 2) / scale, (face.top + face.height / 2) / scale
    left, top = max(0, round(cx - half)), max(0, round(cy - half))
    right, bottom = min(w, round(cx + half)), min(h, round(cy + half))
    crop = rgb[top:bottom, left:right]
    fit = MESH_LONG_SIDE / max(crop.shape[:2])
    crop = cv2.resize(crop, (max(1, round(crop.shape[1] * fit)), max(1, round(crop.shape[0] * fit))),
                      interpolation=cv2.INTER_AREA)
    points = face_landmarks(crop)
    return None if points is None else points[:, :2].astype(np.float64)


def identity_distance(first: np.ndarray, second: np.ndarray) -> float:
    """Distance between two face shapes after the best similarity alignment (0 = same geometry)."""
    a = _standardised(first)
    b = _standardised(second)
    # for unit-size centred sets the least residual over rotations and scale is 1 - (nuclear norm of a^T b)^2
    aligned = np.linalg.svd(a.T @ b, compute_uv=False).sum()
    return float(np.sqrt(max(0.0, 1.0 - aligned**2)))


def _standardised(points: np.ndarray) -> np.ndarray:
    centred = np.asarray(points, dtype=np.float64) - np.mean(points, axis=0)
    size = np.linalg.norm(centred)
    if size == 0.0:
        raise ValueError("a face shape needs points that are not all in one place")
    return centred / size
