"""Layers that change no parameter count: activations, dropout, resampling, reshuffling."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import ClassVar

from convcalc.layers.base import (
    Effect,
    Formula,
    Ints,
    Pads,
    RFStep,
    activation_formula,
    divides,
    explicit_pads,
    need_spatial,
    per_axis,
    upsampling_step,
)
from convcalc.problem import LayerError
from convcalc.shape import Shape

_IN_PLACE = (Formula("output", "the input's shape, computed in place: no parameters, no new "
                     "memory"),)


@dataclass(frozen=True)
class Activation:
    """An elementwise activation, counted as in place (it adds no activation memory)."""

    count_field: ClassVar[str | None] = None
    kernel_field: ClassVar[str | None] = None

    def apply(self, x: Shape) -> Effect:
        return Effect(x, inplace=True)

    def explain(self, x: Shape) -> tuple[Formula, ...]:
        return _IN_PLACE


# One class per activation so that each kind has its own registry entry and keys. A
# subclass that adds no key needs no @dataclass of its own (and so costs no import time).
class ReLU(Activation):
    """max(x, 0)."""


class ReLU6(Activation):
    """min(max(x, 0), 6) (MobileNet)."""


@dataclass(frozen=True)
class LeakyReLU(Activation):
    """x for x > 0, slope·x otherwise."""

    slope: float = 0.01


class Sigmoid(Activation):
    """1 / (1 + e^−x)."""


class Tanh(Activation):
    """tanh(x)."""


class SiLU(Activation):
    """x·sigmoid(x), also called swish."""


class HardSwish(Activation):
    """x·relu6(x + 3)/6 (MobileNet v3)."""


class HardSigmoid(Activation):
    """relu6(x + 3)/6."""


class GELU(Activation):
    """x·Φ(x)."""


class Softmax(Activation):
    """Normalised exponentials over the channels; counted in place like the activations."""


@dataclass(frozen=True)
class Dropout(Activation):
    """Random zeroing while training; the identity at inference (in place)."""

    rate: float = 0.5


class Identity(Activation):
    """Passes its input on unchanged."""


# The modes torch.nn.functional.interpolate takes, by spatial rank (it refuses the others).
_MODES = {"nearest": "1-D, 2-D or 3-D", "linear": "1-D", "bilinear": "2-D",
          "bicubic": "2-D", "trilinear": "3-D"}
_MODES_BY_RANK = {ndim: tuple(mode for mode, ranks in _MODES.items() if f"{ndim}-D" in ranks)
                  for ndim in (1, 2, 3)}


@dataclass(frozen=True)
class StochasticDepth(Activation):
    """Drops a residual branch at random while training (``row``: per example, ``batch``: for
    the whole batch); the identity at inference (torchvision.ops.StochasticDepth)."""

    rate: float = 0.0
    mode: str = "row"

    def apply(self, x: Shape) -> Effect:
        if self.mode not in ("row", "batch"):
            raise LayerError("unsupported", f"stochastic depth mode is row or batch, got "
                             f"{self.mode!r}", "mode")
        if not 0 <= self.rate <= 1:
            raise LayerError("invalid-size", f"the drop rate is between 0 and 1, got "
                             f"{self.rate}", "rate")
        return Effect(x, inplace=True)

    def explain(self, x: Shape) -> tuple[Formula, ...]:
        return (Formula("output", "the input itself at inference (a branch is dropped only "
                        "while training): no parameters, no new memory"),)


@dataclass(frozen=True)
class Upsample:
    """Repeat (nearest) or interpolate each spatial axis by an integer factor."""

    count_field: ClassVar[str | None] = None
    kernel_field: ClassVar[str | None] = "scale"

    scale: Ints = (2,)
    mode: str = "nearest"

    def apply(self, x: Shape) -> Effect:
        need_spatial(x, "upsampling")
        if self.mode not in _MODES:
            raise LayerError("unsupported", f"unknown upsampling mode {self.mode!r}", "mode")
        ndim = len(x.spatial)
        if self.mode not in _MODES_BY_RANK[ndim]:
            raise LayerError("wrong-rank", f"{self.mode} upsampling needs a "
                             f"{_MODES[self.mode]} input, got {ndim}-D {x} (a {ndim}-D input "
                             f"takes {', '.join(_MODES_BY_RANK[ndim])})", "mode")
        scales = per_axis(self.scale, len(x.spatial), "scale")
        reach = 1 if self.mode == "nearest" else 4 if self.mode == "bicubic" else 2
        return Effect(Shape(tuple(i * s for i, s in zip(x.spatial, scales, strict=True)),
                            x.channels),
                      # output o is centred at (o + 1/2)/s − 1/2 (no corner alignment)
                      rf=tuple(upsampling_step(reach, s, Fraction(1 - s, 2 * s))
                               for s in scales))

    def explain(self, x: Shape) -> tuple[Formula, ...]:
        out = self.apply(x).output
        scales = per_axis(self.scale, len(x.spatial), "scale")
        sizes = ", ".join(f"{i}·{s} = {o}" for i, s, o in
                          zip(x.spatial, scales, out.spatial, strict=True))
        return (Formula("output", sizes), activation_formula(out))


@dataclass(frozen=True)
class ChannelShuffle:
    """Interleave the channels of ``groups`` groups (ShuffleNet); a permutation."""

    count_field: ClassVar[str | None] = "groups"
    kernel_field: ClassVar[str | None] = None

    groups: int

    def apply(self, x: Shape) -> Effect:
        need_spatial(x, "channel shuffle")  # torch.nn.ChannelShuffle wants > 2 dims
        divides(x.channels, self.groups, "channels")
        return Effect(x)

    def explain(self, x: Shape) -> tuple[Formula, ...]:
        per = divides(x.channels, self.groups, "channels")
        return (Formula("output", f"{self.groups} groups of {per} channels interleaved"),
                activation_formula(x))


@dataclass(frozen=True)
class ZeroPad:
    """Explicit zero padding of the spatial axes."""

    count_field: ClassVar[str | None] = None
    kernel_field: ClassVar[str | None] = None

    pad: Pads

    def _pads(self, x: Shape) -> tuple[tuple[int, int], ...]:
        need_spatial(x, "padding")
        if isinstance(self.pad, str):
            raise LayerError("unsupported", "zeropad takes sizes, not a padding word", "pad")
        return explicit_pads(self.pad, len(x.spatial))

    def apply(self, x: Shape) -> Effect:
        pads = self._pads(x)
        return Effect(Shape(tuple(i + a + b for i, (a, b) in zip(x.spatial, pads, strict=True)),
                            x.channels), rf=tuple(RFStep(1, 1, a) for a, _ in pads))

    def explain(self, x: Shape) -> tuple[Formula, ...]:
        out = self.apply(x).output
        return (Formula("output", ", ".join(f"{i} + {a} + {b} = {o}" for i, (a, b), o in
                                            zip(x.spatial, self._pads(x), out.spatial,
                                                strict=True))),
                activation_formula(out))
