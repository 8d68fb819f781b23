"""Which inpainter serves removals: the learned ONNX model when EASEL_INPAINT_ONNX names one, else the
classical coherence-transport engine (edge-aware, deterministic)."""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

from easel.errors import EngineUnavailable

Inpainter = Callable[[np.ndarray, np.ndarray, int], np.ndarray]


def inpainter(onnx_path: str | None) -> Inpainter:
    """A function (rgb, hole, seed) -> rgb; pixels outside the hole are returned unchanged."""
    if onnx_path:
        model = _onnx_model(onnx_path)
        return lambda rgb, hole, _seed: model.inpaint(rgb, hole)
    from easel.engines.inpaint import inpaint

    return lambda rgb, hole, seed: inpaint(rgb, hole, seed=seed)


@functools.cache
def _onnx_model(path: str):
    from easel.engines.inpaint import OnnxInpainter

    try:
        return OnnxInpainter(path)
    except ValueError as exc:
        raise EngineUnavailable(f"EASEL_INPAINT_ONNX={path} cannot be used: {exc}") from None
