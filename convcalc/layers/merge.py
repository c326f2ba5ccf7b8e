"""Merges: branches that read one input (or, in a split, a part of its channels each) and are
joined into one output."""

from __future__ import annotations

from convcalc.problem import LayerError
from convcalc.shape import Shape


def _mismatch(code: str, need: str, shapes: list[Shape]) -> LayerError:
    return LayerError(code, f"{need}; branches give {', '.join(map(str, shapes))}")


def _same_spatial(op: str, need: str, shapes: list[Shape]) -> None:
    if any(shape.spatial != shapes[0].spatial for shape in shapes):
        raise _mismatch("spatial-mismatch", f"{op} needs {need}", shapes)


def concat(shapes: list[Shape]) -> Shape:
    """Join along channels: every branch must have the same spatial size."""
    _same_spatial("concat", "equal spatial sizes", shapes)
    return Shape(shapes[0].spatial, sum(s.channels for s in shapes))


def add(shapes: list[Shape]) -> Shape:
    """Elementwise sum: every branch must have the same shape."""
    _same_spatial("add", "equal shapes", shapes)
    if any(shape.channels != shapes[0].channels for shape in shapes):
        raise _mismatch("channel-mismatch", "add needs equal channels", shapes)
    return shapes[0]


def mul(shapes: list[Shape]) -> Shape:
    """Elementwise product; a 1x1xC branch is broadcast over space, as in SE blocks."""
    full = max(shapes, key=lambda s: s.size)
    if any(shape.channels != full.channels for shape in shapes):
        raise _mismatch("channel-mismatch", "mul needs equal channels", shapes)
    for shape in shapes:
        broadcast = len(shape.spatial) == len(full.spatial) and \
            all(size == 1 for size in shape.spatial)
        if shape.spatial != full.spatial and not broadcast:
            raise _mismatch("spatial-mismatch", "mul broadcasts only 1x1 branches", shapes)
    return full


def split(x: Shape, branches: int, parts: tuple[int, ...] | None = None) -> tuple[Shape, ...]:
    """The input of each branch of a channel split: equal parts of the channels, one per
    branch, or the given sizes (ShuffleNet v2's ``x.chunk(2, dim=1)``, ``torch.split``)."""
    if parts is None:
        if x.channels % branches:
            raise LayerError("bad-split", f"split: {x.channels} channels do not divide into "
                             f"{branches} equal parts")
        parts = (x.channels // branches,) * branches
    elif len(parts) != branches:
        raise LayerError("bad-split", f"split: {len(parts)} parts for {branches} branches")
    elif sum(parts) != x.channels:
        raise LayerError("bad-split", f"split: the parts {' + '.join(map(str, parts))} = "
                         f"{sum(parts)} do not add up to the input's {x.channels} channels")
    return tuple(Shape(x.spatial, part) for part in parts)


# How branch outputs are joined; a split's are concatenated.
MERGES = {"concat": concat, "add": add, "mul": mul, "split": concat}
