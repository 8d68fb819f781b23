"""Where the face identity bound comes from: distances for the same person and for different people.

    .venv/bin/python bench/portrait_identity.py

Same person: the astronaut (scikit-image) and Grace Hopper (matplotlib's sample data), each through mild
photo changes and the ten CPU styles (rendered at a 512-px short side). Different people: every member of
one family against every member of the other, a 12 % stretch of each face (a constructed different face
shape), and pairs of the meshable faces of scikit-image's lfw_subset (25-px photos upscaled, so noisier).
"""

from __future__ import annotations

import io
import itertools

import cv2
import numpy as np
from PIL import Image

from easel.engines.portrait.engine import render
from easel.engines.portrait.identity import IDENTITY_BOUND, face_shape, identity_distance


def people() -> dict[str, np.ndarray]:
    import matplotlib.cbook
    from skimage import data

    with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as handle:
        grace = np.asarray(Image.open(handle).convert("RGB"))
    return {"astronaut": data.astronaut(), "grace_hopper": grace}


def mild_changes(rgb: np.ndarray) -> dict[str, np.ndarray]:
    h, w = rgb.shape[:2]
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "JPEG", quality=30)
    rotation = cv2.getRotationMatrix2D((w / 2, h / 2), 10, 1.0)
    noise = np.random.default_rng(0).normal(0, 12, rgb.shape)
    return {
        "jpeg q30": np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")),
        "blur 2px": cv2.GaussianBlur(rgb, (0, 0), 2.0),
        "+40 brightness": np.clip(rgb.astype(np.int16) + 40, 0, 255).astype(np.uint8),
        "greyscale": np.repeat(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)[:, :, None], 3, axis=2),
        "rotate 10deg": cv2.warpAffine(rgb, rotation, (w, h), borderMode=cv2.BORDER_REFLECT),
        "2x": cv2.resize(rgb, (w * 2, h * 2), interpolation=cv2.INTER_CUBIC),
        "0.5x": cv2.resize(rgb, (w // 2, h // 2), interpolation=cv2.INTER_AREA),
        "noise 12": np.clip(rgb + noise, 0, 255).astype(np.uint8),
        "mirror": np.ascontiguousarray(rgb[:, ::-1]),
    }


def stretched(rgb: np.ndarray) -> dict[str, np.ndarray]:
    h, w = rgb.shape[:2]
    return {"stretch x 1.12": cv2.resize(rgb, (round(w * 1.12), h)),
            "stretch y 1.12": cv2.resize(rgb, (w, round(h * 1.12)))}


def lfw_faces() -> list[np.ndarray]:
    from skimage import data

    shapes = []
    for face in data.lfw_subset()[:100]:  # the first 100 are faces
        big = cv2.resize((face * 255).astype(np.uint8), (200, 200), interpolation=cv2.INTER_CUBIC)
        big = cv2.copyMakeBorder(big, 100, 100, 100, 100, cv2.BORDER_REPLICATE)
        shape = face_shape(np.repeat(big[:, :, None], 3, axis=2))
        if shape is not None:
            shapes.append(shape)
    return shapes


def main() -> None:
    families: dict[str, list[np.ndarray]] = {}
    same: list[float] = []
    print("| person | variant | distance |\n|---|---|---|")
    for name, rgb in people().items():
        base = face_shape(rgb)
        assert base is not None, name
        variants = {**mild_changes(rgb), **{f"CPU style {i}": render(rgb, i, short_side=512) for i in range(10)}}
        families[name] = [base]
        for label, image in variants.items():
            shape = face_shape(image)
            distance = "no face" if shape is None else f"{identity_distance(base, shape):.4f}"
            print(f"| {name} | {label} | {distance} |")
            if shape is not None:
                families[name].append(shape)
                same.append(identity_distance(base, shape))
        for label, image in stretched(rgb).items():
            shape = face_shape(image)
            print(f"| {name} | {label} (different shape) | "
                  f"{'no face' if shape is None else f'{identity_distance(base, shape):.4f}'} |")
    first, second = families.values()
    cross = np.array([identity_distance(a, b) for a, b in itertools.product(first, second)])
    lfw = lfw_faces()
    pairs = np.array([identity_distance(a, b) for a, b in itertools.combinations(lfw, 2)])
    print(f"\nsame person: {len(same)} measured, {min(same):.4f} to {max(same):.4f}")
    print(f"astronaut family x Grace Hopper family: {len(cross)} pairs, min {cross.min():.4f}, "
          f"median {np.median(cross):.4f}, max {cross.max():.4f}")
    print(f"lfw_subset: {len(lfw)} meshable faces, {len(pairs)} pairs, min {pairs.min():.4f}, "
          f"1st percentile {np.percentile(pairs, 1):.4f}, 5th {np.percentile(pairs, 5):.4f}, "
          f"under the bound {(pairs <= IDENTITY_BOUND).mean():.1%}")
    print(f"bound {IDENTITY_BOUND}: same person all within: {max(same) <= IDENTITY_BOUND}; "
          f"cross pairs all beyond: {cross.min() > IDENTITY_BOUND}")


if __name__ == "__main__":
    main()
