"""convcalc layer values from the settings frameworks give, shared by every reader."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from convcalc.arith import span
from convcalc.importers.graph import Unsupported
from convcalc.layers import KINDS
from convcalc.layers.base import Layer

# The least value of each kind of field, as the spec language reads it (layers/fields.py):
# a file's settings reach the dataclass directly, so they are held to the same bounds here.
_LEAST = {"int": 1, "Ints": 1, "Offsets": 0, "Index": 0}


def make(kind: str, **fields: Any) -> Layer:
    """A layer of a registry kind (fields as the kind's dataclass takes them); a value the
    spec language would refuse (a stride of 0, a negative pad, an infinite slope) is
    ``Unsupported``, so the reader names the node instead of dividing by zero later."""
    cls: type[Any] = KINDS[kind]  # every registry kind is a dataclass
    annotations = {f.name: str(f.type) for f in dataclasses.fields(cls)}
    for name, value in fields.items():
        if not _in_range(annotations[name].removesuffix(" | None"), value):
            raise Unsupported(f"{kind} {name} {value!r} is out of range (sizes are whole "
                              "numbers of at least 1, pads and offsets of at least 0, numbers "
                              "finite)")
    made: Layer = cls(**fields)
    return made


def _in_range(annotation: str, value: Any) -> bool:
    if value is None or isinstance(value, str):
        return True
    if annotation == "float":
        return not isinstance(value, bool) and math.isfinite(value)
    if annotation == "Pads":
        return all(_whole(p, 0) for pair in value for p in pair)
    least = _LEAST.get(annotation)
    values = value if isinstance(value, tuple) else (value,)
    return least is None or all(_whole(v, least) for v in values)


def _whole(value: Any, least: int) -> bool:
    """An integer (not a bool or a float, which a JSON file may hold) of at least ``least``."""
    return type(value) is int and value >= least


def uniform(values: tuple[int, ...]) -> tuple[int, ...]:
    """``(3, 3)`` as ``(3,)``: convcalc broadcasts one size to every axis."""
    return values[:1] if len(set(values)) == 1 else values


def pads(pairs: tuple[tuple[int, int], ...]) -> tuple[tuple[int, int], ...]:
    """Per-axis (before, after) pads, as one pair when every axis has the same."""
    return pairs[:1] if len(set(pairs)) == 1 else pairs


def same_pads(sizes: tuple[int, ...], k: tuple[int, ...], stride: tuple[int, ...],
              dilation: tuple[int, ...], extra_before: bool) -> tuple[tuple[int, int], ...]:
    """'same' padding: the output is ceil(i/s); an odd total's extra pixel goes after
    (TensorFlow, ONNX SAME_UPPER, torch's padding='same') or before (ONNX SAME_LOWER)."""
    pairs = []
    for i, kk, s, d in zip(sizes, k, stride, dilation, strict=True):
        total = max((-(-i // s) - 1) * s + span(kk, d) - i, 0)
        small, large = total // 2, total - total // 2
        pairs.append((large, small) if extra_before else (small, large))
    return tuple(pairs)


def conv(in_channels: int, filters: int, k: tuple[int, ...], stride: tuple[int, ...],
         pairs: tuple[tuple[int, int], ...], dilation: tuple[int, ...], groups: int,
         bias: bool) -> tuple[str, Layer]:
    """A convolution; ``depthwise`` when every input channel has its own filters."""
    common = {"k": uniform(k), "stride": uniform(stride), "pad": pads(pairs),
              "dilation": uniform(dilation), "bias": bias}
    if groups == in_channels > 1 and filters % in_channels == 0:
        return "depthwise", make("depthwise", multiplier=filters // in_channels, **common)
    return "conv", make("conv", filters=filters, groups=groups, **common)


def pool(kind: str, k: tuple[int, ...], stride: tuple[int, ...],
         pairs: tuple[tuple[int, int], ...], ceil: bool,
         dilation: tuple[int, ...] = (1,)) -> Layer:
    """A max or average pooling; the stride is written only when it is not the kernel."""
    fields: dict[str, Any] = {"k": uniform(k), "pad": pads(pairs), "ceil": ceil}
    if uniform(stride) != uniform(k):
        fields["stride"] = uniform(stride)
    if kind == "maxpool":
        fields["dilation"] = uniform(dilation)
    return make(kind, **fields)


def upsample_mode(mode: str, ndim: int) -> str:
    """An interpolation mode in convcalc's words (``linear`` on 2 axes is bilinear)."""
    if mode in ("linear", "bilinear", "trilinear"):
        return {1: "linear", 2: "bilinear", 3: "trilinear"}.get(ndim, mode)
    return {"cubic": "bicubic"}.get(mode, mode)
