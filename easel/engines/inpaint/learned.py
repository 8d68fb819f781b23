"""Learned inpainting through a user-supplied ONNX file (LaMa or MI-GAN); no weights ship with Easel.

Supported signatures (read from the session; batch must be 1 or dynamic):

* **LaMa** - two float32 inputs, one with 3 channels (the image, 1x3xHxW, RGB in [0, 1]) and one
  with 1 channel (the mask, 1x1xHxW, 1 = hole). Inputs are told apart by channel count, or by a
  name containing "mask" when the channel dimension is dynamic. The hole is blanked in the image
  before the call. The first output is 1x3xHxW RGB in [0, 1] or in [0, 255], told apart per call
  by its range (a maximum above 1.5 means [0, 255]).
* **MI-GAN generator** - one float32 input 1x4xHxW: concat(known - 0.5, image * known) with the
  image in [-1, 1] and known = 1 outside the hole; output 1x3xHxW in [-1, 1].
* **MI-GAN pipeline** (the repository's `create_onnx_pipeline.py` export) - two uint8 inputs,
  image 1x3xHxW in [0, 255] and mask 1x1xHxW with 255 = known; output 1x3xHxW uint8.

A model with fixed spatial dimensions gets each crop resized to them; a dynamic one gets the crop
at its own size (downscaled past `MAX_DYNAMIC_SIDE`, padded to a multiple of 8). Each group of
nearby holes is run on its own square-ish crop with context around it, and only hole pixels are
pasted back, so every pixel outside the hole is exactly the input's. Anything else raises
ValueError when the model is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from easel.engines.inpaint.regions import hole_crops, validated

if TYPE_CHECKING:
    import onnxruntime as ort
    from onnxruntime import NodeArg

# Holes closer than this share one model run.
_GROUP_MARGIN = 48
# Context around a hole group: at least this many pixels, and at least half the group's size.
_MIN_CONTEXT = 32
# Dynamic-size models run at most at this side length (CPU time grows with the area).
MAX_DYNAMIC_SIDE = 1024
# Spatial sizes of dynamic models are padded to a multiple of this (LaMa downsamples 3 times).
_SIZE_MULTIPLE = 8
# LaMa outputs whose maximum exceeds this are read as [0, 255], others as [0, 1].
_UNIT_RANGE_LIMIT = 1.5

_SUPPORTED = (
    "supported ONNX inpainting signatures: LaMa (float32 image 1x3xHxW in [0,1] + float32 mask "
    "1x1xHxW, 1 = hole -> 1x3xHxW), MI-GAN generator (one float32 input 1x4xHxW -> 1x3xHxW in "
    "[-1,1]), MI-GAN pipeline (uint8 image 1x3xHxW + uint8 mask 1x1xHxW, 255 = known -> uint8 1x3xHxW)"
)


class _Kind(Enum):
    LAMA = "lama"
    MIGAN = "migan"
    MIGAN_PIPELINE = "migan-pipeline"


@dataclass(frozen=True)
class _Signature:
    kind: _Kind
    image_input: str
    mask_input: str | None
    output: str
    size: tuple[int, int] | None  # fixed (height, width), or None for a dynamic model


class OnnxInpainter:
    """A LaMa or MI-GAN ONNX model on CPU; one session, safe to call from several threads."""

    def __init__(self, model_path: str | Path, threads: int | None = None) -> None:
        import onnxruntime as ort

        path = Path(model_path)
        if not path.is_file():
            raise ValueError(f"inpainting model not found: {path}")
        options = ort.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        try:
            self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types for unreadable files
            raise ValueError(f"cannot load ONNX model {path}: {exc}") from exc
        self._signature = _signature(self._session)

    @property
    def kind(self) -> str:
        """Which supported signature the model has: "lama", "migan" or "migan-pipeline"."""
        return self._signature.kind.value

    def inpaint(self, rgb: np.ndarray, hole: np.ndarray) -> np.ndarray:
        """Fill the hole (nonzero = fill) of an HxWx3 uint8 RGB image; outside pixels stay exact."""
        image, mask = validated(rgb, hole)
        out = image.copy()
        if not mask.any():
            return out
        for group, own in hole_crops(mask, _GROUP_MARGIN):
            ys, xs = np.nonzero(own)
            ys, xs = ys + group[0], xs + group[2]  # the owned hole pixels in image coordinates
            y0, y1, x0, x1 = _context_box(ys, xs, mask.shape)
            filled = self._run(image[y0:y1, x0:x1], mask[y0:y1, x0:x1])
            out[ys, xs] = filled[ys - y0, xs - x0]
        return out

    def _run(self, crop: np.ndarray, crop_hole: np.ndarray) -> np.ndarray:
        """The model's fill of a crop, at the crop's size (uint8 HxWx3)."""
        sig = self._signature
        h, w = crop_hole.shape
        size = sig.size or _dynamic_size(h, w, sig.kind)
        image = _resize(crop, size)
        hole = _resize_mask(crop_hole, size)
        if sig.kind is _Kind.LAMA:
            result = self._run_lama(image, hole)
        elif sig.kind is _Kind.MIGAN:
            result = self._run_migan(image, hole)
        else:
            result = self._run_migan_pipeline(image, hole)
        return _resize(result, (h, w))

    def _run_lama(self, image: np.ndarray, hole: np.ndarray) -> np.ndarray:
        sig = self._signature
        known = (~hole).astype(np.float32)
        pixels = image.astype(np.float32) / 255.0 * known[..., None]
        feeds = {sig.image_input: _nchw(pixels), sig.mask_input: _nchw(1.0 - known[..., None])}
        raw = _hwc(self._output(feeds))
        # [0, 1] models may overshoot a little; a [0, 255] model stays under 1.5 only on a black crop,
        # where both readings give black.
        scale = 1.0 if raw.max() > _UNIT_RANGE_LIMIT else 255.0
        return _to_uint8(raw * scale)

    def _run_migan(self, image: np.ndarray, hole: np.ndarray) -> np.ndarray:
        known = (~hole).astype(np.float32)[..., None]
        pixels = image.astype(np.float32) / 127.5 - 1.0
        x = np.concatenate([known - 0.5, pixels * known], axis=2)
        raw = _hwc(self._output({self._signature.image_input: _nchw(x)}))
        return _to_uint8((raw + 1.0) * 127.5)

    def _run_migan_pipeline(self, image: np.ndarray, hole: np.ndarray) -> np.ndarray:
        sig = self._signature
        known = np.where(hole, 0, 255).astype(np.uint8)[..., None]
        feeds = {sig.image_input: _nchw(image), sig.mask_input: _nchw(known)}
        return _to_uint8(_hwc(self._output(feeds)))

    def _output(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        (result,) = self._session.run([self._signature.output], feeds)
        expected = next(iter(feeds.values())).shape[2:]
        if result.ndim != 4 or result.shape[0] != 1 or result.shape[1] != 3 or result.shape[2:] != expected:
            raise ValueError(f"model output has shape {result.shape}, expected (1, 3, {expected[0]}, {expected[1]})")
        return result


def _signature(session: ort.InferenceSession) -> _Signature:
    inputs = session.get_inputs()
    outputs = session.get_outputs()
    if not outputs or not _is_image_tensor(outputs[0].shape, 3):
        raise ValueError(f"unsupported model: the first output must be 1x3xHxW; {_SUPPORTED}")
    output = outputs[0].name
    if len(inputs) == 1 and inputs[0].type == "tensor(float)" and _is_image_tensor(inputs[0].shape, 4):
        return _Signature(_Kind.MIGAN, inputs[0].name, None, output, _fixed_size(inputs[0].shape))
    if len(inputs) == 2:
        image, mask = _image_and_mask(inputs)
        if image is not None and mask is not None:
            types = {image.type, mask.type}
            size = _fixed_size(image.shape)
            if types == {"tensor(float)"}:
                return _Signature(_Kind.LAMA, image.name, mask.name, output, size)
            if types == {"tensor(uint8)"}:
                return _Signature(_Kind.MIGAN_PIPELINE, image.name, mask.name, output, size)
    described = ", ".join(f"{i.name}: {i.type} {i.shape}" for i in inputs)
    raise ValueError(f"unsupported model inputs ({described}); {_SUPPORTED}")


def _image_and_mask(inputs: list[NodeArg]) -> tuple[NodeArg | None, NodeArg | None]:
    by_channels = {i.shape[1]: i for i in inputs if len(i.shape) == 4 and isinstance(i.shape[1], int)}
    if set(by_channels) == {1, 3}:
        image, mask = by_channels[3], by_channels[1]
    else:
        named = [i for i in inputs if "mask" in i.name.lower()]
        if len(named) != 1:
            return None, None
        mask = named[0]
        image = next(i for i in inputs if i is not mask)
    if not (_is_image_tensor(image.shape, 3) and _is_image_tensor(mask.shape, 1)):
        return None, None
    return image, mask


def _is_image_tensor(shape: list, channels: int) -> bool:
    """Rank 4, batch 1 or dynamic, the given channel count or dynamic."""
    if len(shape) != 4:
        return False
    batch, chans = shape[0], shape[1]
    return (not isinstance(batch, int) or batch == 1) and (not isinstance(chans, int) or chans == channels)


def _fixed_size(shape: list) -> tuple[int, int] | None:
    h, w = shape[2], shape[3]
    if isinstance(h, int) and isinstance(w, int) and h > 0 and w > 0:
        return h, w
    return None


def _dynamic_size(h: int, w: int, kind: _Kind) -> tuple[int, int]:
    scale = min(1.0, MAX_DYNAMIC_SIDE / max(h, w))
    sh, sw = max(1, round(h * scale)), max(1, round(w * scale))
    if kind is _Kind.MIGAN_PIPELINE:  # it resizes internally and takes any size
        return sh, sw
    return -(-sh // _SIZE_MULTIPLE) * _SIZE_MULTIPLE, -(-sw // _SIZE_MULTIPLE) * _SIZE_MULTIPLE


def _context_box(ys: np.ndarray, xs: np.ndarray, shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """A box around the given hole pixels with context, grown towards a square, inside the image."""
    y0, y1 = int(ys.min()), int(ys.max()) + 1
    x0, x1 = int(xs.min()), int(xs.max()) + 1
    context = max(_MIN_CONTEXT, max(y1 - y0, x1 - x0) // 2)
    side = max(y1 - y0, x1 - x0) + 2 * context
    return (*_span(y0, y1, side, shape[0]), *_span(x0, x1, side, shape[1]))


def _span(lo: int, hi: int, length: int, limit: int) -> tuple[int, int]:
    """An interval of `length` (at most `limit`) centred on [lo, hi), shifted to fit in [0, limit)."""
    length = min(length, limit)
    start = max(0, min((lo + hi - length) // 2, limit - length))
    return start, start + length


def _resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    h, w = size
    if image.shape[:2] == (h, w):
        return image
    shrinking = h * w < image.shape[0] * image.shape[1]
    return cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC)


def _resize_mask(hole: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resized hole; a pixel touched by the hole at all stays a hole, so thin strokes survive."""
    h, w = size
    if hole.shape == (h, w):
        return hole
    coverage = cv2.resize(hole.astype(np.float32), (w, h), interpolation=cv2.INTER_AREA)
    return coverage > 1e-3


def _nchw(hwc: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(hwc.transpose(2, 0, 1)[None])


def _hwc(nchw: np.ndarray) -> np.ndarray:
    return nchw[0].transpose(1, 2, 0).astype(np.float32)


def _to_uint8(values: np.ndarray) -> np.ndarray:
    return np.clip(values + 0.5, 0, 255).astype(np.uint8)
