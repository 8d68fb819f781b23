"""Relight on a held-out portrait (matplotlib's grace_hopper, never tuned on): exposure and direction per prompt.

Prints, per prompt: the subject's mean perceived brightness after / before (1.0 = kept), and the mean gain
(after / before, grey levels) of the subject's and the face's halves: the side a light comes from should gain
more than the far side. Writes a 3x3 sheet (original, then the prompts in order) when given a path.

    .venv/bin/python bench/relight_heldout.py [bench/sheets/relight_heldout.png]
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import matplotlib.cbook
import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from easel.engines.face import detect_faces
from easel.engines.relight import relight

PROMPTS = ("light from the left", "从右侧打光", "顶光", "舞台聚光灯", "霓虹灯光", "逆光", "温暖的夕阳光",
           "夜晚昏暗的氛围")


def grey(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)


def main() -> None:
    import mediapipe as mp

    rgb = np.asarray(Image.open(matplotlib.cbook.get_sample_data("grace_hopper.jpg")).convert("RGB"))
    with mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=0) as segmenter:
        mask = (segmenter.process(rgb).segmentation_mask > 0.5).astype(np.uint8) * 255
    face = detect_faces(rgb)[0]
    inside = mask > 0
    ys, xs = np.nonzero(inside)
    mid_y, mid_x = (ys.min() + ys.max()) // 2, (xs.min() + xs.max()) // 2
    f_top, f_left, f_h, f_w = face.top, face.left, face.height, face.width
    tiles = [rgb]
    print("| prompt | exposure | subject top/bottom | subject left/right | face top/bottom | face left/right |")
    print("|---|---|---|---|---|---|")
    for prompt in PROMPTS:
        out = relight(rgb, mask, prompt, seed=1).image
        tiles.append(out)
        gain = grey(out) / np.maximum(grey(rgb), 1.0)
        fg = gain[f_top:f_top + f_h, f_left:f_left + f_w]
        exposure = grey(out)[inside].mean() / grey(rgb)[inside].mean()
        top, bottom = gain[:mid_y][inside[:mid_y]].mean(), gain[mid_y:][inside[mid_y:]].mean()
        left, right = gain[:, :mid_x][inside[:, :mid_x]].mean(), gain[:, mid_x:][inside[:, mid_x:]].mean()
        print(f"| {prompt} | {exposure:.2f} | {top:.2f}/{bottom:.2f} | {left:.2f}/{right:.2f} | "
              f"{fg[:f_h // 2].mean():.2f}/{fg[f_h // 2:].mean():.2f} | "
              f"{fg[:, :f_w // 2].mean():.2f}/{fg[:, f_w // 2:].mean():.2f} |")
    if len(sys.argv) > 1:
        rows = [np.concatenate(tiles[i:i + 3], 1) for i in range(0, 9, 3)]
        Image.fromarray(np.concatenate(rows, 0)).resize((768, 900)).save(sys.argv[1])


if __name__ == "__main__":
    main()
