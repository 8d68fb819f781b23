"""Tiny ONNX files with DDColor's signature (float32 1x3xHxW grey RGB -> float32 1x2xHxW ab), built in-process
with onnx.helper and saved as real files, for the colorize backend's tests (no downloads)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

Dim = int | str


def _save(path: Path, nodes: list[onnx.NodeProto], inputs: list[onnx.ValueInfoProto],
          outputs: list[onnx.ValueInfoProto], weights: dict[str, np.ndarray]) -> Path:
    initializers = [numpy_helper.from_array(value.astype(np.float32), name) for name, value in weights.items()]
    graph = helper.make_graph(nodes, "tiny-ddcolor", inputs, outputs, initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, path)
    return path


def _io(name: str, channels: int, side: tuple[Dim, Dim], batch: Dim = 1) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, [batch, channels, *side])


def affine(path: Path, a: tuple[float, float], b: tuple[float, float], side: tuple[Dim, Dim] = (64, 64)) -> Path:
    """ab = slope * grey + offset per channel: a = a[0] * g + a[1], b = b[0] * g + b[1], where g is the grey
    input value in [0, 1] (a 1x1 convolution; the three input channels are equal for a grey image)."""
    weight = np.zeros((2, 3, 1, 1), np.float32)
    weight[0, :, 0, 0] = a[0] / 3
    weight[1, :, 0, 0] = b[0] / 3
    bias = np.array([a[1], b[1]], np.float32)
    conv = helper.make_node("Conv", ["input", "w", "bias"], ["output"])
    return _save(path, [conv], [_io("input", 3, side)], [_io("output", 2, side)], {"w": weight, "bias": bias})


def random_weights(path: Path, side: tuple[Dim, Dim] = (64, 64), seed: int = 0, scale: float = 15.0) -> Path:
    """Two random 3x3 convolutions with a tanh between, ab = scale * tanh(...): colours that depend on the
    neighbourhood, bounded so they stay inside the sRGB gamut for mid-grey images."""
    rng = np.random.default_rng(seed)
    nodes = [
        helper.make_node("Conv", ["input", "w1", "b1"], ["h"], pads=[1, 1, 1, 1]),
        helper.make_node("Tanh", ["h"], ["t"]),
        helper.make_node("Conv", ["t", "w2", "b2"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Tanh", ["c"], ["u"]),
        helper.make_node("Mul", ["u", "scale"], ["output"]),
    ]
    weights = {"w1": rng.normal(0, 1.0, (8, 3, 3, 3)), "b1": rng.normal(0, 0.5, 8),
               "w2": rng.normal(0, 0.5, (2, 8, 3, 3)), "b2": rng.normal(0, 0.5, 2),
               "scale": np.array(scale)}
    return _save(path, nodes, [_io("input", 3, side)], [_io("output", 2, side)], weights)


def wrong_channels(path: Path) -> Path:
    """A model DDColor's slot must refuse: 3 channels in, 3 out (an image-to-image model, not ab)."""
    weight = np.ones((3, 3, 1, 1), np.float32)
    conv = helper.make_node("Conv", ["input", "w"], ["output"])
    return _save(path, [conv], [_io("input", 3, (64, 64))], [_io("output", 3, (64, 64))], {"w": weight})


def broken_graph(path: Path) -> Path:
    """The right signature around a node onnxruntime cannot build (an operator no domain defines)."""
    node = helper.make_node("NoSuchOperator", ["input"], ["output"], domain="easel.test")
    graph = helper.make_graph([node], "broken", [_io("input", 3, (64, 64))], [_io("output", 2, (64, 64))])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("easel.test", 1)])
    onnx.save(model, path)
    return path
