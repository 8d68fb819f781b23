"""Inpainting for removals (objects, text, watermarks).

`inpaint` is the weight-free engine (coherence transport, see classical.py); `OnnxInpainter` runs
a user-supplied LaMa or MI-GAN ONNX file; `default_inpainter` picks between them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from easel.engines.inpaint.classical import inpaint
from easel.engines.inpaint.learned import OnnxInpainter

__all__ = ["OnnxInpainter", "default_inpainter", "inpaint"]


def default_inpainter(onnx_path: str | Path | None = None) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """(rgb, hole) -> filled rgb: the ONNX model at `onnx_path` when one is given, else `inpaint`.

    The model is loaded here, so a bad path or an unsupported model fails at once (ValueError).
    """
    if onnx_path:
        return OnnxInpainter(onnx_path).inpaint
    return inpaint
