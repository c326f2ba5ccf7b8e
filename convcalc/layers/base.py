"""What every layer kind returns, and the field types their YAML keys take.

A layer kind is a frozen dataclass whose fields are its YAML keys. It has two pure
methods: ``apply(x)`` gives the numbers (:class:`Effect`) and ``explain(x)`` gives
the formulas with the numbers filled in. Neither prints; both raise
:class:`~convcalc.problem.LayerError` when the layer cannot take its input.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import ClassVar, Protocol

from convcalc.arith import Status, Window, format_fraction, resolve_pad, span, worst
from convcalc.problem import LayerError
from convcalc.shape import Shape

# Canonical field values, after parsing (see fields.PARSERS). A 1-tuple is broadcast to
# every spatial axis.
Ints = tuple[int, ...]  # positive sizes: kernel, stride, dilation
Offsets = tuple[int, ...]  # non-negative sizes: output_padding
Index = int  # a position counted from 0: take-token's index
Pads = str | tuple[tuple[int, int], ...]  # a padding word, or (before, after) per axis
Act = str | None  # a fused activation, which changes no number


@dataclass(frozen=True)
class RFStep:
    """How one axis of a layer moves the receptive field (Araujo et al. 2019)."""

    kernel: int  # effective kernel k̂
    stride: int | Fraction  # a Fraction only below 1 (upsampling): ints keep the walk fast
    pad: int | Fraction  # padding before the first window (a Fraction when upsampling)


@dataclass(frozen=True)
class Formula:
    """One relationship with the numbers filled in: ``label: text``."""

    label: str
    text: str


@dataclass(frozen=True)
class Effect:
    """What a layer does to one example of its input."""

    output: Shape
    params: int = 0  # learnable weights and biases
    biases: int = 0  # the part of params that is bias
    buffers: int = 0  # non-trainable state, e.g. batch-norm running statistics
    macs: int = 0  # multiply-accumulates of weights, bias excluded, and of attention products
    attention_macs: int = 0  # the part of macs that multiplies activations by activations
    scores: int = 0  # attention score elements (heads × queries × keys) while the layer runs
    # named parts of an attention layer's numbers that counting conventions weigh apart:
    # "projections" (MACs of the q/k/v and output projections), "position" (MACs of a
    # position-bias MLP), "position-params" (its params), "position-hidden" (its hidden
    # activations), "cosine-qk" (the MACs of QKᵀ when scored as cosines, Swin v2)
    parts: tuple[tuple[str, int], ...] = ()
    inplace: bool = False  # the output reuses the input's memory
    windows: tuple[Window, ...] = ()  # one per spatial axis where sizes are divided
    rf: tuple[RFStep, ...] = ()  # one per spatial axis; () leaves the field unchanged
    global_field: bool = False  # every output sees the whole input (global attention)
    keeps_field: bool = False  # positions are rearranged, each keeping its field (tokens)
    notes: tuple[str, ...] = ()
    warnings: tuple[tuple[str, str], ...] = ()  # (code, message): a warning for each use

    @property
    def status(self) -> Status:
        return worst([w.status for w in self.windows])


class Layer(Protocol):
    """The interface of every layer kind."""

    count_field: ClassVar[str | None]  # what `fc-4096` or `conv3-64` sets after the dash
    kernel_field: ClassVar[str | None]  # what `conv3` or `maxpool3` sets after the name

    def apply(self, x: Shape) -> Effect: ...

    def explain(self, x: Shape) -> tuple[Formula, ...]: ...


# --- helpers shared by the layer families ---------------------------------------------------


_AXIS_NAMES = {0: (), 1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}


def axis_names(ndim: int) -> tuple[str, ...]:
    return _AXIS_NAMES[ndim]


def ratio(numerator: int, denominator: int) -> int | Fraction:
    """An exact quotient: an int when it divides, else a Fraction."""
    if numerator % denominator == 0:
        return numerator // denominator
    return Fraction(numerator, denominator)


def upsampling_step(reach: int, scale: int, centre_shift: Fraction) -> RFStep:
    """The receptive-field step of an upsampling layer, as a fractional-stride window.

    Output position 0 is centred ``centre_shift`` input positions after input 0, each
    output reads ``reach`` inputs at most, and the grid is ``scale`` times finer. The step's
    padding is the one that puts the first output's centre there.
    """
    return RFStep(reach, ratio(1, scale), Fraction(reach - 1, 2) - centre_shift)


def per_axis(values: Ints, ndim: int, field: str) -> tuple[int, ...]:
    """Broadcast a 1-tuple to every spatial axis, or check the per-axis length."""
    if len(values) == 1:
        return values * ndim
    if len(values) != ndim:
        raise LayerError("wrong-rank", f"{field} gives {len(values)} sizes for an input with "
                         f"{ndim} spatial axes", field)
    return values


def need_spatial(x: Shape, kind: str) -> None:
    if not x.spatial:
        raise LayerError("wrong-rank", f"{kind} needs a spatial input (LxC, HxWxC or DxHxWxC), "
                         f"got the flat vector {x}")


def divides(total: int, groups: int, what: str, field: str = "groups") -> int:
    if total % groups:
        raise LayerError("bad-groups", f"groups {groups} do not divide the {total} {what}", field)
    return total // groups


def slide(x: Shape, k: Ints, stride: Ints, pad: Pads, dilation: Ints = (1,),
          ceil: bool = False) -> tuple[Window, ...]:
    """The windows of a convolution or pooling on every spatial axis, checked."""
    ndim = len(x.spatial)
    ks, ss = per_axis(k, ndim, "k"), per_axis(stride, ndim, "stride")
    ds = per_axis(dilation, ndim, "dilation")
    pads = resolve_pads(pad, x.spatial, ks, ss, ds)
    windows = tuple(_window(i, kk, s, p, d, ceil) for i, kk, s, p, d in
                    zip(x.spatial, ks, ss, pads, ds, strict=True))
    for name, w in zip(axis_names(ndim), windows, strict=True):
        if w.output < 1:
            raise LayerError("invalid-size", f"on {name} the kernel (effective size {w.span}) is "
                             f"larger than the padded input {w.size + sum(w.pad)}", "k")
    return windows


@lru_cache(maxsize=4096)
def _window(size: int, kernel: int, stride: int, pad: tuple[int, int], dilation: int,
            ceil: bool) -> Window:
    """One axis's window, shared: the layers of a network slide few distinct windows (every
    3x3 stride-1 convolution on 56 is one), each worked out once (its values are cached)."""
    return Window(size, kernel, stride, pad, dilation, ceil)


def resolve_pads(pad: Pads, sizes: tuple[int, ...], ks: tuple[int, ...],
                 ss: tuple[int, ...], ds: tuple[int, ...]) -> tuple[tuple[int, int], ...]:
    if isinstance(pad, str):
        return tuple(resolve_pad(pad, i, span(k, d), s)
                     for i, k, s, d in zip(sizes, ks, ss, ds, strict=True))
    return explicit_pads(pad, len(sizes))


def explicit_pads(pad: Pads, ndim: int) -> tuple[tuple[int, int], ...]:
    """(before, after) per axis for pads given as numbers (or ``valid``, which is none)."""
    if pad == "valid":
        return ((0, 0),) * ndim
    if isinstance(pad, str):
        raise LayerError("unsupported", f"padding {pad!r} needs the layer's sizes: give "
                         "numbers", "pad")
    if len(pad) == 1:
        return pad * ndim
    if len(pad) != ndim:
        raise LayerError("wrong-rank", f"pad gives {len(pad)} axes for an input with {ndim} "
                         "spatial axes", "pad")
    return pad


def rf_steps(windows: tuple[Window, ...]) -> tuple[RFStep, ...]:
    return tuple(RFStep(w.span, w.stride, w.pad[0]) for w in windows)


def num(value: int) -> str:
    """An integer with thousands separators, as every output prints counts."""
    return f"{value:,}"


def product(values: Sequence[int]) -> str:
    return "·".join(map(str, values)) if values else "1"


def window_formulas(windows: tuple[Window, ...]) -> tuple[Formula, ...]:
    """The output-size formula of each axis; axes with identical arithmetic share a line."""
    lines: dict[str, list[str]] = {}
    for name, w in zip(axis_names(len(windows)), windows, strict=True):
        lines.setdefault(window_formula(w), []).append(name)
    spans = {window_span_formula(w) for w in windows if w.dilation != 1}
    return (*(Formula("effective kernel", text) for text in sorted(spans)),
            *(Formula(f"output {', '.join(names)}", text) for text, names in lines.items()))


def window_span_formula(w: Window) -> str:
    return f"k̂ = {w.dilation}·({w.kernel} − 1) + 1 = {w.span}"


def window_formula(w: Window) -> str:
    left, right = w.pad
    padding = "" if left == right == 0 else (f" + 2·{left}" if left == right
                                              else f" + {left} + {right}")
    inner = f"{w.size}{padding} − {w.span}"
    exact = format_fraction(w.exact)
    if w.ceil:
        text = f"ceil(({inner})/{w.stride}) + 1 = {w.output}"
        if w.output < -(-w.numerator // w.stride) + 1:
            text += " (the last window would start in the padding, so it is dropped)"
        return text
    text = f"({inner})/{w.stride} + 1 = {exact}"
    if w.status is not Status.EXACT:
        text += f" → {w.output} ({w.status.value})"
    return text


def activation_formula(shape: Shape) -> Formula:
    return Formula("activations", f"{product(shape.dims)} = {num(shape.size)}")
