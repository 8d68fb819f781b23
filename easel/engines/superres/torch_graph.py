"""The Real-ESRGAN ncnn graphs run by PyTorch in bfloat16, for CPUs with AMX.

oneDNN's AMX bf16 convolutions run x4plus ~5x faster per core than ncnn (which has no AMX kernels)
at the same precision as the ncnn path's bf16 storage: ~52 dB from fp32 (bench/results/superres_speed.md).
Without AMX, oneDNN's bf16 is no faster than ncnn (avx512_bf16) or much slower (emulated), so
the engine picks this path only on CPUs with AMX (see realesrgan.default_runtime).

torch is optional (the diffusion extra); this module is only imported once it is known to be there.
The weights are read from the same .param/.bin files that ncnn loads.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Callable
from functools import cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from easel.engines.superres.ncnn_files import LEAKY_RELU, NO_ACTIVATION, ConvWeights, Layer, read_param, read_weights

DTYPE = torch.bfloat16
LEAKY_SLOPE_DEFAULT = 0.0
ELTWISE_SUM = 1
BINARY_ADD = 0
INTERP_NEAREST = 1


class TorchGraph:
    """One ncnn graph as a sequence of torch ops; each blob is dropped after its last use.

    bf16 by default; float32 gives the reference the benches compare against.
    """

    def __init__(self, param: Path, weights: Path, dtype: torch.dtype = DTYPE) -> None:
        self.dtype = dtype
        self.layers = [layer for layer in read_param(param) if layer.kind != "Input"]
        for layer in self.layers:
            _check_supported(layer)
        raw = read_weights(weights, self.layers)
        self.convs = {name: _conv_tensors(w, dtype) for name, w in raw.items() if isinstance(w, ConvWeights)}
        self.slopes = {name: torch.from_numpy(w).to(dtype) for name, w in raw.items() if isinstance(w, np.ndarray)}
        self.dead_after = _last_uses(self.layers)

    @torch.inference_mode()
    def __call__(self, planes: np.ndarray) -> np.ndarray:
        """3xHxW float32 in, 3x(sH)x(sW) float32 out, like the ncnn extractor."""
        x = torch.from_numpy(np.ascontiguousarray(planes))[None].to(self.dtype)
        blobs = {"data": x.contiguous(memory_format=torch.channels_last)}
        for layer, dead in zip(self.layers, self.dead_after, strict=True):
            args = [blobs[name] for name in layer.inputs]
            for name in dead:
                del blobs[name]
            for name, value in zip(layer.outputs, self._apply(layer, args), strict=False):
                blobs[name] = value
        return blobs["output"][0].float().numpy()

    def _apply(self, layer: Layer, args: list[torch.Tensor]) -> list[torch.Tensor]:
        if layer.kind == "Split":
            return args * len(layer.outputs)
        if layer.kind == "Convolution":
            weight, bias = self.convs[layer.name]
            y = F.conv2d(args[0], weight, bias, padding=layer.int_param(4))
            if layer.int_param(9) == LEAKY_RELU:
                slope = (layer.array_param(10) or [LEAKY_SLOPE_DEFAULT])[0]
                y = F.leaky_relu_(y, slope)
            return [y]
        if layer.kind == "Concat":
            return [torch.cat(args, dim=1)]
        if layer.kind == "Eltwise":
            a, b = layer.array_param(1) or [1.0, 1.0]
            return [torch.add(args[1] * b if b != 1 else args[1], args[0], alpha=a)]
        if layer.kind == "BinaryOp":
            return [args[0] + args[1]]
        if layer.kind == "Interp":
            return [F.interpolate(args[0], scale_factor=(layer.float_param(1), layer.float_param(2)), mode="nearest")]
        if layer.kind == "PReLU":
            return [F.prelu(args[0], self.slopes[layer.name])]
        if layer.kind == "PixelShuffle":
            return [F.pixel_shuffle(args[0], layer.int_param(0))]
        raise AssertionError(layer.kind)  # _check_supported let it through


def _conv_tensors(weights: ConvWeights, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    weight = torch.from_numpy(weights.weight).to(dtype).contiguous(memory_format=torch.channels_last)
    return weight, torch.from_numpy(weights.bias).to(dtype)


def _check_supported(layer: Layer) -> None:
    """Refuse any layer setting this interpreter does not reproduce exactly."""
    if not _SUPPORTED.get(layer.kind, lambda _: False)(layer):
        raise ValueError(f"layer {layer.name} ({layer.kind} {layer.params}) is not supported by the torch runner")


_SUPPORTED: dict[str, Callable[[Layer], bool]] = {
    "Convolution": lambda layer: layer.int_param(3, 1) == 1  # stride
    and layer.int_param(2, 1) == 1  # dilation
    and layer.int_param(4) == layer.int_param(1) // 2  # "same" padding
    and layer.int_param(9) in (NO_ACTIVATION, LEAKY_RELU),
    "Eltwise": lambda layer: layer.int_param(0) == ELTWISE_SUM and len(layer.inputs) == 2,
    "BinaryOp": lambda layer: layer.int_param(0) == BINARY_ADD and layer.int_param(1) == 0 and len(layer.inputs) == 2,
    "Interp": lambda layer: layer.int_param(0) == INTERP_NEAREST,
    "Concat": lambda layer: layer.int_param(0) == 0,
    "PixelShuffle": lambda layer: layer.int_param(1) == 0,
    "Split": lambda layer: True,
    "PReLU": lambda layer: True,
}


def _last_uses(layers: list[Layer]) -> list[list[str]]:
    """For each layer, the blobs no later layer reads (freed right after it reads them)."""
    last: dict[str, int] = {}
    for index, layer in enumerate(layers):
        for name in layer.inputs:
            last[name] = index
    return [[name for name in set(layer.inputs) if last[name] == index] for index, layer in enumerate(layers)]


@cache
def openmp_runtime() -> ctypes.CDLL | None:
    """The OpenMP runtime torch already loaded (RTLD_NOLOAD finds it by soname), or None."""
    for soname in ("libgomp.so.1", "libiomp5.so", "libomp.so"):
        try:
            return ctypes.CDLL(soname, mode=os.RTLD_NOLOAD)
        except OSError:
            continue
    return None


def limit_threads_of_this_thread(threads: int) -> bool:
    """Make torch ops called from this thread use `threads` OpenMP threads; other threads keep theirs.

    torch.set_num_threads is process-wide (and would slow every other engine); the OpenMP
    `nthreads` setting is per calling thread, and torch reads it on every parallel op. torch first
    applies its own default in a new thread (get_num_threads triggers that), so it is set after.
    Returns False where no OpenMP runtime is found (the caller then keeps one tile in flight).
    """
    runtime = openmp_runtime()
    if runtime is None:
        return False
    torch.get_num_threads()
    runtime.omp_set_num_threads(ctypes.c_int(threads))
    return torch.get_num_threads() == threads
