"""Colorize bench: Easel's ddcolor-onnx backend vs the same ONNX file run bare in onnxruntime.

No DDColor weights can be downloaded here, so the model is a random-weight network of DDColor-tiny's
architecture and size (piddnad/DDColor ddcolor/model.py, model_size="tiny"): a ConvNeXt-T encoder
(depths 3-3-9-3, dims 96-768), the three PixelShuffle U-Net blocks and the x4 shuffle of its pixel
decoder (nf = 512), the multi-scale colour decoder (9 transformer layers, 256 wide, 100 queries) and the
1x1 refine convolution; 512x512 input, ~55 M parameters. Spectral normalisation and batch norms are folded
into plain weights (what an inference export holds anyway). CPU time depends on the shapes, not on the
weights, so the timings stand for a real DDColor-tiny export.

Per input size (512x512 and 2048x2048 grey photos), medians over --rounds runs of:
  * easel:  DdcolorOnnx.run (L channel -> grey RGB at 512 -> model -> ab resized -> Lab -> RGB)
  * bare:   session.run on a ready 1x3x512x512 tensor (the model alone: the floor)
  * script: DDColor's own notebook steps around the same session (cv2 Lab, nearest ab resize)
Easel and the baselines share one onnxruntime session configuration (threads = usable CPUs), alternate
round by round, and run in the same process; wall and process CPU seconds are both reported. The steps
around the model are also timed alone (the model replaced by a constant answer), for Easel and the notebook.

    .venv/bin/python bench/bench_colorize.py [--rounds 5] [--model /tmp/ddcolor-tiny-random.onnx] [--reuse]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

RESULTS = Path("/tmp/easel_bench/colorize.md")
SIDE = 512


def build_model(path: Path) -> int:
    """Export a random-weight DDColor-tiny-sized network to `path`; returns its parameter count."""
    import torch
    from torch import nn

    class Block(nn.Module):  # ConvNeXt block: depthwise 7x7, LayerNorm, MLP x4, layer scale
        def __init__(self, dim: int) -> None:
            super().__init__()
            self.dw = nn.Conv2d(dim, dim, 7, padding=3, groups=dim)
            self.norm = nn.LayerNorm(dim)
            self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))
            self.gamma = nn.Parameter(torch.full((dim,), 1e-6))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = self.mlp(self.norm(self.dw(x).permute(0, 2, 3, 1))) * self.gamma
            return x + y.permute(0, 3, 1, 2)

    class ChannelNorm(nn.Module):  # LayerNorm over channels of NCHW (ConvNeXt's norm0..norm3 hooks)
        def __init__(self, dim: int) -> None:
            super().__init__()
            self.norm = nn.LayerNorm(dim)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)

    def shuffle_up(c_in: int, c_out: int, scale: int = 2) -> nn.Module:  # CustomPixelShuffle_ICNR with blur
        return nn.Sequential(nn.Conv2d(c_in, c_out * scale * scale, 1), nn.ReLU(), nn.PixelShuffle(scale),
                             nn.ReplicationPad2d((1, 0, 1, 0)), nn.AvgPool2d(2, stride=1))

    class UnetBlock(nn.Module):  # UnetBlockWide
        def __init__(self, up_in: int, skip: int, out: int) -> None:
            super().__init__()
            self.up = shuffle_up(up_in, out)
            self.conv = nn.Sequential(nn.Conv2d(out + skip, out, 3, padding=1), nn.ReLU())

        def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
            return self.conv(torch.relu(torch.cat([self.up(x), skip], 1)))

    class DecoderLayer(nn.Module):  # cross-attention, self-attention, FFN (post-norm)
        def __init__(self, dim: int = 256, heads: int = 8, ffn: int = 2048) -> None:
            super().__init__()
            self.cross = nn.MultiheadAttention(dim, heads)
            self.self_attn = nn.MultiheadAttention(dim, heads)
            self.ffn = nn.Sequential(nn.Linear(dim, ffn), nn.ReLU(), nn.Linear(ffn, dim))
            self.norms = nn.ModuleList(nn.LayerNorm(dim) for _ in range(3))

        def forward(self, q: torch.Tensor, qpos: torch.Tensor, mem: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
            q = self.norms[0](q + self.cross(q + qpos, mem + pos, mem)[0])
            q = self.norms[1](q + self.self_attn(q + qpos, q + qpos, q)[0])
            return self.norms[2](q + self.ffn(q))

    class DDColorTiny(nn.Module):
        def __init__(self, queries: int = 100, hidden: int = 256) -> None:
            super().__init__()
            dims, depths = (96, 192, 384, 768), (3, 3, 9, 3)
            self.down = nn.ModuleList([nn.Sequential(nn.Conv2d(3, dims[0], 4, stride=4), ChannelNorm(dims[0]))] + [
                nn.Sequential(ChannelNorm(dims[i - 1]), nn.Conv2d(dims[i - 1], dims[i], 2, stride=2))
                for i in range(1, 4)])
            self.stages = nn.ModuleList(nn.Sequential(*(Block(d) for _ in range(n)))
                                        for d, n in zip(dims, depths, strict=True))
            self.hooks = nn.ModuleList(ChannelNorm(d) for d in dims)
            self.ups = nn.ModuleList([UnetBlock(768, 384, 512), UnetBlock(512, 192, 512), UnetBlock(512, 96, 256)])
            self.last = shuffle_up(256, 256, scale=4)
            self.proj = nn.ModuleList(nn.Conv2d(c, hidden, 1) for c in (512, 512, 256))
            for level, side in enumerate((32, 64, 128)):  # DDColor's sine embedding is fixed: a buffer, not weights
                self.register_buffer(f"pos{level}", torch.randn(side * side, 1, hidden) * 0.02)
            self.query = nn.Parameter(torch.randn(queries, 1, hidden))
            self.query_pos = nn.Parameter(torch.randn(queries, 1, hidden))
            self.layers = nn.ModuleList(DecoderLayer(hidden) for _ in range(9))
            self.out_norm = nn.LayerNorm(hidden)
            self.embed = nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                                       nn.Linear(hidden, hidden))
            self.refine = nn.Conv2d(queries + 3, 2, 1)
            self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
            self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = (x - self.mean) / self.std
            feats, h = [], x
            for down, stage, hook in zip(self.down, self.stages, self.hooks, strict=True):
                h = stage(down(h))
                feats.append(hook(h))
            out0 = self.ups[0](feats[3], feats[2])
            out1 = self.ups[1](out0, feats[1])
            out2 = self.ups[2](out1, feats[0])
            pixels = self.last(out2)
            memories = [p(f).flatten(2).permute(2, 0, 1) for p, f in zip(self.proj, (out0, out1, out2), strict=True)]
            q = self.query
            for i, layer in enumerate(self.layers):
                q = layer(q, self.query_pos, memories[i % 3], getattr(self, f"pos{i % 3}"))
            colour = self.embed(self.out_norm(q)).transpose(0, 1)
            out = torch.einsum("bqc,bchw->bqhw", colour, pixels)
            return self.refine(torch.cat([out, x], 1))

    torch.manual_seed(0)
    model = DDColorTiny().eval()
    with torch.no_grad():
        torch.onnx.export(model, torch.rand(1, 3, SIDE, SIDE), str(path), dynamo=False, opset_version=17,
                          input_names=["input"], output_names=["output"])
    return sum(p.numel() for p in model.parameters())


def grey_photo(side: int) -> np.ndarray:
    from skimage import data

    grey = cv2.resize(data.camera(), (side, side), interpolation=cv2.INTER_CUBIC)
    return np.repeat(grey[:, :, None], 3, axis=2)


def script_steps(session: object, rgb: np.ndarray) -> np.ndarray:
    """DDColor's notebook (demo/colorization_pipeline_onnxruntime.ipynb), RGB in and out, cv2 for F.interpolate."""
    height, width = rgb.shape[:2]
    img = (rgb / 255.0).astype(np.float32)
    orig_l = cv2.cvtColor(img, cv2.COLOR_RGB2Lab)[:, :, :1]
    img_l = cv2.cvtColor(cv2.resize(img, (SIDE, SIDE)), cv2.COLOR_RGB2Lab)[:, :, :1]
    gray_rgb = cv2.cvtColor(np.concatenate([img_l, np.zeros_like(img_l), np.zeros_like(img_l)], -1),
                            cv2.COLOR_LAB2RGB)
    ab = session.run(None, {"input": gray_rgb.transpose(2, 0, 1)[None].astype(np.float32)})[0][0]  # type: ignore[attr-defined]
    ab = cv2.resize(ab.transpose(1, 2, 0), (width, height), interpolation=cv2.INTER_NEAREST)
    out = cv2.cvtColor(np.concatenate([orig_l, ab], -1), cv2.COLOR_LAB2RGB)
    return (out * 255.0).round().astype(np.uint8)


