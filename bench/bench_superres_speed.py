"""Super-resolution speed (issue 13): where x4plus spends its time, and what makes it faster without a visible loss.

Baseline: the engine as it was, `RealEsrgan(model, runtime="ncnn")` (96-px tiles, 10-px margin, bf16
storage, 2 tiles in flight with threads/2 each). New: the torch bf16 runtime (AMX) and the line-art
routing to x4plus-anime. All sides run in this one invocation, so they share the machine's load.

1. Per-tile profile, one 116-px tile (a 96-px tile plus its margins), one thread: ncnn fp32 / bf16 / int8
   against torch fp32 / bf16, and the time of the RRDB trunk against the upsampler.
2. Whole image, 512x512 astronaut -> 2048x2048, each side in its own subprocess (peak RSS is its own),
   x4plus sides alternating ncnn, torch (torch, ncnn in even rounds); then torch with one tile at a
   time on both threads; then x4plus-anime and animevideov3. Also the engine's own work outside the network.
3. Quality and time on 512-px ground truths shrunk by 4 (bicubic) and upscaled by 4: dev photos,
   held-out photos, constructed and shipped line art. PSNR and edge energy (mean Sobel magnitude of
   the result over that of the truth) for bicubic, the baseline, torch x4plus, animevideov3,
   x4plus-anime and the routed choice. Factor 2 through a half-size input (a quarter of the work) is
   scored too.
4. A comparison sheet.

    .venv/bin/python bench/bench_superres_speed.py [--rounds 1] [--skip-int8]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import statistics
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageDraw, ImageFont

if TYPE_CHECKING:
    import ncnn
    import torch

    from easel.engines.superres import RealEsrgan
    from easel.engines.superres.ncnn_files import Layer

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
OUT = ROOT / "bench" / "out"
SHEET = ROOT / "bench" / "sheets" / "superres_speed_sheet.png"
INT8_DIR = OUT / "superres_int8"
# "-1x2": one tile at a time on every thread, instead of two tiles with a thread each
SIDES = ("ncnn-x4plus", "torch-x4plus", "torch-x4plus-1x2", "ncnn-x4plus-anime", "torch-x4plus-anime",
         "ncnn-animevideov3", "torch-animevideov3")
TILE = 116  # a 96-px tile with a 10-px margin on each side


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def edge_energy(img: np.ndarray) -> float:
    import cv2

    grey = img.astype(np.float32).mean(axis=2)
    return float(np.hypot(cv2.Sobel(grey, cv2.CV_32F, 1, 0), cv2.Sobel(grey, cv2.CV_32F, 0, 1)).mean())


def to_uint8(planes: np.ndarray) -> np.ndarray:
    return np.rint(np.clip(planes, 0, 1) * 255).astype(np.uint8)


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


# --- 1. per-tile profile ----------------------------------------------------------------------------

def tile_planes() -> np.ndarray:
    from matplotlib import cbook

    photo = np.asarray(Image.open(cbook.get_sample_data("grace_hopper.jpg")).convert("RGB"))
    return np.ascontiguousarray(photo[150 : 150 + TILE, 200 : 200 + TILE].transpose(2, 0, 1), np.float32) / 255


def ncnn_net(param: Path, weights: Path, bf16: bool, lightmode: bool = True) -> ncnn.Net:
    import ncnn

    net = ncnn.Net()
    net.opt.use_vulkan_compute = False
    net.opt.num_threads = 1
    net.opt.use_bf16_storage = bf16
    net.opt.use_bf16_packed = bf16
    net.opt.lightmode = lightmode
    if net.load_param(str(param)) != 0 or net.load_model(str(weights)) != 0:
        raise RuntimeError(f"cannot load {param}")
    return net


def ncnn_run(
    net: ncnn.Net, planes: np.ndarray, blob: str = "output", start_blob: str = "data"
) -> tuple[np.ndarray, float]:
    """Feed `planes` in as `start_blob`, run up to `blob`; the CPU seconds that took."""
    import ncnn

    extractor = net.create_extractor()
    extractor.input(start_blob, ncnn.Mat(np.ascontiguousarray(planes)))
    start = time.process_time()
    result = np.array(extractor.extract(blob)[1])
    return result, time.process_time() - start


def best_of(runs: int, fn: Callable[[], tuple[np.ndarray, float]]) -> tuple[np.ndarray, float]:
    """Minimum CPU time of `runs` calls (the machine is shared: the minimum is the least disturbed)."""
    results = [fn() for _ in range(runs)]
    return results[0][0], min(seconds for _, seconds in results)


def build_int8(calibration: list[np.ndarray]) -> tuple[Path, Path]:
    """x4plus quantised the way ncnn2int8 writes it (the tools are not in the ncnn wheel): int8 weights
    with per-output-channel scales, one input scale per convolution from the max |activation| of an fp32
    torch run over the calibration tiles (the 99.99th percentile, which scored best of max/99.99/99.9)."""
    import torch

    from easel.engines.superres.ncnn_files import read_param, read_weights
    from easel.engines.superres.realesrgan import weights_dir
    from easel.engines.superres.torch_graph import TorchGraph

    stem = "realesrgan-x4plus"
    peaks: dict[str, list[float]] = {}

    class Recording(TorchGraph):
        def _apply(self, layer: Layer, args: list[torch.Tensor]) -> list[torch.Tensor]:
            if layer.kind == "Convolution":
                sample = args[0].abs().flatten().float()
                sample = sample[torch.randperm(sample.numel())[:200_000]]
                peaks.setdefault(layer.name, []).append(torch.quantile(sample, 0.9999).item())
            return super()._apply(layer, args)

    graph = Recording(weights_dir() / f"{stem}.param", weights_dir() / f"{stem}.bin", dtype=torch.float32)
    for planes in calibration:
        graph(planes)
    INT8_DIR.mkdir(parents=True, exist_ok=True)
    lines = (weights_dir() / f"{stem}.param").read_text().split("\n")
    param = INT8_DIR / f"{stem}-int8.param"
    param.write_text("\n".join(line + " 8=2" if line.startswith("Convolution") else line for line in lines))
    layers = read_param(weights_dir() / f"{stem}.param")
    weights = read_weights(weights_dir() / f"{stem}.bin", layers)
    blob = bytearray()
    for layer in layers:
        if layer.kind != "Convolution":
            continue
        conv = weights[layer.name]
        flat = conv.weight.reshape(conv.weight.shape[0], -1)
        scales = 127.0 / np.maximum(np.abs(flat).max(axis=1), 1e-12)
        quantised = np.clip(np.rint(flat * scales[:, None]), -127, 127).astype(np.int8).ravel()
        blob += struct.pack("<I", 0x000D4B38) + quantised.tobytes() + b"\0" * (-quantised.size % 4)
        blob += conv.bias.astype(np.float32).tobytes() + scales.astype(np.float32).tobytes()
        blob += np.float32(127.0 / max(max(peaks[layer.name]), 1e-6)).tobytes()
    binary = INT8_DIR / f"{stem}-int8.bin"
    binary.write_bytes(bytes(blob))
    return param, binary


def calibration_tiles() -> list[np.ndarray]:
    from skimage import data

    crops = [data.astronaut()[100:196, 150:246], data.coffee()[50:146, 200:296], data.chelsea()[60:156, 120:216],
             data.rocket()[150:246, 250:346]]
    return [np.ascontiguousarray(c.transpose(2, 0, 1), np.float32) / 255 for c in crops]


def tile_profile(int8: bool) -> tuple[list[str], dict[str, np.ndarray]]:
    import torch

    from easel.engines.superres.realesrgan import weights_dir
    from easel.engines.superres.torch_graph import TorchGraph

    torch.set_num_threads(1)  # this process only measures
    folder = weights_dir()
    param, weights = folder / "realesrgan-x4plus.param", folder / "realesrgan-x4plus.bin"
    planes = tile_planes()
    outputs: dict[str, np.ndarray] = {}
    seconds: dict[str, float] = {}
    for name, bf16 in (("ncnn fp32", False), ("ncnn bf16 (baseline)", True)):
        net = ncnn_net(param, weights, bf16)
        outputs[name], seconds[name] = best_of(2, lambda net=net: ncnn_run(net, planes))
    # The RRDB trunk ends in blob 1878 (64 channels at input size); the upsampler runs from there.
    split_net = ncnn_net(param, weights, True)
    features, trunk = best_of(2, lambda: ncnn_run(split_net, planes, "1878"))
    _, upsampler = best_of(2, lambda: ncnn_run(split_net, features, "output", start_blob="1878"))
    if int8:
        int8_param, int8_bin = build_int8(calibration_tiles())
        net = ncnn_net(int8_param, int8_bin, bf16=False)
        outputs["ncnn int8"], seconds["ncnn int8"] = best_of(2, lambda: ncnn_run(net, planes))
    for name, dtype in (("torch fp32", torch.float32), ("torch bf16 (new)", torch.bfloat16)):
        graph = TorchGraph(param, weights, dtype=dtype)
        graph(planes[:, :32, :32])  # oneDNN builds its kernels on the first call

        def timed(graph: TorchGraph = graph) -> tuple[np.ndarray, float]:
            start = time.process_time()
            out = graph(planes)
            return out, time.process_time() - start

        outputs[name], seconds[name] = best_of(2, timed)
    reference = to_uint8(outputs["ncnn fp32"])
    base = seconds["ncnn bf16 (baseline)"]
    rows = [
        f"| {name} | {secs:.2f} | {base / secs:.2f}x | {psnr(to_uint8(outputs[name]), reference):.1f} |"
        for name, secs in seconds.items()
    ]
    rows.append(f"| (ncnn bf16 split: RRDB trunk {trunk:.2f} s, upsampler {upsampler:.2f} s) | | trunk share "
                f"{trunk / (trunk + upsampler):.0%} | |")
    crops = {name: to_uint8(out).transpose(1, 2, 0) for name, out in outputs.items()}
    return rows, crops


def engine_overhead() -> list[str]:
    """The engine's own work around the network on 512x512 -> 2048x2048 (colour planes, cross-fade,
    uint8), timed with a network that returns zeros at once, and the share of network work that
    recomputes tile margins."""
    from skimage import data

    from easel.engines.superres import RealEsrgan, realesrgan

    def instant(planes: np.ndarray) -> np.ndarray:
        return np.zeros((3, planes.shape[1] * 4, planes.shape[2] * 4), np.float32)

    real = realesrgan._shared_net
    realesrgan._shared_net = lambda stem, runtime, threads: realesrgan._LoadedNet(instant, realesrgan.threading.Lock())
    try:
        upscaler = RealEsrgan("x4plus", runtime="ncnn")
        _, seconds = best_of(3, lambda: (None, timed(lambda: upscaler.upscale(data.astronaut(), 4))[1]))
    finally:
        realesrgan._shared_net = real
    rows, cols = realesrgan._grid(512, 512, upscaler.tile, upscaler.workers)
    spans = realesrgan._spans(512, rows, upscaler.model.tile_pad)
    padded = sum(span.pad1 - span.pad0 for span in spans) ** 2
    return [f"Engine work outside the network, 512x512 -> 2048x2048 (planes, cross-fade, uint8): {seconds:.2f} s",
            f"Tiles: {rows}x{cols} of ~{512 / rows:.0f} px; the network sees {padded / 512**2:.2f}x the image's "
            f"pixels, so {1 - 512**2 / padded:.0%} of its work recomputes margins"]


# --- 2. whole image, one side per subprocess ----------------------------------------------------------

def run_side(side: str) -> dict[str, float]:
    from skimage import data

    from easel.engines.superres import RealEsrgan

    runtime, model = side.removesuffix("-1x2").split("-", 1)
    rgb = data.astronaut()
    start = time.perf_counter()
    upscaler = RealEsrgan(model, runtime=runtime)
    if side.endswith("-1x2"):
        upscaler.workers, upscaler.threads_per_tile = 1, upscaler.threads
    cpu = time.process_time()
    out = upscaler.upscale(rgb, 4)
    done = time.perf_counter()
    Image.fromarray(out).save(OUT / f"superres_speed_{side}.png")
    return {"seconds": done - start, "cpu_seconds": time.process_time() - cpu, "peak_rss_mb": peak_rss_mb()}


def measure(side: str) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, __file__, "--side", side], capture_output=True, text=True, env=env,
                          check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{side} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def whole_image(rounds: int) -> list[str]:
    results: dict[str, list[dict[str, float]]] = {side: [] for side in SIDES}
    order = [("ncnn-x4plus", "torch-x4plus") if i % 2 == 0 else ("torch-x4plus", "ncnn-x4plus") for i in range(rounds)]
    for pair in order:
        for side in pair:
            results[side].append(measure(side))
            print(side, results[side][-1], flush=True)
    for side in SIDES[2:]:
        results[side].append(measure(side))
        print(side, results[side][-1], flush=True)
    rows = []
    for side, runs in results.items():
        if not runs:
            continue
        secs = [r["seconds"] for r in runs]
        rows.append(f"| {side} | {statistics.median(secs):.1f} | {', '.join(f'{s:.1f}' for s in secs)} | "
                    f"{statistics.median(r['cpu_seconds'] for r in runs):.1f} | "
                    f"{max(r['peak_rss_mb'] for r in runs):.0f} |")
    base = statistics.median(r["seconds"] for r in results["ncnn-x4plus"])
    new = statistics.median(r["seconds"] for r in results["torch-x4plus"])
    anime = statistics.median(r["seconds"] for r in results["torch-x4plus-anime"])
    anime_ncnn = statistics.median(r["seconds"] for r in results["ncnn-x4plus-anime"])
    agree = psnr(np.asarray(Image.open(OUT / "superres_speed_ncnn-x4plus.png")),
                 np.asarray(Image.open(OUT / "superres_speed_torch-x4plus.png")))
    rows += ["", f"x4plus wall-time ratio torch / ncnn (medians): **{new / base:.2f}** ({base / new:.1f}x faster); "
             f"routed line art (torch x4plus-anime) against the ncnn x4plus baseline: **{base / anime:.0f}x faster** "
             f"(on ncnn, where there is no AMX: {base / anime_ncnn:.1f}x)",
             f"torch x4plus output against ncnn x4plus output (2048x2048): {agree:.1f} dB PSNR"]
    return rows


# --- 3. quality on shrunk ground truths ---------------------------------------------------------------

def square(img: np.ndarray, size: int = 512, centre: tuple[float, float] = (0.5, 0.5)) -> np.ndarray:
    """A size x size crop around `centre` (fractions), after shrinking so the short side is `size`."""
    pil = Image.fromarray(img)
    short = min(pil.size)
    if short > size:
        pil = pil.resize((round(pil.width * size / short), round(pil.height * size / short)), Image.Resampling.LANCZOS)
    w, h = pil.size
    size -= size % 4  # the truth must shrink by 4 exactly
    left = min(max(0, round(centre[0] * w - size / 2)), w - size)
    top = min(max(0, round(centre[1] * h - size / 2)), h - size)
    return np.asarray(pil.crop((left, top, left + size, top + size)).convert("RGB"))


def cartoon(seed: int, size: int = 512) -> np.ndarray:
    rng = np.random.default_rng(seed)
    big = size * 4
    img = Image.new("RGB", (big, big), tuple(int(v) for v in rng.integers(150, 256, 3)))
    draw = ImageDraw.Draw(img)
    for _ in range(12):
        x, y = rng.integers(0, big, 2)
        w, h = rng.integers(big // 8, big // 3, 2)
        box = (int(x - w // 2), int(y - h // 2), int(x + w // 2), int(y + h // 2))
        fill = tuple(int(v) for v in rng.integers(0, 256, 3))
        (draw.ellipse if rng.integers(2) else draw.rectangle)(box, fill=fill, outline="black", width=20)
    return np.asarray(img.resize((size, size), Image.Resampling.LANCZOS))


def screenshot(size: int = 512) -> np.ndarray:
    img = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default(size=22)
    draw.rectangle((0, 0, size, 40), fill=(60, 110, 200))
    draw.text((12, 8), "Settings - Easel", fill="white", font=font)
    for i in range(13):
        draw.text((14, 56 + i * 32), f"{i + 1}. the quick brown fox jumps over", fill="black", font=font)
    draw.rectangle((380, 462, 500, 502), fill=(40, 160, 80), outline="black", width=2)
    draw.text((424, 470), "OK", fill="white", font=font)
    return np.asarray(img)


def chart(size: int = 512) -> np.ndarray:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(size / 100, size / 100), dpi=100)
    x = np.linspace(0, 10, 300)
    axes.plot(x, np.sin(x), lw=2, label="sin")
    axes.plot(x, np.cos(x), lw=2, label="cos")
    axes.bar([1, 3, 5, 7], [0.5, 0.8, 0.3, 0.6], alpha=0.5)
    axes.legend()
    axes.set_title("A chart")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return np.asarray(Image.open(buffer).convert("RGB"))


def quality_cases() -> dict[str, tuple[str, np.ndarray]]:
    import matplotlib
    from matplotlib import cbook
    from skimage import data
    from sklearn.datasets import load_sample_image

    logo = Image.open(Path(matplotlib.get_data_path()) / "sample_data" / "logo2.png").convert("RGBA")
    page = Image.new("RGBA", logo.size, "white")
    page.alpha_composite(logo)
    hopper = np.asarray(Image.open(cbook.get_sample_data("grace_hopper.jpg")).convert("RGB"))
    return {
        "astronaut": ("dev photo", square(data.astronaut())),
        "coffee": ("dev photo", square(data.coffee(), centre=(0.45, 0.5))),
        "chelsea": ("dev photo", square(data.chelsea())),
        "rocket": ("dev photo", square(data.rocket())),
        "grace_hopper": ("held-out photo", square(hopper)),
        "china": ("held-out photo", square(load_sample_image("china.jpg"))),
        "flower": ("held-out photo", square(load_sample_image("flower.jpg"))),
        "cartoon A": ("line art (drawn)", cartoon(0)),
        "cartoon B": ("line art (drawn)", cartoon(3)),
        "screenshot": ("line art (text UI)", screenshot()),
        "chart": ("line art (matplotlib)", chart()),
        "mpl logo2": ("line art (shipped PNG)", square(np.asarray(page.convert("RGB")), size=min(page.size))),
    }


def timed(fn: Callable[[], np.ndarray]) -> tuple[np.ndarray, float]:
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def quality(cases: dict[str, tuple[str, np.ndarray]]) -> tuple[list[str], list[str], dict[str, dict[str, np.ndarray]]]:
    from easel.engines.superres import RealEsrgan
    from easel.engines.superres.backend import choose_model

    upscalers = {
        "ncnn x4plus": RealEsrgan("x4plus", runtime="ncnn"),
        "torch x4plus": RealEsrgan("x4plus", runtime="torch"),
        "animevideov3": RealEsrgan("animevideov3", runtime="torch"),
        "x4plus-anime": RealEsrgan("x4plus-anime", runtime="torch"),
    }
    for upscaler in upscalers.values():  # load weights and kernels outside the timings
        upscaler.upscale(np.zeros((16, 16, 3), np.uint8), 4)
    rows, factor2_rows, kept = [], [], {}
    for name, (kind, truth) in cases.items():
        h, w = truth.shape[:2]
        small = np.asarray(Image.fromarray(truth).resize((w // 4, h // 4), Image.Resampling.BICUBIC))
        outs = {"bicubic": np.asarray(Image.fromarray(small).resize((w, h), Image.Resampling.BICUBIC))}
        secs = {}
        for label, upscaler in upscalers.items():
            outs[label], secs[label] = timed(lambda upscaler=upscaler, small=small: upscaler.upscale(small, 4))
        routed, _ = choose_model(small, "x4plus")
        routed_label = "torch x4plus" if routed == "x4plus" else routed
        outs["routed"], secs["routed"] = outs[routed_label], secs[routed_label]
        truth_edges = edge_energy(truth)
        cells = [f"{psnr(outs[k], truth):.2f} / {edge_energy(outs[k]) / truth_edges:.2f}" for k in
                 ("bicubic", "ncnn x4plus", "torch x4plus", "animevideov3", "x4plus-anime")]
        agreement = psnr(outs["torch x4plus"], outs["ncnn x4plus"])
        rows.append(f"| {name} ({kind}) | " + " | ".join(cells) + f" | **{routed}** | "
                    f"{secs['ncnn x4plus']:.2f} → {secs['routed']:.2f} | {agreement:.1f} |")
        kept[name] = outs
        if kind.endswith("photo"):
            factor2_rows.append(factor_two_row(name, truth, upscalers["torch x4plus"]))
        print(rows[-1], flush=True)
    return rows, factor2_rows, kept


def factor_two_row(name: str, truth: np.ndarray, upscaler: RealEsrgan) -> str:
    """Factor 2 the engine's way (x4 then Lanczos) against x4 of a half-size input (1/4 of the work)."""
    h, w = truth.shape[:2]
    small = np.asarray(Image.fromarray(truth).resize((w // 2, h // 2), Image.Resampling.BICUBIC))
    bicubic = np.asarray(Image.fromarray(small).resize((w, h), Image.Resampling.BICUBIC))
    full, full_s = timed(lambda: upscaler.upscale(small, 2))
    half_in = np.asarray(Image.fromarray(small).resize((w // 4, h // 4), Image.Resampling.LANCZOS))
    cheap, cheap_s = timed(lambda: upscaler.upscale(half_in, 4))
    return (f"| {name} | {psnr(bicubic, truth):.2f} | {psnr(full, truth):.2f} ({full_s:.1f} s) | "
            f"{psnr(cheap, truth):.2f} ({cheap_s:.1f} s) |")


# --- 4. sheet -------------------------------------------------------------------------------------------

def draw_sheet(kept: dict[str, dict[str, np.ndarray]], cases: dict[str, tuple[str, np.ndarray]],
               tile_crops: dict[str, np.ndarray]) -> None:
    """Rows of crops: truth | bicubic | ncnn x4plus (baseline) | torch x4plus (new) | x4plus-anime | animevideov3.
    Photos at 1:1 (128 px); line art zoomed 2x (64 px) so outlines and fringes show; the last row is the
    profile tile at 1:1 around its largest int8 error."""
    rows = [("grace_hopper", (166, 136), 1), ("china", (240, 210), 1), ("cartoon A", (248, 158), 2),
            ("chart", (68, 68), 2)]
    side, label_h, gap = 128, 18, 4
    columns = ("truth", "bicubic", "ncnn x4plus", "torch x4plus", "x4plus-anime", "animevideov3")
    extra = [k for k in ("ncnn fp32", "ncnn int8", "torch bf16 (new)") if k in tile_crops]
    width = max(len(columns), len(extra)) * (side + gap)
    sheet = Image.new("RGB", (width, (len(rows) + (1 if extra else 0)) * (side + label_h) + label_h), "white")
    draw = ImageDraw.Draw(sheet)
    for r, (name, (x, y), zoom) in enumerate(rows):
        top = r * (side + label_h)
        images = {"truth": cases[name][1], **kept[name]}
        for c, column in enumerate(columns):
            crop = Image.fromarray(images[column]).crop((x, y, x + side // zoom, y + side // zoom))
            crop = crop.resize((side, side), Image.Resampling.NEAREST)
            sheet.paste(crop, (c * (side + gap), top + label_h))
            label = f"{name} truth, {zoom}x" if column == "truth" else column
            draw.text((c * (side + gap) + 3, top + 3), label, fill="black")
    if extra:
        top = len(rows) * (side + label_h)
        x, y = worst_int8_error(tile_crops, side)
        for c, name in enumerate(extra):  # the 116-px profile tile, 4x: fp32 vs int8 vs torch bf16
            crop = Image.fromarray(tile_crops[name]).crop((x, y, x + side, y + side))
            sheet.paste(crop, (c * (side + gap), top + label_h))
            draw.text((c * (side + gap) + 3, top + 3), name.removesuffix(" (new)"), fill="black")
    SHEET.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(SHEET, optimize=True)


def worst_int8_error(tile_crops: dict[str, np.ndarray], side: int) -> tuple[int, int]:
    """Top-left of a side x side window centred on the largest int8-vs-fp32 error (or a fixed spot)."""
    if "ncnn int8" not in tile_crops:
        return 180, 150
    error = np.abs(tile_crops["ncnn int8"].astype(int) - tile_crops["ncnn fp32"].astype(int)).sum(axis=2)
    y, x = np.unravel_index(int(error.argmax()), error.shape)
    h, w = error.shape
    return int(min(max(0, x - side // 2), w - side)), int(min(max(0, y - side // 2), h - side))


def machine() -> str:
    import ncnn
    import torch

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    return (f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, ncnn {ncnn.__version__}, "
            f"torch {torch.__version__}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=1, help="whole-image runs per x4plus side (alternating)")
    parser.add_argument("--skip-int8", action="store_true", help="skip building and timing the int8 model")
    parser.add_argument("--side", choices=SIDES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    if args.side:
        print(json.dumps(run_side(args.side)))
        return
    lines = [f"Machine: {machine()}", "", "Per tile (116x116 -> 464x464, grace_hopper, 1 thread, best of 2 CPU s):", "",
             "| runtime | CPU s | speed vs baseline | PSNR vs ncnn fp32 dB |", "|---|---|---|---|"]
    profile_rows, tile_crops = tile_profile(not args.skip_int8)
    lines += [*profile_rows, "", *engine_overhead()]
    print("\n".join(lines), flush=True)
    cases = quality_cases()
    quality_rows, factor2_rows, kept = quality(cases)
    lines += ["", "512x512 astronaut -> 2048x2048:", "", "| side | median s | runs s | CPU s | peak RSS MB |",
              "|---|---|---|---|---|", *whole_image(args.rounds)]
    lines += ["", "Quality: 512-px truth shrunk by 4 (bicubic), upscaled by 4. PSNR dB / edge energy vs truth:", "",
              "| image | bicubic | ncnn x4plus (baseline) | torch x4plus (new) | animevideov3 | x4plus-anime | "
              "routed to | time s baseline → routed | torch vs ncnn dB |", "|---|---|---|---|---|---|---|---|---|",
              *quality_rows,
              "", "Factor 2 on photos (512-px truth shrunk by 2), torch x4plus. PSNR dB vs truth:", "",
              "| photo | bicubic | x4 of the 256-px input, Lanczos to 512 | x4 of a 128-px copy of the input |",
              "|---|---|---|---|", *factor2_rows]
    draw_sheet(kept, cases, tile_crops)
    text = "\n".join(lines)
    (OUT / "superres_speed_table.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
