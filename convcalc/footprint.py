"""What a figure of one layer shows: the cells of its padded input, and the cells each output
position reads, per spatial axis. Data only; ``render/figure.py`` lays it out.

A transposed convolution is shown as the direct convolution it equals (Dumoulin & Visin
2016, relationships 12-14): zeros inserted between the input positions, stride 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from functools import cached_property
from itertools import product
from math import prod

from convcalc.arith import Window
from convcalc.layers.base import Layer, axis_names
from convcalc.layers.conv import ConvTranspose
from convcalc.shape import Shape


class Cell(str, Enum):
    """What one position along an axis of the drawn input is, most telling first."""

    BEYOND = "beyond"  # past the padded input: ceil mode's last window hangs over it
    PAD = "pad"  # padding
    ZERO = "zero"  # a zero inserted between input positions (transposed convolution)
    UNSEEN = "unseen"  # a real input position that no window reads (a lossy size)
    REAL = "real"  # an input position


_ORDER = {cell: rank for rank, cell in enumerate(Cell)}


def combine(*cells: Cell) -> Cell:
    """The kind of a grid cell from its kinds along each axis: a padding row's cells are
    padding, an unseen column's real cells are unseen."""
    return min(cells, key=_ORDER.__getitem__)


class FigureError(ValueError):
    """A layer this figure cannot show, with the reason in one line."""


@dataclass(frozen=True)
class Axis:
    """One spatial axis: the window sliding over the (stretched, padded) input."""

    name: str
    window: Window
    stretch: int = 1  # input positions are this far apart (a transposed conv's stride)
    transposed: bool = False  # the window is a transposed convolution's direct equivalent

    @property
    def output(self) -> int:
        return self.window.output

    @cached_property
    def extent(self) -> int:
        """The cells drawn: the padded input, and any overhang of ceil mode's last window."""
        w = self.window
        return max(w.size + w.pad[0] + w.pad[1], (w.output - 1) * w.stride + w.span)

    @cached_property
    def cells(self) -> tuple[Cell, ...]:
        w = self.window
        unseen = set(w.unseen)
        end = w.pad[0] + w.size

        def kind(cell: int) -> Cell:
            if cell >= end + w.pad[1]:
                return Cell.BEYOND
            if cell < w.pad[0] or cell >= end:
                return Cell.PAD
            if (cell - w.pad[0]) % self.stretch:
                return Cell.ZERO
            return Cell.UNSEEN if cell in unseen else Cell.REAL

        return tuple(kind(cell) for cell in range(self.extent))

    def index(self, cell: int) -> int | None:
        """The input position a cell holds (None for padding, zeros and overhang)."""
        if self.cells[cell] not in (Cell.REAL, Cell.UNSEEN):
            return None
        return (cell - self.window.pad[0]) // self.stretch

    def taps(self, position: int) -> range:
        """The cells output ``position`` reads."""
        return self.window.taps(position)

    @property
    def unseen_inputs(self) -> tuple[int, ...]:
        """The input positions (rows or columns) that no window reads."""
        return tuple((cell - self.window.pad[0]) // self.stretch for cell in self.window.unseen)


def axes_of(layer: Layer, x: Shape) -> tuple[Axis, ...]:
    """The drawable axes of a layer on input ``x``; FigureError for a layer without a
    sliding window (fc, global or adaptive pooling, activations)."""
    names = axis_names(len(x.spatial))
    if isinstance(layer, ConvTranspose):
        try:
            pairs = layer.direct(x)
        except ValueError as exc:
            raise FigureError(f"not drawn: {exc}") from None
        return tuple(Axis(name, window, stretch, transposed=True)
                     for name, (window, stretch) in zip(names, pairs, strict=True))
    windows = layer.apply(x).windows
    if not windows:
        raise FigureError("this layer has no sliding window to draw (a figure shows "
                          "convolutions, transposed convolutions and max/avg pooling)")
    return tuple(Axis(name, window) for name, window in zip(names, windows, strict=True))


Position = tuple[int, ...]  # an output position, one index per drawn axis


def every_position(axes: tuple[Axis, ...]) -> list[Position]:
    return list(product(*(range(axis.output) for axis in axes)))


def default_positions(axes: tuple[Axis, ...], most: int = 16) -> list[Position]:
    """Every output position when there are at most ``most``; else the first two and the
    last along each axis (the last shows what the rounding did)."""
    if prod(axis.output for axis in axes) <= most:
        return every_position(axes)
    picks = [sorted({0, min(1, axis.output - 1), axis.output - 1}) for axis in axes]
    return list(product(*picks))
