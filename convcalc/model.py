"""A loaded architecture: a tree of layers, merges and blocks, each with its position."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from convcalc.layers.base import Layer
from convcalc.layers.merge import split
from convcalc.problem import Where
from convcalc.shape import Shape


@dataclass(frozen=True)
class Waiver:
    """``allow: lossy`` on a layer: that size status is accepted, for a stated reason."""

    status: str  # "harmless" or "lossy"
    reason: str
    at: Where


NO_PLACES: Mapping[str, Where] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class LayerNode:
    """One layer of the spec: the layer kind's value, its name and where it was written."""

    layer: Layer
    kind: str  # registry name
    name: str
    at: Where
    # where each key was written, when not at the layer itself (a default, a long form)
    fields_at: Mapping[str, Where] = field(default_factory=lambda: NO_PLACES, compare=False)
    waiver: Waiver | None = None


@dataclass(frozen=True, slots=True)
class Merge:
    """Branches that all read the same input, joined by ``op``; or, for ``split``, each reads
    a part of the input's channels (equal parts, or ``parts``) and their outputs are
    concatenated."""

    op: str  # "concat", "add", "mul" or "split"
    branches: tuple[tuple[Node, ...], ...]  # an empty branch is the identity
    name: str
    at: Where
    parts: tuple[int, ...] | None = None  # a split's channels per branch; None: equal parts

    def inputs(self, x: Shape) -> tuple[Shape, ...]:
        """What each branch reads; raises LayerError when a split's parts do not fit ``x``."""
        if self.op != "split":
            return (x,) * len(self.branches)
        return split(x, len(self.branches), self.parts)


@dataclass(frozen=True, slots=True)
class Group:
    """One call of a block: shown as one row when collapsed."""

    block: str
    children: tuple[Node, ...]
    name: str
    at: Where


Node = LayerNode | Merge | Group


def layer_nodes(nodes: tuple[Node, ...]) -> Iterator[LayerNode]:
    """Every layer below ``nodes``, in the order they run (branches in turn)."""
    for node in nodes:
        if isinstance(node, LayerNode):
            yield node
        elif isinstance(node, Group):
            yield from layer_nodes(node.children)
        else:
            for branch in node.branches:
                yield from layer_nodes(branch)


@dataclass(frozen=True)
class Claim:
    """One value of an ``expect`` or ``budget`` block."""

    key: str
    value: int | Shape
    at: Where
    origin: str = ""  # the command-line option a budget came from, if any


@dataclass(frozen=True)
class Model:
    """A whole spec, built: its input, its layer tree and its claims."""

    name: str
    source: str
    path: str
    input: Shape
    input_at: Where
    layers: tuple[Node, ...]
    expect: tuple[Claim, ...] = ()
    budget: tuple[Claim, ...] = ()
    torchvision: str = ""  # the torchvision model it reproduces, e.g. "resnet50"
    rules: str | None = None  # the framework whose rules the spec declares (`rules: caffe`)
    # Set when building read the input's shape (a block used `channels` or `height`): another
    # input needs another build, not just another input. It gives the model built for a
    # shape, or raises SpecError with the problems of that build.
    rebuild: Callable[[Shape], Model] | None = field(default=None, compare=False, repr=False)


def with_input(model: Model, shape: Shape) -> Model:
    """The model for another input: built again if its layers depend on the input's shape.

    Raises :class:`~convcalc.problem.SpecError` when it cannot be built for ``shape``.
    """
    if model.rebuild is not None:
        return model.rebuild(shape)
    return dataclasses.replace(model, input=shape)
