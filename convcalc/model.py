"""A loaded architecture: a tree of layers, merges and blocks, each with its position."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from convcalc.layers.base import Layer
from convcalc.problem import Where
from convcalc.shape import Shape


@dataclass(frozen=True)
class Waiver:
    """``allow: lossy`` on a layer: that size status is accepted, for a stated reason."""

    status: str  # "harmless" or "lossy"
    reason: str
    at: Where


@dataclass(frozen=True)
class LayerNode:
    """One layer of the spec: the layer kind's value, its name and where it was written."""

    layer: Layer
    kind: str  # registry name
    name: str
    at: Where
    fields_at: dict[str, Where] = field(default_factory=dict, compare=False)
    waiver: Waiver | None = None


@dataclass(frozen=True)
class Merge:
    """Branches that all read the same input, joined by ``op``."""

    op: str  # "concat", "add" or "mul"
    branches: tuple[tuple[Node, ...], ...]  # an empty branch is the identity
    name: str
    at: Where


@dataclass(frozen=True)
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
    rules: str | None = None  # the framework whose rules the spec declares (`rules: caffe`)
