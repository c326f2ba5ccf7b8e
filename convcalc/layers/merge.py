"""Merges: branches that read one input and are joined into one output."""

from __future__ import annotations

from convcalc.problem import LayerError
from convcalc.shape import Shape


def concat(shapes: list[Shape]) -> Shape:
    """Join along channels: every branch must have the same spatial size."""
    first = shapes[0]
    for shape in shapes[1:]:
        if shape.spatial != first.spatial:
            raise LayerError("spatial-mismatch", "concat needs equal spatial sizes; branches "
                             f"give {', '.join(map(str, shapes))}")
    return Shape(first.spatial, sum(s.channels for s in shapes))


def add(shapes: list[Shape]) -> Shape:
    """Elementwise sum: every branch must have the same shape."""
    first = shapes[0]
    for shape in shapes[1:]:
        if shape.spatial != first.spatial:
            raise LayerError("spatial-mismatch", "add needs equal shapes; branches give "
                             f"{', '.join(map(str, shapes))}")
        if shape.channels != first.channels:
            raise LayerError("channel-mismatch", "add needs equal channels; branches give "
                             f"{', '.join(map(str, shapes))}")
    return first


def mul(shapes: list[Shape]) -> Shape:
    """Elementwise product; a 1x1xC (or C) branch is broadcast over space, as in SE blocks."""
    full = max(shapes, key=lambda s: s.size)
    for shape in shapes:
        if shape.channels != full.channels:
            raise LayerError("channel-mismatch", "mul needs equal channels; branches give "
                             f"{', '.join(map(str, shapes))}")
        broadcast = len(shape.spatial) == len(full.spatial) and \
            all(size == 1 for size in shape.spatial)
        if shape.spatial != full.spatial and not broadcast:
            raise LayerError("spatial-mismatch", "mul broadcasts only 1x1 branches; branches "
                             f"give {', '.join(map(str, shapes))}")
    return full


MERGES = {"concat": concat, "add": add, "mul": mul}
