"""The inputs and outputs of an ONNX file, read from its protobuf header without reading its weights.

`check()` runs in every API process at start-up, and an ONNX model can be a gigabyte: `onnx.load` would
parse every initializer and an onnxruntime session would build the whole graph. Protobuf's wire format
lets us seek past each field we do not need, so only the graph's input and output records are read.
Field numbers are those of onnx.proto (ModelProto, GraphProto, ValueInfoProto, TypeProto, TensorShapeProto).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

# ModelProto
_IR_VERSION, _GRAPH = 1, 7
# GraphProto
_INITIALIZER, _INPUT, _OUTPUT = 5, 11, 12
# ValueInfoProto / TypeProto / TypeProto.Tensor / TensorShapeProto / Dimension / TensorProto
_NAME, _TYPE = 1, 2
_TENSOR_TYPE = 1
_ELEM_TYPE, _SHAPE = 1, 2
_DIM = 1
_DIM_VALUE, _DIM_PARAM = 1, 2
_TENSOR_NAME = 8

ELEM_TYPES = {1: "float32", 2: "uint8", 3: "int8", 6: "int32", 7: "int64", 9: "bool", 10: "float16", 11: "float64",
              16: "bfloat16"}

_VARINT, _FIXED64, _BYTES, _FIXED32 = 0, 1, 2, 5


class NotOnnx(ValueError):
    """The file is not a readable ONNX model."""


@dataclass(frozen=True)
class TensorInfo:
    name: str
    elem_type: str  # "float32", … ("unknown" for types the model does not declare)
    shape: tuple[int | str, ...] | None  # ints are fixed sizes, strings named dynamic ones; None: no shape

    def describe(self) -> str:
        dims = "x".join(str(d) for d in self.shape) if self.shape is not None else "?"
        return f"{self.name} ({self.elem_type} {dims})"


@dataclass(frozen=True)
class Signature:
    inputs: list[TensorInfo]  # the graph's inputs that are not initializers (weights)
    outputs: list[TensorInfo]


def read_signature(path: Path) -> Signature:
    """The model's inputs and outputs; NotOnnx when the file is not an ONNX model."""
    with path.open("rb") as f:
        size = f.seek(0, 2)
        graph: tuple[int, int] | None = None
        has_ir_version = False
        for field, wire, value in _fields(f, 0, size):
            if field == _IR_VERSION and wire == _VARINT:
                has_ir_version = True
            elif field == _GRAPH and wire == _BYTES:
                graph = value  # type: ignore[assignment]
        if not has_ir_version or graph is None:
            raise NotOnnx("it has no ONNX model header (ir_version and graph)")
        return _graph_signature(f, graph)


def _graph_signature(f: BinaryIO, span: tuple[int, int]) -> Signature:
    start, length = span
    inputs: list[TensorInfo] = []
    outputs: list[TensorInfo] = []
    weights: set[str] = set()
    for field, wire, value in _fields(f, start, start + length):
        if wire != _BYTES:
            continue
        if field == _INPUT:
            inputs.append(_value_info(_read(f, value)))
        elif field == _OUTPUT:
            outputs.append(_value_info(_read(f, value)))
        elif field == _INITIALIZER:
            weights.add(_initializer_name(f, value))
    # before IR version 4 the weights were listed among the inputs too
    return Signature([i for i in inputs if i.name not in weights], outputs)


def _initializer_name(f: BinaryIO, span: tuple[int, int]) -> str:
    start, length = span
    for field, wire, value in _fields(f, start, start + length):
        if field == _TENSOR_NAME and wire == _BYTES:
            return _read(f, value).decode("utf-8", "replace")
    return ""


def _value_info(data: bytes) -> TensorInfo:
    name, elem_type, shape = "", "unknown", None
    for field, wire, value in _fields_in(data):
        if field == _NAME and wire == _BYTES:
            name = _slice(data, value).decode("utf-8", "replace")
        elif field == _TYPE and wire == _BYTES:
            elem_type, shape = _type(_slice(data, value))
    return TensorInfo(name, elem_type, shape)


def _type(data: bytes) -> tuple[str, tuple[int | str, ...] | None]:
    elem_type, shape = "not a tensor", None
    for field, wire, value in _fields_in(data):
        if field != _TENSOR_TYPE or wire != _BYTES:
            continue
        tensor = _slice(data, value)
        elem_type = "unknown"
        for t_field, t_wire, t_value in _fields_in(tensor):
            if t_field == _ELEM_TYPE and t_wire == _VARINT:
                elem_type = ELEM_TYPES.get(t_value, f"type {t_value}")  # type: ignore[call-overload]
            elif t_field == _SHAPE and t_wire == _BYTES:
                shape = _shape(_slice(tensor, t_value))
    return elem_type, shape


def _shape(data: bytes) -> tuple[int | str, ...]:
    return tuple(_dim(_slice(data, value)) for field, wire, value in _fields_in(data)
                 if field == _DIM and wire == _BYTES)


def _dim(data: bytes) -> int | str:
    for field, wire, value in _fields_in(data):
        if field == _DIM_VALUE and wire == _VARINT:
            return int(value)  # type: ignore[arg-type]
        if field == _DIM_PARAM and wire == _BYTES:
            return _slice(data, value).decode("utf-8", "replace") or "?"
    return "?"


# --- the wire format ---------------------------------------------------------------------------------

Value = int | tuple[int, int]  # a varint, or (offset, length) of a length-delimited field


def _fields(f: BinaryIO, start: int, end: int) -> Iterator[tuple[int, int, Value]]:
    """(field number, wire type, value) of each field of the message in f[start:end], seeking past payloads."""
    pos = start
    while pos < end:
        f.seek(pos)
        key, pos = _file_varint(f, pos, end)
        field, wire = key >> 3, key & 7
        if field == 0:
            raise NotOnnx("its bytes are not a protobuf message")
        if wire == _VARINT:
            value, pos = _file_varint(f, pos, end)
            yield field, wire, value
        elif wire == _BYTES:
            length, pos = _file_varint(f, pos, end)
            if pos + length > end:
                raise NotOnnx("it ends in the middle of a record (truncated, or not protobuf)")
            yield field, wire, (pos, length)
            pos += length
        elif wire in (_FIXED64, _FIXED32):
            pos += 8 if wire == _FIXED64 else 4
        else:
            raise NotOnnx("its bytes are not a protobuf message")
    if pos != end:
        raise NotOnnx("it ends in the middle of a record (truncated, or not protobuf)")


def _file_varint(f: BinaryIO, pos: int, end: int) -> tuple[int, int]:
    result = shift = 0
    while pos < end and shift < 64:
        byte = f.read(1)
        if not byte:
            break
        pos += 1
        result |= (byte[0] & 0x7F) << shift
        if not byte[0] & 0x80:
            return result, pos
        shift += 7
    raise NotOnnx("its bytes are not a protobuf message")


def _read(f: BinaryIO, span: Value) -> bytes:
    start, length = span  # type: ignore[misc]
    f.seek(start)
    return f.read(length)


def _fields_in(data: bytes) -> Iterator[tuple[int, int, Value]]:
    """The same walk over a small message already in memory."""
    return _fields(io.BytesIO(data), 0, len(data))


def _slice(data: bytes, span: Value) -> bytes:
    start, length = span  # type: ignore[misc]
    return data[start : start + length]
