"""The framework-neutral op graph every importer produces, and the builder they share.

A reader (ONNX, torch, and later Keras or Caffe) walks its model's nodes in order and
tells a :class:`Builder` what each one is: a convcalc layer, a merge of tensors, one part of
a channel split, a view that changes no number, or something convcalc cannot express.
The builder keeps, for each tensor, its convcalc shape and its framework layout
(:mod:`convcalc.importers.layout`), so that a permute, reshape or flatten becomes the
convcalc layer it amounts to (``flatten``, ``channel-shuffle``) or nothing at all.

Nothing here imports a framework: the graph is what :mod:`convcalc.importers.lower` turns
into a :class:`~convcalc.model.Model`.
"""

from __future__ import annotations

import dataclasses
import os
import stat
from dataclasses import dataclass, field

from convcalc.importers import layout as layouts
from convcalc.importers.layout import Layout
from convcalc.layers.base import Layer
from convcalc.problem import LayerError, Problem
from convcalc.shape import Shape

MERGES = ("add", "mul", "concat")
MAX_TENSORS = 1_000_000  # no CNN comes near; a bound on what a hostile file can make us build


class ImportFailure(Exception):
    """The model cannot be imported (exit 2): one line that says why, or one problem per
    node that convcalc cannot express."""

    def __init__(self, message: str, problems: tuple[Problem, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.problems = problems


def regular_size(path: str, limit: int, what: str) -> int:
    """The size of the file at ``path``, which must be a regular file of at most ``limit``
    bytes. A device, a FIFO or a socket (``/dev/zero`` linked as ``model.onnx``) reports no
    size and never ends, so it is refused before anything is read; callers still read at
    most ``limit`` + 1 bytes, for files that under-report (``/proc``)."""
    try:
        status = os.stat(path)
    except OSError as exc:
        raise ImportFailure(f"cannot read {path}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(status.st_mode):
        raise ImportFailure(f"{path} is not a regular file, so not {what}")
    if status.st_size > limit:
        raise ImportFailure(f"{path} has {status.st_size:,} bytes; the limit for {what} is "
                            f"{limit:,}")
    return status.st_size


class Unsupported(Exception):
    """One node that convcalc cannot express; the reader names the node and goes on."""


@dataclass(frozen=True)
class Facts:
    """What the real model says of one op's output: its shape and the op's own counts.

    These come from the framework (its shapes, its parameter tensors), never from convcalc's
    formulas: the import checks convcalc's analysis against them, and ``verify --against``
    compares a spec with them.
    """

    output: Shape
    params: int = 0
    buffers: int = 0


@dataclass(frozen=True)
class Op:
    """One node of the graph, reading tensors and writing one (by id).

    ``kind`` is a layer registry name (``layer`` holds the value), a merge (``add``, ``mul``,
    ``concat``), ``part`` (channels ``span`` of its input: one output of a channel split) or
    ``unsupported`` (``reason`` says why; ``fn`` describes an elementwise op with a constant,
    which a pattern such as Erf-based GELU may still absorb).
    """

    name: str
    origin: str  # the framework's op or module type, as its users know it
    kind: str
    inputs: tuple[int, ...]
    output: int
    facts: Facts
    layer: Layer | None = None
    span: tuple[int, int] = (0, 0)
    reason: str = ""
    fn: tuple[str, float] | None = None
    shape_known: bool = True  # False when the framework could not say the output's shape


@dataclass(frozen=True)
class Totals:
    """The model's own totals, counted from the model (not by convcalc's formulas)."""

    params: int
    buffers: int
    macs: int
    output: Shape
    convention: str  # how the MACs were counted


@dataclass
class Graph:
    """A whole imported model: tensors by id, ops in execution order, input and output."""

    name: str
    path: str  # the model file or factory: what every position names
    source: str  # file or factory, opset, exporter, framework version
    shapes: list[Shape] = field(default_factory=list)
    ops: list[Op] = field(default_factory=list)
    input: int = -1
    output: int = -1
    totals: Totals | None = None
    notes: list[str] = field(default_factory=list)
    rules: str | None = None  # the framework whose size rules the model follows (convcalc.rules)


def safe_name(text: str) -> str:
    """A layer name from a module or node name: letters, digits, ``_ - .`` (dots kept, so
    ``layer1.0.conv1`` stays one), at most 120 characters."""
    cleaned = "".join(c if c.isascii() and (c.isalnum() or c in "_-.") else "_"
                      for c in text.strip("/.")).strip("._")
    return cleaned[:120] or "node"


class Builder:
    """Builds a :class:`Graph` from a reader's calls; every tensor has a shape and layout."""

    def __init__(self, name: str, path: str) -> None:
        self.graph = Graph(name=name, path=path, source="")
        self.layouts: list[Layout] = []
        self.dims: list[tuple[int, ...]] = []  # the framework's dims, batch first
        self.used: dict[str, int] = {}

    # --- tensors ---------------------------------------------------------------------------

    def tensor(self, dims: tuple[int, ...], form: Layout) -> int:
        if len(self.dims) >= MAX_TENSORS:
            raise ImportFailure(f"the model has more than {MAX_TENSORS:,} tensors")
        if len(dims) <= 2:  # (N, features): wherever the channels were, a vector now
            form = layouts.FLAT
        try:
            self.graph.shapes.append(layouts.convert(form, dims))
        except layouts.LayoutError as exc:
            raise Unsupported(str(exc)) from None
        self.layouts.append(form)
        self.dims.append(dims)
        return len(self.dims) - 1

    def input(self, dims: tuple[int, ...]) -> int:
        """The model's input, channels first (N, C, spatial...) as frameworks take images."""
        try:
            self.graph.input = self.tensor(dims, layouts.default(len(dims)))
        except Unsupported as exc:
            raise ImportFailure(f"the model's input: {exc}") from None
        return self.graph.input

    def shape(self, tensor: int) -> Shape:
        return self.graph.shapes[tensor]

    def layout(self, tensor: int) -> Layout:
        return self.layouts[tensor]

    def unique(self, name: str) -> str:
        """Names are unique: a module called three times (ResNet's relu) gets -2, -3."""
        base = safe_name(name)
        count = self.used.get(base, 0) + 1
        self.used[base] = count
        return base if count == 1 else f"{base}-{count}"

    def require(self, tensor: int, *forms: str, what: str) -> None:
        """Refuse ``what`` unless the tensor is laid out as one of ``forms``."""
        if self.layout(tensor).form not in forms:
            raise Unsupported(f"{what} on a tensor laid out as ({self.layout(tensor)})")

    # --- ops -------------------------------------------------------------------------------

    def emit(self, name: str, origin: str, kind: str, inputs: tuple[int, ...],
             dims: tuple[int, ...], form: Layout, *, layer: Layer | None = None,
             params: int = 0, buffers: int = 0, span: tuple[int, int] = (0, 0),
             reason: str = "", fn: tuple[str, float] | None = None) -> int:
        out = self.tensor(dims, form)
        facts = Facts(self.shape(out), params, buffers)
        self.graph.ops.append(Op(self.unique(name), origin, kind, inputs, out, facts, layer,
                                 span, reason, fn))
        return out

    def layer(self, name: str, origin: str, kind: str, layer: Layer, x: int,
              dims: tuple[int, ...], *, params: int = 0, buffers: int = 0,
              form: Layout | None = None) -> int:
        """A convcalc layer reading ``x``; ``dims`` is the framework's output shape.

        The layer must give what the framework says it gives (output, params, buffers):
        where convcalc's rule differs from the framework's (ONNX's ceil mode keeps a last
        window that starts in the padding; torch and convcalc drop it) the op is refused.
        """
        form = form or self.layout(x)
        try:
            theirs = layouts.convert(form, dims)
            effect = self.sized(layer, x).apply(self.shape(x))
        except layouts.LayoutError as exc:
            raise Unsupported(str(exc)) from None
        except LayerError as exc:
            raise Unsupported(f"convcalc's {kind} refuses it: {exc.message}") from None
        ours = (effect.output, effect.params, effect.buffers)
        if ours != (theirs, params, buffers):
            raise Unsupported(f"convcalc's {kind} gives output {effect.output}, "
                              f"{effect.params:,} params, {effect.buffers:,} buffers where "
                              f"the model gives {theirs}, {params:,}, {buffers:,}")
        return self.emit(name, origin, kind, (x,), dims, form, layer=layer, params=params,
                         buffers=buffers)

    def sized(self, layer: Layer, x: int) -> Layer:
        """The layer as the graph's size rules compute it (Keras' and Caffe's models carry
        their framework's; convcalc.rules)."""
        from convcalc.rules import DEFAULT, rules_named

        return rules_named(self.graph.rules or DEFAULT).adapt(layer, self.shape(x),
                                                               refuse=False)

    def merge(self, name: str, origin: str, op: str, inputs: tuple[int, ...],
              dims: tuple[int, ...]) -> int:
        """``add``, ``mul`` (a 1x1 operand broadcast) or ``concat`` along the channels."""
        forms = {self.layout(x) for x in inputs}
        if len(forms) > 1:
            raise Unsupported(f"{op} of tensors laid out differently ("
                              f"{'; '.join(sorted(map(str, forms)))})")
        return self.emit(name, origin, op, inputs, dims, self.layout(inputs[0]))

    def part(self, name: str, origin: str, x: int, span: tuple[int, int],
             dims: tuple[int, ...]) -> int:
        """Channels ``span`` (start, stop) of ``x``: one output of a channel split."""
        return self.emit(name, origin, "part", (x,), dims, self.layout(x), span=span)

    def unsupported(self, name: str, origin: str, inputs: tuple[int, ...],
                    dims: tuple[int, ...] | None, reason: str,
                    fn: tuple[str, float] | None = None) -> int:
        """A node convcalc cannot express: kept, so that every such node is named at once
        and ``--allow-opaque`` can stand in for it (when its output shape is known)."""
        if dims is None:
            reason += "; its output shape is unknown"
        same_rank = bool(inputs) and dims is not None and len(dims) == len(self.dims[inputs[0]])
        form = self.layout(inputs[0]) if same_rank else layouts.default(len(dims or ()))
        try:
            out = self.emit(name, origin, "unsupported", inputs, dims or (1, 1), form,
                            reason=reason, fn=fn)
        except Unsupported as exc:  # a shape convcalc cannot hold: say both
            out, dims = self.emit(name, origin, "unsupported", inputs, (1, 1), layouts.FLAT,
                                  reason=f"{reason}; {exc}"), None
        if dims is None:
            self.graph.ops[-1] = dataclasses.replace(self.graph.ops[-1], shape_known=False)
        return out

    def view(self, name: str, origin: str, x: int, dims: tuple[int, ...],
             form: Layout) -> int:
        """A view (reshape, permute, squeeze...) as the layer it amounts to (``flatten``,
    ``channel-shuffle``, ``tokens`` where the positions become one axis), or an alias."""
        old = self.layout(x)
        if old.form in ("first", "last") and form.form == "flat" and self.shape(x).spatial:
            return self.layer(name, origin, "flatten", _flatten(), x, dims, form=form)
        if old.form == "swapped" and form.form == "first":
            return self.layer(name, origin, "channel-shuffle", _shuffle(old.groups), x, dims,
                              form=form)
        if len(self.shape(x).spatial) > 1 and len(dims) == 3 and form.form in ("first", "last"):
            return self.layer(name, origin, "tokens", _tokens(), x, dims, form=form)
        return self.alias(x, dims, form)

    def alias(self, x: int, dims: tuple[int, ...], form: Layout) -> int:
        """The same numbers under other framework dims or layout: an identity op, which the
        lowering drops (the graph stays a graph of ops)."""
        if form == self.layout(x) and dims == self.dims[x]:
            return x
        out = self.tensor(dims, form)
        if self.shape(out) != self.shape(x):
            raise Unsupported(f"a view from {list(self.dims[x])} to {list(dims)} changes "
                              f"convcalc's shape {self.shape(x)} to {self.shape(out)}")
        self.graph.ops.append(Op("", "view", "alias", (x,), out, Facts(self.shape(x))))
        return out


def _flatten() -> Layer:
    from convcalc.layers.dense import Flatten

    return Flatten()


def _tokens() -> Layer:
    from convcalc.layers.tokens import Tokens

    return Tokens()


def _shuffle(groups: int) -> Layer:
    from convcalc.layers.simple import ChannelShuffle

    return ChannelShuffle(groups)
