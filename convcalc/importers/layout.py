"""How a framework tensor's axes map onto convcalc's shape (spatial sizes, then channels).

Frameworks lay images out channels first (N, C, H, W), and a network may permute them
(ConvNeXt's ``permute(0, 2, 3, 1)`` before a layer norm), flatten them, join the spatial
axes into one of tokens (ViT), split the channel axis in two and swap the halves
(ShuffleNet's channel shuffle), or cut the grid into windows of positions (MaxViT's
partitions, whose per-position layers and residual adds run on the windows). convcalc's shapes
are always channels last and per example, so most of these moves change no convcalc
number: a :class:`Layout` remembers where the channels are, and :func:`permute` and
:func:`reshape` say what a move amounts to. Anything else is refused, never guessed.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod

from convcalc.shape import Shape

MAX_RANK = 5  # batch, channels and up to three spatial axes


@dataclass(frozen=True)
class Layout:
    """``first`` (N, C, spatial...), ``last`` (N, spatial..., C), ``flat`` (N, features),
    ``grouped`` (N, g, C/g, spatial...), ``swapped`` (N, C/g, g, spatial...), or a grid
    ``grid`` cut into windows of ``groups`` x ``groups`` positions: ``windows`` (N, windows,
    positions of a window, C) or ``windows-swapped`` (N, positions of a window, windows, C).
    """

    form: str
    groups: int = 0
    grid: tuple[int, ...] = ()

    def __str__(self) -> str:
        p = self.groups
        return {"first": "N, C, spatial", "last": "N, spatial, C", "flat": "N, features",
                "grouped": f"N, {p} groups, C/{p}, spatial",
                "swapped": f"N, C/{p}, {p} groups, spatial",
                "windows": f"N, windows, {p}x{p} positions, C",
                "windows-swapped": f"N, {p}x{p} positions, windows, C"}[self.form]


WINDOWS = ("windows", "windows-swapped")


FIRST, LAST, FLAT = Layout("first"), Layout("last"), Layout("flat")


class LayoutError(ValueError):
    """Framework dims that do not fit a layout (a rank or a size convcalc cannot hold)."""


def default(rank: int) -> Layout:
    """What a fresh tensor of that rank is taken to be: images channels first."""
    return FLAT if rank <= 2 else FIRST


def convert(layout: Layout, dims: tuple[int, ...]) -> Shape:
    """The convcalc shape (one example, channels last) of framework dims (batch first)."""
    if not 2 <= len(dims) <= MAX_RANK or any(d < 1 for d in dims):
        raise LayoutError(f"a tensor of shape {list(dims)}: convcalc takes a batch axis and "
                          "1 to 4 more, each at least 1")
    if layout.form == "flat" or len(dims) == 2:
        return Shape((), prod(dims[1:]))
    if layout.form == "first":
        return Shape(tuple(dims[2:]), dims[1])
    if layout.form == "last":
        return Shape(tuple(dims[1:-1]), dims[-1])
    if layout.form in WINDOWS:  # the grid's positions in another order
        if len(dims) != 4 or dims[1] * dims[2] != prod(layout.grid):
            raise LayoutError(f"a tensor of shape {list(dims)} is not the "
                              f"{'x'.join(map(str, layout.grid))} grid cut into windows")
        return Shape(layout.grid, dims[-1])
    return Shape(tuple(dims[3:]), dims[1] * dims[2])  # grouped or swapped channels


def channels_last(layout: Layout) -> bool:
    """The last axis holds the channels (a per-position layer may act on it)."""
    return layout.form in ("last", "flat", *WINDOWS)


def channel_axis(layout: Layout, rank: int) -> int:
    """The framework axis that holds the channels."""
    return rank - 1 if layout.form in ("last", *WINDOWS) else 1


def spatial_axes(layout: Layout, rank: int) -> tuple[int, ...]:
    if layout.form == "first":
        return tuple(range(2, rank))
    if layout.form == "last":
        return tuple(range(1, rank - 1))
    return ()


def normalise_axis(axis: int, rank: int) -> int:
    if not -rank <= axis < rank:
        raise LayoutError(f"axis {axis} of a rank-{rank} tensor")
    return axis % rank


def permute(layout: Layout, perm: tuple[int, ...]) -> Layout | None:
    """The layout after a permutation of the axes, or None when convcalc cannot follow it."""
    rank = len(perm)
    if perm == tuple(range(rank)):
        return layout
    to_last = (0, *range(2, rank), 1)
    to_first = (0, rank - 1, *range(1, rank - 1))
    swap = (0, 2, 1, *range(3, rank))
    if layout.form == "first" and perm == to_last:
        return LAST
    if layout.form == "last" and perm == to_first:
        return FIRST
    if layout.form in ("grouped", "swapped") and perm == swap:
        return Layout("swapped" if layout.form == "grouped" else "grouped", layout.groups)
    if layout.form in WINDOWS and perm == swap:  # MaxViT's grid partition: windows swapped
        return Layout(WINDOWS[1 - WINDOWS.index(layout.form)], layout.groups, layout.grid)
    return None


def reshape(layout: Layout, before: tuple[int, ...], after: tuple[int, ...]) -> Layout | None:
    """The layout after a reshape from ``before`` to ``after`` dims, or None.

    Understood: flattening everything but the batch; joining the spatial axes into one
    (a sequence of tokens); splitting the channels into (groups, channels per group) and
    joining them back, as a channel shuffle does.
    """
    if after == before:
        return layout
    if not after or after[0] != before[0] or prod(after) != prod(before):
        return None
    if len(after) == 2:
        return FLAT
    if layout.form in ("first", "last") and len(after) == 3 < len(before):
        spatial = spatial_axes(layout, len(before))
        kept = [before[i] for i in range(len(before)) if i not in spatial]
        if list(after[:2] if layout.form == "first" else after[::2]) == kept:
            return layout  # the positions joined into one axis: tokens
    if layout.form == "first" and len(after) == len(before) + 1 and \
            after[3:] == before[2:] and after[1] * after[2] == before[1]:
        return Layout("grouped", after[1])
    if layout.form in ("grouped", "swapped") and len(after) == len(before) - 1 and \
            after[2:] == before[3:]:
        return FIRST
    return None
