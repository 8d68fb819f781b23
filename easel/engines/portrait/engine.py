"""repaint(): find the face, frame per the contract, paint at working size, finish at output size."""

from __future__ import annotations

import numpy as np

from easel.engines.face import FaceBox
from easel.engines.portrait.filters import resize
from easel.engines.portrait.framing import OUTPUT_SHORT_SIDE, find_clear_face, plan_frame
from easel.engines.portrait.scene import Scene, build_scene
from easel.engines.portrait.styles import RECIPES

# Painting happens at half the output size: smoothing, quantising and the neural net look the same
# there, and the upscale is hidden by the flat areas styles produce. Grain, dots and artwork that
# must stay crisp are added after the upscale.
WORK_SHORT_SIDE = 768


def repaint(rgb: np.ndarray, style_index: int, *, seed: int = 0) -> np.ndarray:
    """Repaint a portrait in one of the ten styles; output size per the wanx-style-repaint contract.

    Raises NoFaceError when no clear face is found and ValueError for a bad style index or image.
    """
    return render(rgb, style_index, seed=seed, short_side=OUTPUT_SHORT_SIDE)


def render(rgb: np.ndarray, style_index: int, *, seed: int = 0, short_side: int = OUTPUT_SHORT_SIDE) -> np.ndarray:
    """repaint() with a chosen output short side (tests and previews use a small one)."""
    if not 0 <= style_index < len(RECIPES):
        raise ValueError(f"style_index must be 0 to {len(RECIPES) - 1}, got {style_index}")
    rgb = _as_rgb(rgb)
    face = find_clear_face(rgb)
    plan = plan_frame(rgb.shape[1], rgb.shape[0], face, short_side=short_side)
    crop = plan.crop(rgb)
    scale = min(WORK_SHORT_SIDE, short_side) / min(crop.shape[:2])
    work_w, work_h = round(plan.crop_width * scale), round(plan.crop_height * scale)
    work_face = FaceBox(
        round((face.left - plan.crop_left) * scale),
        round((face.top - plan.crop_top) * scale),
        round(face.width * scale),
        round(face.height * scale),
        face.score,
    )
    scene = build_scene(resize(crop, work_w, work_h), work_face, seed)
    return paint(scene, style_index, plan.out_width, plan.out_height)


def paint(scene: Scene, style_index: int, out_width: int, out_height: int) -> np.ndarray:
    """Run one style on a prepared scene; uint8 RGB at the output size."""
    recipe = RECIPES[style_index]
    painted = np.clip(recipe.paint(scene), 0.0, 1.0).astype(np.float32)
    finished = recipe.finish(resize(painted, out_width, out_height), scene)
    return (np.clip(finished, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def _as_rgb(image: np.ndarray) -> np.ndarray:
    if image.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got {image.dtype}")
    if image.ndim == 2:
        return np.repeat(image[:, :, None], 3, axis=2)
    if image.ndim == 3 and image.shape[2] in (3, 4):
        return np.ascontiguousarray(image[:, :, :3])
    raise ValueError(f"expected an HxW, HxWx3 or HxWx4 image, got shape {image.shape}")
