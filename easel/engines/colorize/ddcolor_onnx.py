"""colorize with a user-supplied DDColor ONNX file (piddnad/DDColor, scripts/export_onnx.py); no weights ship.

    [colorize]
    backend = "ddcolor-onnx"
    weights = "/models/ddcolor.onnx"
    device = "cpu"        # or "cuda" / "cuda:N" (needs onnxruntime-gpu)
    extra = { threads = 4 }   # optional: CPU threads per image (default: every CPU this process may use)

The steps are DDColor's own inference (ddcolor/pipeline.py): the image's L channel (CIE Lab) alone,
made into a grey RGB image (Lab (L, 0, 0) -> RGB) at the model's input size, goes in as float32 NCHW in
[0, 1]; the model predicts the a and b channels at that size; they are resized to the full resolution
and joined with the input's own full-resolution L. So the result keeps every detail and the lightness of
the input, and only the colour comes from the model. Two small departures from DDColor's script: the L
channel is shrunk with area averaging (less aliasing than bilinear), and ab is enlarged bilinearly
(DDColor's F.interpolate default is nearest, which leaves visible colour blocks on large photos).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import cv2
import numpy as np
from PIL import Image

from easel.engines.base import Backend, EngineContext, EngineRequest, EngineTask
from easel.engines.config import BackendConfig, weights_path
from easel.engines.onnx_signature import NotOnnx, Signature, TensorInfo, read_signature
from easel.errors import EngineUnavailable

if TYPE_CHECKING:
    import onnxruntime as ort

# What DDColor's export script writes with --input_size 0 (dynamic): the size it was trained at.
DEFAULT_INPUT_SIDE = 512
EXPECTED = ("a DDColor ONNX export: one float32 input 1x3xHxW (grey RGB in [0, 1]) and one float32 output "
            "1x2xHxW (the Lab a and b channels)")


class DdcolorOnnx(Backend):
    name = "ddcolor-onnx"
    tasks: ClassVar[frozenset[EngineTask]] = frozenset({EngineTask.COLORIZE})

    def __init__(self, config: BackendConfig, models_dir: Path | None = None) -> None:
        super().__init__(config, models_dir)
        self._session: ort.InferenceSession | None = None
        self._input: TensorInfo | None = None
        self._load_lock = threading.Lock()

    @property
    def path(self) -> Path | None:
        return weights_path(self.config.weights, self.models_dir) if self.config.weights else None

    # --- configuration ---------------------------------------------------------------------------------

    def check(self) -> str | None:
        if self.path is None:
            return 'ddcolor-onnx needs weights = "/path/to/ddcolor.onnx" (a DDColor ONNX export) in [colorize]'
        if not self.path.is_file():
            return f"the DDColor model {self.path} does not exist (weights must name the .onnx file)"
        try:
            signature = read_signature(self.path)
        except NotOnnx as exc:
            return f"{self.path} is not an ONNX model ({exc}); expected {EXPECTED}"
        except OSError as exc:
            return f"the DDColor model {self.path} cannot be read: {exc.strerror or exc}"
        problem = _signature_problem(signature)
        if problem:
            return f"{self.path} is not a DDColor model: {problem}; expected {EXPECTED}"
        return self._device_problem()

    def _device_problem(self) -> str | None:
        device = self.config.device
        if device == "cpu":
            return None
        if not device.startswith("cuda"):
            return f'ddcolor-onnx runs on device = "cpu" or "cuda", not {device!r}'
        import onnxruntime as ort

        available = ort.get_available_providers()
        if "CUDAExecutionProvider" not in available:
            return (f'device = "{device}" needs onnxruntime with the CUDAExecutionProvider (install onnxruntime-gpu '
                    f'instead of onnxruntime); this one has {", ".join(available)}')
        return None

    @property
    def input_size(self) -> tuple[int, int]:
        """(width, height) the model takes: its fixed input size, or DDColor's 512 for dynamic exports."""
        assert self._input is not None and self._input.shape is not None
        height, width = self._input.shape[2], self._input.shape[3]
        return (width if isinstance(width, int) else DEFAULT_INPUT_SIDE,
                height if isinstance(height, int) else DEFAULT_INPUT_SIDE)

    # --- loading ---------------------------------------------------------------------------------------

    def load(self) -> None:
        with self._load_lock:
            if self._session is None:
                self._session = self._new_session()

    def _new_session(self) -> ort.InferenceSession:
        import onnxruntime as ort

        problem = self.check()
        if problem:
            raise EngineUnavailable(problem + ".")
        assert self.path is not None
        options = ort.SessionOptions()
        options.intra_op_num_threads = int(self.config.extra.get("threads") or _usable_cpus())
        options.inter_op_num_threads = 1
        try:
            session = ort.InferenceSession(str(self.path), options, providers=self._providers())
        except Exception as exc:  # onnxruntime raises its own types for files it cannot build a graph from
            detail = " ".join(str(exc).split())[:300]
            raise EngineUnavailable(f"onnxruntime cannot load the DDColor model {self.path}: {detail}.") from None
        self._input = read_signature(self.path).inputs[0]
        return session

    def _providers(self) -> list[Any]:
        device = self.config.device
        if device.startswith("cuda"):
            device_id = int(device.partition(":")[2] or 0)
            return [("CUDAExecutionProvider", {"device_id": device_id}), "CPUExecutionProvider"]
        return ["CPUExecutionProvider"]

    def unload(self) -> None:
        with self._load_lock:
            self._session = None

    def memory_bytes(self) -> int:
        return self.path.stat().st_size if self.path and self.path.is_file() else 0

    # --- running ---------------------------------------------------------------------------------------

    def run(self, task: EngineTask, request: EngineRequest, ctx: EngineContext) -> list[Image.Image]:
        """Deterministic: the n images are one image, and `seed` and `prompt` change nothing."""
        self.load()
        ctx.progress(0, 1)
        result = Image.fromarray(self.colorize(np.asarray(request.image.convert("RGB"))))
        ctx.progress(1, 1)
        if request.size and request.size != result.size:
            result = result.resize(request.size, Image.Resampling.LANCZOS)
        return [result] * request.n

    def colorize(self, rgb: np.ndarray) -> np.ndarray:
        """HxWx3 uint8 RGB -> HxWx3 uint8 RGB with the input's lightness and the model's colours."""
        session, inp = self._session, self._input
        assert session is not None and inp is not None
        height, width = rgb.shape[:2]
        lightness = cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)[:, :, 0]
        ab = session.run(None, {inp.name: _grey_input(lightness, self.input_size)})[0][0]
        ab_full = cv2.resize(ab.transpose(1, 2, 0), (width, height), interpolation=cv2.INTER_LINEAR)
        lab = np.dstack([lightness, ab_full]).astype(np.float32)
        out = cv2.cvtColor(lab, cv2.COLOR_Lab2RGB)
        return (np.clip(out, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)

    def describe(self) -> str:
        return f"DDColor ONNX model {self.path} (onnxruntime, {self.config.device})"


def _grey_input(lightness: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The model's input: the L channel at `size` (width, height) as a grey RGB image, 1x3xHxW float32."""
    height, width = lightness.shape
    shrinking = size[0] * size[1] < width * height
    small = cv2.resize(lightness, size, interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
    grey_lab = np.dstack([small, np.zeros_like(small), np.zeros_like(small)]).astype(np.float32)
    grey_rgb = cv2.cvtColor(grey_lab, cv2.COLOR_Lab2RGB)
    return np.ascontiguousarray(grey_rgb.transpose(2, 0, 1)[None], dtype=np.float32)


def _signature_problem(signature: Signature) -> str | None:
    if len(signature.inputs) != 1:
        found = ", ".join(i.describe() for i in signature.inputs) or "none"
        return f"it has {len(signature.inputs)} inputs ({found})"
    if len(signature.outputs) != 1:
        found = ", ".join(o.describe() for o in signature.outputs) or "none"
        return f"it has {len(signature.outputs)} outputs ({found})"
    for what, tensor, channels in (("input", signature.inputs[0], 3), ("output", signature.outputs[0], 2)):
        shape = tensor.shape
        if tensor.elem_type != "float32" or shape is None or len(shape) != 4 or shape[1] != channels:
            return f"its {what} is {tensor.describe()}, not float32 Nx{channels}xHxW"
        if isinstance(shape[0], int) and shape[0] != 1:
            return f"its {what} has a fixed batch of {shape[0]}, not 1"
    return None


def _usable_cpus() -> int:
    # the CPUs this process may run on (taskset, container cpusets), not every CPU of the host
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
