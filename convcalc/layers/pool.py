"""Pooling: max and average windows (with ceil mode), global and adaptive pooling."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from convcalc.arith import Window
from convcalc.layers.base import (
    Effect,
    Formula,
    Ints,
    Pads,
    RFStep,
    activation_formula,
    need_spatial,
    per_axis,
    ratio,
    rf_steps,
    slide,
    window_formulas,
)
from convcalc.shape import Shape


def _windows(x: Shape, k: Ints, stride: Ints | None, pad: Pads | None, dilation: Ints,
             ceil: bool | None) -> tuple[Window, ...]:
    """The windows under PyTorch's arithmetic; an unset pad or ceil is PyTorch's default.

    The rule set in force (convcalc.rules) first settles what an unset key means in its
    framework: Caffe rounds up, Darknet's max pooling pads k − 1 in total.
    """
    need_spatial(x, "pooling")
    return slide(x, k, k if stride is None else stride, ((0, 0),) if pad is None else pad,
                 dilation, bool(ceil))


def _effect(x: Shape, windows: tuple[Window, ...]) -> Effect:
    return Effect(Shape(tuple(w.output for w in windows), x.channels), windows=windows,
                  rf=rf_steps(windows))


def _formulas(x: Shape, windows: tuple[Window, ...]) -> tuple[Formula, ...]:
    out = Shape(tuple(w.output for w in windows), x.channels)
    return (*window_formulas(windows), Formula("params", "0 (pooling has no parameters)"),
            activation_formula(out))


@dataclass(frozen=True)
class MaxPool:
    """Max pooling; the stride defaults to the kernel size."""

    count_field: ClassVar[str | None] = None
    kernel_field: ClassVar[str | None] = "k"

    k: Ints = (2,)
    stride: Ints | None = None
    pad: Pads | None = None  # unset: the framework's default (0, or k − 1 in all for Darknet)
    dilation: Ints = (1,)
    ceil: bool | None = None  # unset: the framework's default (floor, or ceil for Caffe)

    def apply(self, x: Shape) -> Effect:
        return _effect(x, _windows(x, self.k, self.stride, self.pad, self.dilation, self.ceil))

    def explain(self, x: Shape) -> tuple[Formula, ...]:
        return _formulas(x, _windows(x, self.k, self.stride, self.pad, self.dilation, self.ceil))


@dataclass(frozen=True)
class AvgPool:
    """Average pooling; the stride defaults to the kernel size."""

    count_field: ClassVar[str | None] = None
    kernel_field: ClassVar[str | None] = "k"

    k: Ints = (2,)
    stride: Ints | None = None
    pad: Pads | None = None  # unset: the framework's default (0)
    ceil: bool | None = None  # unset: the framework's default (floor, or ceil for Caffe)

    def apply(self, x: Shape) -> Effect:
        return _effect(x, _windows(x, self.k, self.stride, self.pad, (1,), self.ceil))

    def explain(self, x: Shape) -> tuple[Formula, ...]:
        return _formulas(x, _windows(x, self.k, self.stride, self.pad, (1,), self.ceil))


def _global(x: Shape, keepdims: bool) -> Effect:
    need_spatial(x, "global pooling")
    out = Shape((1,) * len(x.spatial), x.channels) if keepdims else Shape((), x.channels)
    return Effect(out, rf=tuple(RFStep(i, i, 0) for i in x.spatial))


def _global_formulas(x: Shape, keepdims: bool) -> tuple[Formula, ...]:
    out = _global(x, keepdims).output
    return (Formula("output", f"one value per channel: {x} → {out}"),
            Formula("params", "0 (pooling has no parameters)"), activation_formula(out))


@dataclass(frozen=True)
class GlobalAvgPool:
    """Average over every spatial position; keeps 1x1 axes unless ``keepdims: false``."""

    count_field: ClassVar[str | None] = None
    kernel_field: ClassVar[str | None] = None

    keepdims: bool = True

    def apply(self, x: Shape) -> Effect:
        return _global(x, self.keepdims)

    def explain(self, x: Shape) -> tuple[Formula, ...]:
        return _global_formulas(x, self.keepdims)


class GlobalMaxPool(GlobalAvgPool):
    """Maximum over every spatial position; keeps 1x1 axes unless ``keepdims: false``."""


def widest_cell(size: int, out: int) -> int:
    """The widest of PyTorch's adaptive windows: cell j spans floor(j·i/o) .. ceil((j+1)·i/o).

    Cells differ by at most one, so beyond 10,000 cells the bound ceil(i/o) + 1 stands in
    for the exact maximum (which needs a look at every cell).
    """
    if size % out == 0:
        return size // out
    if out > 10_000:
        return -(-size // out) + 1
    return max(-(-(j + 1) * size // out) - j * size // out for j in range(out))


def _adaptive(x: Shape, out: Ints) -> Effect:
    """PyTorch's adaptive windows: cell j spans floor(j·i/o) to ceil((j + 1)·i/o)."""
    need_spatial(x, "adaptive pooling")
    sizes = per_axis(out, len(x.spatial), "out")
    steps = tuple(RFStep(widest_cell(i, o), ratio(i, o), 0)
                  for i, o in zip(x.spatial, sizes, strict=True))
    return Effect(Shape(sizes, x.channels), rf=steps)


def _adaptive_formulas(x: Shape, out: Ints) -> tuple[Formula, ...]:
    effect = _adaptive(x, out)
    widest = ", ".join(str(step.kernel) for step in effect.rf)
    return (Formula("output", f"the requested size: {x} → {effect.output}"),
            Formula("windows", f"cell j spans floor(j·i/o) .. ceil((j + 1)·i/o); widest {widest}"),
            Formula("params", "0 (pooling has no parameters)"), activation_formula(effect.output))


@dataclass(frozen=True)
class AdaptiveAvgPool:
    """Average pooling to a requested output size (PyTorch's AdaptiveAvgPool)."""

    count_field: ClassVar[str | None] = "out"
    kernel_field: ClassVar[str | None] = None

    out: Ints

    def apply(self, x: Shape) -> Effect:
        return _adaptive(x, self.out)

    def explain(self, x: Shape) -> tuple[Formula, ...]:
        return _adaptive_formulas(x, self.out)


class AdaptiveMaxPool(AdaptiveAvgPool):
    """Max pooling to a requested output size (PyTorch's AdaptiveMaxPool)."""
