"""The shape of the tensor at each point of a layer list, known while the list is built.

A block body may refer to the shape of the tensor its call receives: ``channels``, and the
spatial sizes ``height`` and ``width`` (``length`` for 1-D, ``depth``, ``height``, ``width``
for 3-D), unless the block declares an argument of that name. So the builder carries the
shape along as it builds, each layer applied as the analysis will apply it, and expands a
block call with its input's shape known: the model stays fully resolved for everything
downstream. A layer that cannot take its input leaves the shape unknown; a block that then
needs it reports that first cause, where it happened.
"""

from __future__ import annotations

from dataclasses import dataclass

from convcalc.language.base import Reporter
from convcalc.language.yamltree import Node, Scalar
from convcalc.layers.base import Layer
from convcalc.layers.merge import MERGES
from convcalc.model import LayerNode
from convcalc.problem import LayerError, Where
from convcalc.shape import Shape

SHAPE_NAMES = ("channels", "length", "depth", "height", "width")
_AXES = {0: (), 1: ("length",), 2: ("height", "width"), 3: ("depth", "height", "width")}


def shape_names(x: Shape) -> dict[str, int]:
    """The sizes of ``x`` by the names a block body uses for them."""
    return {"channels": x.channels, **dict(zip(_AXES[len(x.spatial)], x.spatial, strict=True))}


@dataclass(frozen=True)
class Unknown:
    """The shape is not known from here on, because of a problem at ``at``."""

    at: Where
    code: str
    message: str


Current = Shape | Unknown | None  # None: the spec's input itself is unusable


class ShapeTracker(Reporter):
    """Carries the current shape through a list as it is built (``self.x``)."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.x: Current = None
        self.outputs: dict[tuple[Layer, Shape], Shape | LayerError] = {}
        self.read_shape = False  # some block call read its input's shape
        # ... and what it read may change with the input's spatial sizes: it read a spatial
        # size, or the channels of a flat vector (a flattened tensor's channels are its size).
        # Channels read at a spatial point depend on the input's channels alone.
        self.read_sizes = False

    def advance(self, node: LayerNode) -> None:
        """The shape after ``node``; the same layer on the same shape is applied once."""
        if not isinstance(self.x, Shape):
            return
        key = (node.layer, self.x)
        out = self.outputs.get(key)
        if out is None:
            try:
                out = node.layer.apply(self.x).output
            except LayerError as exc:
                out = exc
            self.outputs[key] = out
        if isinstance(out, LayerError):  # worded as the analysis words it
            at = node.fields_at.get(out.field, node.at) if out.field else node.at
            self.x = Unknown(at, out.code, f"{node.name}: {out.message} (input {self.x})")
        else:
            self.x = out

    def join(self, op: str, outputs: list[Current], name: str, at: Where) -> None:
        """The shape after a merge of branches that ended in ``outputs``."""
        if self.x is None:  # no shapes carried
            return
        shapes = [x for x in outputs if isinstance(x, Shape)]
        if len(shapes) < len(outputs):
            self.x = next((x for x in outputs if not isinstance(x, Shape)), None)
            return
        try:
            self.x = MERGES[op](shapes)
        except LayerError as exc:
            self.x = Unknown(at, exc.code, f"{name}: {exc.message}")

    def shape_arguments(self, block: str, reads: tuple[str, ...],
                        at: Scalar) -> dict[str, Node] | None:
        """The shape names a block reads, bound to its input's sizes; None (reported) when
        the shape is unknown or lacks an axis the block reads."""
        if not reads:
            return {}
        self.read_shape = True
        if isinstance(self.x, Unknown):
            cause = self.x
            self.problem(cause.at, cause.code, cause.message)
            self.problem(at, "unknown-shape", f"block {block!r} reads {', '.join(reads)} of "
                         f"its input, whose shape is unknown because of the problem on line "
                         f"{cause.at.line}")
            return None
        if self.x is None:
            return None  # the input is unusable, and reported
        known = shape_names(self.x)
        missing = [name for name in reads if name not in known]
        if missing:
            self.problem(at, "wrong-rank", f"block {block!r} reads {', '.join(missing)}, but "
                         f"its input {self.x} has no such axis (named: {', '.join(known)})")
            return None
        self.read_sizes |= reads != ("channels",) or not self.x.spatial
        return {name: Scalar(known[name], at.line, at.col) for name in reads}
