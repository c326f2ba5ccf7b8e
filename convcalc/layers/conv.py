"""Convolutions: standard, grouped, depthwise, separable, transposed, locally connected."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from math import prod
from typing import ClassVar

from convcalc.arith import Window, span, transposed_output, transposed_window
from convcalc.layers.base import (
    Act,
    Effect,
    Formula,
    Ints,
    Offsets,
    Pads,
    RFStep,
    activation_formula,
    axis_names,
    divides,
    explicit_pads,
    need_spatial,
    num,
    per_axis,
    product,
    rf_steps,
    slide,
    upsampling_step,
    window_formulas,
)
from convcalc.problem import LayerError
from convcalc.shape import Shape


def _weight_formulas(kernel: tuple[int, ...], per_group: int, filters: int, bias: bool,
                     unshared: int = 1, where: str = "") -> tuple[Formula, ...]:
    """``(5·5·3 + 1)·10 = 760``; ``unshared`` multiplies by output positions (local)."""
    reach = product((*kernel, per_group))
    weights = prod(kernel) * per_group * filters * unshared
    positions = f"{unshared}·" if unshared > 1 else ""
    total = weights + filters * unshared * bias
    text = (f"{positions}({reach} + 1)·{filters} = {num(total)}" if bias
            else f"{positions}{reach}·{filters} = {num(total)}")
    breakdown = f"weights {num(weights)}" + (f" + bias {num(filters * unshared)}" if bias else
                                              ", no bias")
    return (Formula("params" + where, f"{text}  ({breakdown}, all trainable)"),)


@dataclass(frozen=True)
class Conv:
    """Convolution over 1, 2 or 3 spatial axes (the input decides), optionally grouped."""

    count_field: ClassVar[str | None] = "filters"
    kernel_field: ClassVar[str | None] = "k"

    filters: int
    k: Ints
    stride: Ints = (1,)
    pad: Pads = ((0, 0),)
    dilation: Ints = (1,)
    groups: int = 1
    bias: bool = True
    act: Act = None

    def _parts(self, x: Shape) -> tuple[tuple[Window, ...], int]:
        need_spatial(x, "a convolution")
        per_group = divides(x.channels, self.groups, "input channels")
        divides(self.filters, self.groups, "filters")
        return slide(x, self.k, self.stride, self.pad, self.dilation), per_group

    def apply(self, x: Shape) -> Effect:
        windows, per_group = self._parts(x)
        out = Shape(tuple(w.output for w in windows), self.filters)
        kernel = prod(w.kernel for w in windows)
        weights = kernel * per_group * self.filters
        return Effect(out, params=weights + self.filters * self.bias,
                      biases=self.filters * self.bias,
                      macs=prod(out.spatial) * self.filters * per_group * kernel,
                      windows=windows, rf=rf_steps(windows))

    def explain(self, x: Shape) -> tuple[Formula, ...]:
        windows, per_group = self._parts(x)
        out = Shape(tuple(w.output for w in windows), self.filters)
        kernel = tuple(w.kernel for w in windows)
        grouping = (Formula("channels per group", f"{x.channels}/{self.groups} = {per_group}"),
                    ) if self.groups > 1 else ()
        macs = prod(out.spatial) * self.filters * per_group * prod(kernel)
        return (*window_formulas(windows), *grouping,
                *_weight_formulas(kernel, per_group, self.filters, self.bias),
                Formula("MACs", f"{product(out.dims)} · {product((*kernel, per_group))} = "
                                f"{num(macs)}"),
                activation_formula(out))


@dataclass(frozen=True)
class Depthwise:
    """Depthwise convolution: one filter per input channel (groups = channels)."""

    count_field: ClassVar[str | None] = None
    kernel_field: ClassVar[str | None] = "k"

    k: Ints
    stride: Ints = (1,)
    pad: Pads = ((0, 0),)
    dilation: Ints = (1,)
    multiplier: int = 1
    bias: bool = True
    act: Act = None

    def conv(self, x: Shape) -> Conv:
        return Conv(x.channels * self.multiplier, self.k, self.stride, self.pad, self.dilation,
                    groups=x.channels, bias=self.bias)

    def apply(self, x: Shape) -> Effect:
        return self.conv(x).apply(x)

    def explain(self, x: Shape) -> tuple[Formula, ...]:
        return self.conv(x).explain(x)


@dataclass(frozen=True)
class Separable:
    """Depthwise then 1x1 pointwise convolution; one bias, on the pointwise part (Keras)."""

    count_field: ClassVar[str | None] = "filters"
    kernel_field: ClassVar[str | None] = "k"

    filters: int
    k: Ints
    stride: Ints = (1,)
    pad: Pads = ((0, 0),)
    dilation: Ints = (1,)
    multiplier: int = 1
    bias: bool = True
    act: Act = None

    def _parts(self, x: Shape) -> tuple[Conv, Conv, Shape]:
        depthwise = Depthwise(self.k, self.stride, self.pad, self.dilation, self.multiplier,
                              bias=False).conv(x)
        middle = depthwise.apply(x).output
        return depthwise, Conv(self.filters, (1,), bias=self.bias), middle

    def apply(self, x: Shape) -> Effect:
        depthwise, pointwise, middle = self._parts(x)
        first, second = depthwise.apply(x), pointwise.apply(middle)
        return Effect(second.output, params=first.params + second.params,
                      biases=second.biases,
                      macs=first.macs + second.macs, windows=first.windows, rf=first.rf,
                      notes=(f"depthwise to {middle}, then pointwise",))

    def explain(self, x: Shape) -> tuple[Formula, ...]:
        depthwise, pointwise, middle = self._parts(x)

        def part(name: str, formula: Formula) -> Formula:
            costs = ("params", "MACs")
            return Formula(f"{name} {formula.label}", formula.text) if formula.label in costs \
                else formula

        return (*(part("depthwise", f) for f in depthwise.explain(x) if f.label != "activations"),
                *(part("pointwise", f) for f in pointwise.explain(middle)
                  if f.label in ("params", "MACs")),
                activation_formula(self.apply(x).output))


@dataclass(frozen=True)
class ConvTranspose:
    """Transposed convolution: o = (i − 1)s − p_l − p_r + k̂ + output_padding."""

    count_field: ClassVar[str | None] = "filters"
    kernel_field: ClassVar[str | None] = "k"

    filters: int
    k: Ints
    stride: Ints = (1,)
    pad: Pads = ((0, 0),)
    output_padding: Offsets | None = None  # unset: 0, or what Keras infers under its rules
    dilation: Ints = (1,)
    groups: int = 1
    bias: bool = True
    act: Act = None

    def _axes(self, x: Shape) -> list[tuple[int, int, int, tuple[int, int], int, int]]:
        """Per axis: input, kernel, stride, pads, dilation, output_padding."""
        need_spatial(x, "a transposed convolution")
        ndim = len(x.spatial)
        if isinstance(self.pad, str) and self.pad != "valid":
            raise LayerError("unsupported", f"padding {self.pad!r} is not defined for a "
                             "transposed convolution here: give pad and output_padding as "
                             "numbers (Keras' 'same' equals pad (k̂ − s)/2 with o = i·s)", "pad")
        pads = explicit_pads(self.pad, ndim)
        axes = list(zip(x.spatial, per_axis(self.k, ndim, "k"), per_axis(self.stride, ndim,
                        "stride"), pads, per_axis(self.dilation, ndim, "dilation"),
                        per_axis(self.output_padding or (0,), ndim, "output_padding"),
                        strict=True))
        for name, (i, k, s, (left, right), d, extra) in zip(axis_names(ndim), axes, strict=True):
            if extra >= max(s, d):
                raise LayerError("bad-output-padding", f"on {name} output_padding {extra} must "
                                 f"be smaller than the stride or the dilation ({max(s, d)})",
                                 "output_padding")
            if transposed_output(i, span(k, d), s, (left, right), extra) < 1:
                raise LayerError("invalid-size", f"on {name} the padding {left}+{right} removes "
                                 "the whole output", "pad")
        return axes

    def apply(self, x: Shape) -> Effect:
        divides(x.channels, self.groups, "input channels")
        per_group = divides(self.filters, self.groups, "filters")
        axes = self._axes(x)
        sizes = tuple(transposed_output(i, span(k, d), s, pads, extra)
                      for i, k, s, pads, d, extra in axes)
        kernel = prod(k for _, k, *_ in axes)
        return Effect(Shape(sizes, self.filters),
                      params=x.channels * per_group * kernel + self.filters * self.bias,
                      biases=self.filters * self.bias,
                      macs=prod(x.spatial) * x.channels * per_group * kernel,
                      rf=tuple(self._step(k, s, left, d) for _, k, s, (left, _), d, _ in axes),
                      notes=self._ambiguity(axes))

    def direct(self, x: Shape) -> tuple[tuple[Window, int], ...]:
        """Per axis, the equivalent direct convolution and the input's stretch (the stride:
        s − 1 zeros between input positions). ValueError where it would crop."""
        return tuple((transposed_window(i, k, s, pads, d, extra), s)
                     for i, k, s, pads, d, extra in self._axes(x))

    @staticmethod
    def _step(k: int, s: int, pad: int, d: int) -> RFStep:
        """Output o reads inputs (o + p − t)/s for the taps t that divide: about k̂/s of
        them, centred at (o + p − (k̂ − 1)/2)/s."""
        reach = span(k, d)
        return upsampling_step(-(-reach // s), s, Fraction(2 * pad - (reach - 1), 2 * s))

    @staticmethod
    def _ambiguity(axes: list[tuple[int, int, int, tuple[int, int], int, int]]) -> tuple[str, ...]:
        notes = []
        for i, k, s, pads, d, extra in axes:
            if s > 1:
                low = transposed_output(i, span(k, d), s, pads)
                notes.append(f"a stride-{s} convolution maps every size {low}..{low + s - 1} to "
                             f"{i}; output_padding {extra} picks {low + extra}")
        return tuple(dict.fromkeys(notes))

    def explain(self, x: Shape) -> tuple[Formula, ...]:
        effect = self.apply(x)
        lines: dict[str, list[str]] = {}
        for name, (i, k, s, (left, right), d, extra), o in zip(
                axis_names(len(x.spatial)), self._axes(x), effect.output.spatial, strict=True):
            text = f"({i} − 1)·{s} − {left} − {right} + {span(k, d)} + {extra} = {o}"
            lines.setdefault(text, []).append(name)
        kernel = tuple(k for _, k, *_ in self._axes(x))
        per_group = self.filters // self.groups
        return (*(Formula(f"output {', '.join(names)}", text) for text, names in lines.items()),
                Formula("params", f"{x.channels}·{product((*kernel, per_group))}"
                        + (f" + {self.filters}" if self.bias else "") + f" = {num(effect.params)}"),
                Formula("MACs", f"{product(x.dims)} · {product((*kernel, per_group))} = "
                        f"{num(effect.macs)}  (counted per input position)"),
                activation_formula(effect.output))


@dataclass(frozen=True)
class Local:
    """Locally connected layer: a convolution whose weights are not shared across positions."""

    count_field: ClassVar[str | None] = "filters"
    kernel_field: ClassVar[str | None] = "k"

    filters: int
    k: Ints
    stride: Ints = (1,)
    pad: Pads = ((0, 0),)
    bias: bool = True
    act: Act = None

    def _windows(self, x: Shape) -> tuple[Window, ...]:
        need_spatial(x, "a locally connected layer")
        return slide(x, self.k, self.stride, self.pad)

    def apply(self, x: Shape) -> Effect:
        windows = self._windows(x)
        out = Shape(tuple(w.output for w in windows), self.filters)
        positions, kernel = prod(out.spatial), prod(w.kernel for w in windows)
        return Effect(out, params=positions * (kernel * x.channels + self.bias) * self.filters,
                      biases=positions * self.filters * self.bias,
                      macs=positions * self.filters * kernel * x.channels,
                      windows=windows, rf=rf_steps(windows))

    def explain(self, x: Shape) -> tuple[Formula, ...]:
        windows = self._windows(x)
        out = Shape(tuple(w.output for w in windows), self.filters)
        kernel = tuple(w.kernel for w in windows)
        return (*window_formulas(windows),
                *_weight_formulas(kernel, x.channels, self.filters, self.bias,
                                  unshared=prod(out.spatial)),
                Formula("MACs", f"{product(out.dims)} · {product((*kernel, x.channels))} = "
                        f"{num(self.apply(x).macs)}"),
                activation_formula(out))