class ConstantSession:
    """Stands in for the model to time the steps around it alone: answers a fixed ab map at once."""

    def __init__(self) -> None:
        self.ab = np.full((1, 2, SIDE, SIDE), 12.0, np.float32)

    def run(self, names: object, feeds: object) -> list[np.ndarray]:
        return [self.ab]


def timed(fn: Callable[[], object]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process, all threads) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def measure(sides: dict[str, Callable[[], object]], rounds: int) -> dict[str, list[tuple[float, float]]]:
    for fn in sides.values():  # warm-up: first runs allocate onnxruntime's arenas
        fn()
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in sides}
    for _ in range(rounds):  # alternate, so drifting load on a shared machine hits all sides alike
        for name, fn in sides.items():
            samples[name].append(timed(fn))
    return samples


def med(values: list[tuple[float, float]], which: int) -> float:
    return statistics.median(v[which] for v in values)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--model", type=Path, default=Path("/tmp/ddcolor-tiny-random.onnx"))
    parser.add_argument("--reuse", action="store_true", help="use --model as it is if it exists (skip the export)")
    args = parser.parse_args()

    import onnxruntime as ort

    from easel.engines.base import EngineRequest, EngineTask, NullContext
    from easel.engines.colorize.ddcolor_onnx import DdcolorOnnx, _usable_cpus
    from easel.engines.config import BackendConfig

    started = time.perf_counter()
    params = None if args.reuse and args.model.is_file() else build_model(args.model)
    export_s = time.perf_counter() - started
    size_mb = args.model.stat().st_size / 1e6
    config = BackendConfig(backend="ddcolor-onnx", weights=str(args.model))
    backend = DdcolorOnnx(config)
    assert backend.check() is None, backend.check()
    started = time.perf_counter()
    backend.load()
    load_s = time.perf_counter() - started
    steps_only = DdcolorOnnx(config)
    steps_only.load()
    steps_only._session = ConstantSession()  # type: ignore[assignment]
    options = ort.SessionOptions()
    options.intra_op_num_threads = _usable_cpus()
    options.inter_op_num_threads = 1
    bare = ort.InferenceSession(str(args.model), options, providers=["CPUExecutionProvider"])
    ready = np.random.default_rng(0).random((1, 3, SIDE, SIDE), dtype=np.float32)

    rows = []
    for side in (512, 2048):
        rgb = grey_photo(side)
        request = EngineRequest(image=Image.fromarray(rgb))
        full = measure({
            "easel": lambda r=request: backend.run(EngineTask.COLORIZE, r, NullContext()),
            "bare": lambda: bare.run(None, {"input": ready}),
            "script": lambda x=rgb: script_steps(bare, x),
        }, args.rounds)
        steps = measure({
            "easel": lambda r=request: steps_only.run(EngineTask.COLORIZE, r, NullContext()),
            "script": lambda x=rgb: script_steps(ConstantSession(), x),
        }, 4 * args.rounds)
        (out,) = backend.run(EngineTask.COLORIZE, request, NullContext())
        assert out.size == (side, side)
        rows.append((side, full, steps))
        print(side, {k: (round(med(v, 0), 3), round(med(v, 1), 3)) for k, v in full.items()}, flush=True)

    what = (f"{params / 1e6:.1f} M parameters, " if params else "") + f"{size_mb:.0f} MB ONNX"
    lines = [
        "# Colorize bench (ddcolor-onnx)",
        "",
        f"Machine: {platform.machine()}, {_usable_cpus()} usable CPUs (os.cpu_count() = {os.cpu_count()}), "
        f"load average at the end {os.getloadavg()[0]:.1f}; onnxruntime {ort.__version__} CPUExecutionProvider, "
        f"intra-op threads = {_usable_cpus()} on every side.",
        f"Model: random-weight DDColor-tiny architecture ({what}, opset 17, fixed 1x3x{SIDE}x{SIDE} input)"
        + (f", exported in {export_s:.0f} s" if params else "") + f"; Easel's session loads in {load_s:.1f} s. "
        f"Input: scikit-image `camera` (grey) resized to each size. {args.rounds} alternating rounds after one "
        "warm-up; medians per image. CPU = this process's CPU seconds over all threads (steadier than wall time "
        "when other work shares the machine).",
        "",
        "Whole image (model included):",
        "",
        "| input | Easel wall / CPU s | bare session.run wall / CPU s | DDColor notebook steps wall / CPU s | "
        "Easel / bare (CPU) | Easel / notebook (CPU) |",
        "|---|---|---|---|---|---|",
    ]
    for side, full, _ in rows:
        e, b, n = full["easel"], full["bare"], full["script"]
        lines.append(f"| {side}x{side} | {med(e, 0):.2f} / {med(e, 1):.2f} | {med(b, 0):.2f} / {med(b, 1):.2f} | "
                     f"{med(n, 0):.2f} / {med(n, 1):.2f} | {med(e, 1) / med(b, 1):.2f} | {med(e, 1) / med(n, 1):.2f} |")
    lines += ["", f"The steps around the model alone (the model replaced by a constant answer; {4 * args.rounds} "
              "rounds):", "", "| input | Easel wall / CPU ms | DDColor notebook wall / CPU ms |", "|---|---|---|"]
    for side, _, steps in rows:
        e, n = steps["easel"], steps["script"]
        lines.append(f"| {side}x{side} | {1e3 * med(e, 0):.0f} / {1e3 * med(e, 1):.0f} | "
                     f"{1e3 * med(n, 0):.0f} / {1e3 * med(n, 1):.0f} |")
    lines += ["", "Raw samples of the whole image (wall s):", ""]
    for side, full, _ in rows:
        lines.append(f"- {side}: " + "; ".join(f"{k} {', '.join(f'{w:.2f}' for w, _ in vs)}"
                                               for k, vs in full.items()))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n")
    print(RESULTS.read_text())


if __name__ == "__main__":
    main()
