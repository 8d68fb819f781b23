"""Reading ncnn .param / .bin files without ncnn, so other runtimes can run the same weights.

Only what the Real-ESRGAN graphs use is understood: Convolution (stride 1, "same" padding, optional
leaky ReLU), PReLU, Split, Concat, Eltwise sum, BinaryOp add, nearest Interp and PixelShuffle.
Anything else raises, rather than being run wrongly.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

PARAM_MAGIC = "7767517"
# The tag before each weight array in the .bin says how it is stored.
FP32_TAG = 0
FP16_TAG = 0x01306B47
# Convolution activation_type (param 9): 0 none, 2 leaky ReLU.
NO_ACTIVATION, LEAKY_RELU = 0, 2
# Param keys: scalar `k=v`; arrays are written with key -23300 - k as `count,v1,v2...`.
ARRAY_KEY_BASE = -23300


@dataclass(frozen=True)
class Layer:
    kind: str
    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    params: dict[int, str]

    def int_param(self, key: int, default: int = 0) -> int:
        return int(self.params.get(key, default))

    def float_param(self, key: int, default: float = 0.0) -> float:
        return float(self.params.get(key, default))

    def array_param(self, key: int) -> list[float]:
        """The array stored under `key` (its count dropped); empty when absent."""
        raw = self.params.get(ARRAY_KEY_BASE - key)
        return [float(v) for v in raw.split(",")[1:]] if raw else []


@dataclass(frozen=True)
class ConvWeights:
    weight: np.ndarray  # out x in x k x k, float32
    bias: np.ndarray  # out, float32


def read_param(path: Path) -> list[Layer]:
    lines = path.read_text().split("\n")
    if lines[0].strip() != PARAM_MAGIC:
        raise ValueError(f"{path} is not an ncnn .param file")
    return [_parse_layer(line) for line in lines[2:] if line.strip()]


def _parse_layer(line: str) -> Layer:
    kind, name, n_in, n_out, *rest = line.split()
    n_in, n_out = int(n_in), int(n_out)
    inputs, outputs, pairs = rest[:n_in], rest[n_in : n_in + n_out], rest[n_in + n_out :]
    params = {int(key): value for key, value in (pair.split("=", 1) for pair in pairs)}
    return Layer(kind, name, tuple(inputs), tuple(outputs), params)


def read_weights(path: Path, layers: list[Layer]) -> dict[str, ConvWeights | np.ndarray]:
    """Convolution weights (and biases) and PReLU slopes by layer name, in the .bin's order."""
    data = path.read_bytes()
    offset = 0
    weights: dict[str, ConvWeights | np.ndarray] = {}
    for layer in layers:
        if layer.kind == "Convolution":
            out_channels, kernel, count = layer.int_param(0), layer.int_param(1), layer.int_param(6)
            flat, offset = _tagged_array(data, offset, count)
            bias = np.zeros(out_channels, np.float32)
            if layer.int_param(5):
                bias, offset = _raw_array(data, offset, out_channels)
            in_channels = count // (out_channels * kernel * kernel)
            weights[layer.name] = ConvWeights(flat.reshape(out_channels, in_channels, kernel, kernel), bias)
        elif layer.kind == "PReLU":
            weights[layer.name], offset = _raw_array(data, offset, layer.int_param(0))
    if offset != len(data):
        raise ValueError(f"{path}: {len(data) - offset} bytes left after the last weight; the .param does not match")
    return weights


def _raw_array(data: bytes, offset: int, count: int) -> tuple[np.ndarray, int]:
    return np.frombuffer(data, np.float32, count, offset).copy(), offset + 4 * count


def _tagged_array(data: bytes, offset: int, count: int) -> tuple[np.ndarray, int]:
    tag = int(np.frombuffer(data, np.uint32, 1, offset)[0])
    offset += 4
    if tag == FP32_TAG:
        return _raw_array(data, offset, count)
    if tag == FP16_TAG:
        halves = np.frombuffer(data, np.float16, count, offset).astype(np.float32)
        return halves, offset + (2 * count + 3) // 4 * 4  # padded to 4 bytes
    raise ValueError(f"unsupported ncnn weight storage tag {tag:#x} (quantised weights are not read)")
