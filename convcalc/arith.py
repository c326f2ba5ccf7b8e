"""Exact arithmetic of one spatial axis of a sliding window.

Everything here is integers and ``Fraction``s: the shape path never sees a float.
Convolution and pooling both reduce to a :class:`Window` per spatial axis; the
padding words resolve to concrete pads here too, so every caller agrees on them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from fractions import Fraction
from functools import cached_property


class Status(str, Enum):
    """How a size division came out, from best to worst."""

    EXACT = "exact"  # the windows tile the padded input
    HARMLESS = "harmless"  # the rounding drops padding only
    LOSSY = "lossy"  # real input rows/columns are seen by no window
    INVALID = "invalid"  # no window fits: output size below 1

    @property
    def rank(self) -> int:
        return _RANKS[self]


_MAX_TAPS = 256  # dilated kernels checked tap by tap up to this size
_SEARCH = 1_000  # how far the fixes look from the given value

_RANKS = {status: rank for rank, status in enumerate(Status)}


def worst(statuses: tuple[Status, ...] | list[Status]) -> Status:
    return max(statuses, key=lambda s: s.rank, default=Status.EXACT)


PAD_WORDS = ("same", "same-lower", "valid", "full")


def span(kernel: int, dilation: int) -> int:
    """Effective kernel size k̂ = d(k − 1) + 1."""
    return dilation * (kernel - 1) + 1


def transposed_output(size: int, kernel_span: int, stride: int, pad: tuple[int, int],
                      output_padding: int = 0) -> int:
    """o = (i − 1)·s − p_l − p_r + k̂ + a: the size a transposed convolution gives."""
    return (size - 1) * stride - pad[0] - pad[1] + kernel_span + output_padding


def resolve_pad(word: str, size: int, kernel_span: int, stride: int) -> tuple[int, int]:
    """Concrete (before, after) pads of a padding word on one axis.

    ``same`` is TensorFlow's (ONNX's ``SAME_UPPER``): the output is ceil(i/s) and an odd
    total puts the extra pixel after (right/bottom); ``same-lower`` is ONNX's ``SAME_LOWER``,
    the same total with the extra pixel before (onnx/docs/Operators.md, Conv: auto_pad).
    ``full`` lets every window touch the input.
    """
    if word == "valid":
        return (0, 0)
    if word == "full":
        return (kernel_span - 1, kernel_span - 1)
    if word in ("same", "same-lower"):
        total = max((-(-size // stride) - 1) * stride + kernel_span - size, 0)
        small, large = total // 2, total - total // 2
        return (small, large) if word == "same" else (large, small)
    raise ValueError(f"unknown padding word {word!r}")


def transposed_window(size: int, kernel: int, stride: int, pad: tuple[int, int],
                      dilation: int = 1, output_padding: int = 0) -> Window:
    """The direct convolution that equals a transposed one, on its stretched input.

    Dumoulin & Visin (2016), relationships 12-14: insert s − 1 zeros between the input
    positions (size (i − 1)·s + 1), pad k̂ − 1 − p on each side and output_padding more
    after (bottom/right), then slide the kernel with stride 1. Its output is
    ``transposed_output``. A pad above k̂ − 1 would crop instead: ValueError.
    """
    reach = span(kernel, dilation)
    pads = (reach - 1 - pad[0], reach - 1 - pad[1] + output_padding)
    if min(pads) < 0:
        raise ValueError(f"padding {pad[0]},{pad[1]} is more than the effective kernel "
                         f"{reach} − 1: the equivalent convolution would crop its input")
    return Window((size - 1) * stride + 1, kernel, 1, pads, dilation)


@dataclass(frozen=True)
class Fix:
    """One change of one parameter that makes an axis divide exactly."""

    param: str  # "pad", "stride", "kernel" or "input"
    value: str  # the new value as the user would write it
    output: int  # the exact output size it gives


@dataclass(frozen=True)
class Window:
    """A window sliding along one axis: o = (i + p_l + p_r − k̂)/s + 1.

    Derived values are computed once per window (``cached_property``): a model's
    analysis reads them many times.
    """

    size: int
    kernel: int
    stride: int
    pad: tuple[int, int] = (0, 0)
    dilation: int = 1
    ceil: bool = False

    @cached_property
    def span(self) -> int:
        return span(self.kernel, self.dilation)

    @cached_property
    def numerator(self) -> int:
        return self.size + self.pad[0] + self.pad[1] - self.span

    @cached_property
    def exact(self) -> Fraction:
        """The formula's value before any rounding (14.5 for 32, k 5, s 2)."""
        return Fraction(self.numerator, self.stride) + 1

    @cached_property
    def output(self) -> int:
        """The size frameworks produce: floored, or ceiled with the last-window rule."""
        if not self.ceil:
            return self.numerator // self.stride + 1
        out = -(-self.numerator // self.stride) + 1
        # PyTorch and Caffe drop a last window that would start in the right padding.
        if (out - 1) * self.stride >= self.size + self.pad[0]:
            out -= 1
        return out

    @cached_property
    def remainder(self) -> int:
        """Positions at the end of the padded input that the floored windows skip."""
        return self.numerator % self.stride

    @cached_property
    def lost(self) -> int:
        """Real input positions that the rounding throws away: ``len(unseen)``."""
        return len(self.unseen)

    @cached_property
    def unseen(self) -> range | tuple[int, ...]:
        """The real input positions (padded coordinates) that the rounding throws away.

        Flooring drops the partial window that would start at ``o·s``. A real (unpadded)
        position is lost when that window would read it and no kept window does. Positions
        a stride larger than the kernel skips anyway (a 1x1/2 convolution reads every other
        row) are not lost to rounding. Ceil mode keeps partial windows: nothing is lost.

        Without dilation the kept windows read everything up to their last end that the
        dropped window could touch, so the lost positions are one run. Dilated kernels have
        gaps and are checked tap by tap, up to _MAX_TAPS taps (beyond that, an absurd
        kernel, only the part past the kept windows' end counts).
        """
        if self.ceil or self.output < 1:
            return ()
        first_real, last_real = self.pad[0], self.pad[0] + self.size - 1
        start = self.output * self.stride
        if self.dilation == 1 or self.kernel > _MAX_TAPS:
            low = max(start, (self.output - 1) * self.stride + self.span, first_real)
            return range(low, max(low, min(start + self.span - 1, last_real) + 1))
        dropped = (start + tap * self.dilation for tap in range(self.kernel))
        return tuple(position for position in dropped
                     if first_real <= position <= last_real and not self._read(position))

    def taps(self, position: int) -> range:
        """The padded positions that output ``position`` reads: k taps, d apart."""
        start = position * self.stride
        return range(start, start + self.span, self.dilation)

    def _read(self, position: int) -> bool:
        """Whether a kept window has a tap at ``position`` (in padded coordinates)."""
        for tap in range(self.kernel):
            offset = position - tap * self.dilation
            if offset >= 0 and offset % self.stride == 0 and offset // self.stride < self.output:
                return True
        return False

    @cached_property
    def status(self) -> Status:
        if self.output < 1:
            return Status.INVALID
        if self.remainder == 0:
            return Status.EXACT
        return Status.LOSSY if self.lost else Status.HARMLESS

    def fixes(self) -> tuple[Fix, ...]:
        """The nearest changes of pad, stride, kernel or input size that divide exactly."""
        if self.remainder == 0 or self.output < 1:
            return ()
        return (*self._pad_fixes(), *self._stride_fixes(), *self._kernel_fixes(),
                *self._input_fixes())

    def _with(self, **change: int | tuple[int, int]) -> Window:
        fields = {"size": self.size, "kernel": self.kernel, "stride": self.stride,
                  "pad": self.pad, "dilation": self.dilation}
        fields.update(change)
        return Window(ceil=self.ceil, **fields)  # type: ignore[arg-type]

    def _pad_fixes(self) -> list[Fix]:
        left, right = self.pad
        more = self.stride - self.remainder
        fixes = [Fix("pad", f"{left},{right + more}", self._with(pad=(left, right + more)).output)]
        if left + right >= self.remainder:
            cut_right = min(right, self.remainder)
            fewer = (left - (self.remainder - cut_right), right - cut_right)
            fixes.insert(0, Fix("pad", f"{fewer[0]},{fewer[1]}", self._with(pad=fewer).output))
        return fixes

    def _stride_fixes(self) -> list[Fix]:
        n = self.numerator
        below = next((s for s in range(self.stride - 1, max(self.stride - _SEARCH, 0), -1)
                      if n % s == 0), None)
        above = next((s for s in range(self.stride + 1,
                                       self.stride + min(self.stride, _SEARCH) + 1)
                      if n % s == 0), None)
        return [Fix("stride", str(s), self._with(stride=s).output)
                for s in (below, above) if s is not None]

    def _kernel_fixes(self) -> list[Fix]:
        room = self.size + self.pad[0] + self.pad[1]
        nearby = range(max(1, self.kernel - _SEARCH), self.kernel + min(self.stride, _SEARCH) + 1)
        candidates = [k for k in nearby
                      if k != self.kernel and span(k, self.dilation) <= room
                      and (room - span(k, self.dilation)) % self.stride == 0]
        below = max((k for k in candidates if k < self.kernel), default=None)
        above = min((k for k in candidates if k > self.kernel), default=None)
        return [Fix("kernel", str(k), self._with(kernel=k).output)
                for k in (below, above) if k is not None]

    def _input_fixes(self) -> list[Fix]:
        sizes = [self.size - self.remainder, self.size + self.stride - self.remainder]
        return [Fix("input", str(i), self._with(size=i).output)
                for i in sizes if i > 0 and self._with(size=i).output >= 1]


def format_fraction(value: Fraction | int) -> str:
    """14.5, 54.25, 2.33…: exact decimals where they end, an ellipsis where they do not."""
    value = Fraction(value)
    sign = "-" if value < 0 else ""
    whole, rest = divmod(abs(value.numerator), value.denominator)
    digits = ""
    while rest and len(digits) < 12:
        digit, rest = divmod(rest * 10, value.denominator)
        digits += str(digit)
    if rest:
        return f"{sign}{whole}.{digits[:2]}…"
    return f"{sign}{whole}.{digits}" if digits else f"{sign}{whole}"
