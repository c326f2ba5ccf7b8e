"""The structure a flat model's names imply, and the items that write it.

A model's layer names are paths: ``layer1.0.conv1`` (an imported PyTorch module) or
``bottleneck-stage1.bottleneck2.add1.b1.conv1`` (a block call of a spec). Runs of nodes that
share a first path segment are a :class:`Part`, a candidate block call; parts nest. The
writer then decides which parts become calls of a block and which are written in place.

Names are written only where the reader would not generate the same one: the reader names
an unnamed layer ``{prefix}{kind}{n}`` (n counting the unnamed layers of that kind in the
list), and :class:`Naming` mirrors that count.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any

from convcalc.language.written import Call, Fork, Item, Leaf, Run, kind_fields
from convcalc.model import Group, LayerNode, Merge
from convcalc.model import Node as ModelNode

MAX_PERIOD = 64  # the longest run of items `repeat` folds as one unit


# --- a model without its groups -------------------------------------------------------------


def flatten(nodes: Sequence[ModelNode]) -> tuple[LayerNode | Merge, ...]:
    """The model's nodes with every block call (Group) replaced by its children."""
    flat: list[LayerNode | Merge] = []
    for node in nodes:
        if isinstance(node, Group):
            flat += flatten(node.children)
        elif isinstance(node, Merge):
            flat.append(dataclasses.replace(node, branches=tuple(
                flatten(branch) for branch in node.branches)))
        else:
            flat.append(node)
    return tuple(flat)


def leaves(nodes: Sequence[LayerNode | Merge]) -> Iterator[LayerNode]:
    for node in nodes:
        if isinstance(node, LayerNode):
            yield node
        else:
            for branch in node.branches:
                yield from leaves(branch)  # type: ignore[arg-type]


# --- parts: the hierarchy in the names ------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Branching:
    """A merge whose branches have been split into parts."""

    merge: Merge
    branches: tuple[tuple[Tree, ...], ...]
    spec_style: bool  # its branches' names are the reader's ``merge.bK.`` paths


@dataclass(eq=False)
class Part:
    """Consecutive nodes whose names share a first segment: a module, or a block call."""

    segment: str
    children: tuple[Tree, ...]
    path: str  # the names of its nodes start with this (it ends in a dot)
    block: str | None = None  # the block it calls; None: written in place
    args: tuple[tuple[str, object], ...] = ()
    shape_class: int = -1
    height: int = 1  # 1 + the height of the highest part inside it
    channels: int = 0  # the channels of its input (0: unknown)
    unnamed: bool = False  # cut at a merge, not found in the names: its call has no name


Tree = LayerNode | Branching | Part


def _spec_style(merge: Merge) -> bool:
    return all(node.name.startswith(f"{merge.name}.b{number}.")
               for number, branch in enumerate(merge.branches, 1) for node in branch)


def _directory(names: list[str]) -> str:
    """The longest dotted prefix (ending in a dot) that all ``names`` share."""
    if not names:
        return ""
    first, last = min(names), max(names)
    common = 0
    while common < min(len(first), len(last)) and first[common] == last[common]:
        common += 1
    return first[:first.rfind(".", 0, common) + 1] if common else ""


def _home(node: LayerNode | Merge, prefix: str) -> str | None:
    """The first segment of the part ``node`` belongs to, below ``prefix``; None: none."""
    if isinstance(node, LayerNode) or _spec_style(node):
        path = node.name
    else:  # an imported merge: it lives where its layers do
        path = _directory([leaf.name for leaf in leaves([node])]) + "~"
    if not path.startswith(prefix):
        return None
    rest = path[len(prefix):]
    return rest.split(".", 1)[0] if "." in rest else None


def parts(nodes: Sequence[LayerNode | Merge], prefix: str = "",
          units: bool = False) -> tuple[Tree, ...]:
    """``nodes`` with each run under one name segment gathered into a :class:`Part`.

    With ``units``, a list whose names have no segments (``Conv_12``) is cut at its merges
    instead: each merge with the activations after it is a part (ResNet's add and relu).
    """
    homes = [_home(node, prefix) for node in nodes]
    if units and all(home is None for home in homes) and \
            sum(isinstance(node, Merge) for node in nodes) >= 2:
        return _units(nodes, prefix)
    trees: list[Tree] = []
    start = 0
    for segment, run in groupby(homes):
        count = len(list(run))
        members = nodes[start:start + count]
        start += count
        if segment is None:
            trees += [_tree(node, prefix, units) for node in members]
        else:
            path = f"{prefix}{segment}."
            trees.append(Part(segment, parts(members, path, units), path))
    return tuple(trees)


# Layers that follow a merge and go with it: no weights, no change of shape.
_TRAILING = {"relu", "relu6", "leaky-relu", "silu", "gelu", "sigmoid", "tanh", "hard-swish",
             "hard-sigmoid", "dropout", "identity", "channel-shuffle"}


def _units(nodes: Sequence[LayerNode | Merge], prefix: str) -> tuple[Tree, ...]:
    trees: list[Tree] = []
    start = 0
    while start < len(nodes):
        end = start + 1
        if isinstance(nodes[start], Merge):
            while end < len(nodes) and isinstance(nodes[end], LayerNode) and \
                    nodes[end].kind in _TRAILING:  # type: ignore[union-attr]
                end += 1
            trees.append(Part("", tuple(_tree(node, prefix, True) for node in nodes[start:end]),
                              prefix, unnamed=True))
        else:
            trees.append(_tree(nodes[start], prefix, True))
        start = end
    return tuple(trees)


def _tree(node: LayerNode | Merge, prefix: str, units: bool) -> Tree:
    if isinstance(node, LayerNode):
        return node
    style = _spec_style(node)
    return Branching(node, tuple(
        parts(branch, f"{node.name}.b{number}." if style else prefix,  # type: ignore[arg-type]
              units) for number, branch in enumerate(node.branches, 1)), style)


# --- names ----------------------------------------------------------------------------------

# Words that name a layer's kind, as frameworks spell them: `conv1`, `relu_2` and `bn` say
# no more than the kind and the position.
_GENERIC_WORDS = {"conv", "bn", "batchnorm", "norm", "relu", "act", "activation", "fc",
                  "linear", "dense", "pool", "maxpool", "avgpool", "gap", "dropout", "drop",
                  "flatten", "add", "mul", "cat", "concat", "identity", "sigmoid", "silu",
                  "gelu", "tanh", "softmax", "hardswish", "hardsigmoid", "upsample", "lrn",
                  "pad", "zeropad", "shuffle", "depthwise", "dwconv", "layer", "block"}


def _word(text: str) -> str:
    return re.sub(r"[\d_\-]", "", text).lower()


def informative(name: str, stem: str) -> bool:
    """Whether a name's last segment says more than the kind (or block) ``stem`` and the
    position: ``features.0``, ``conv1``, ``relu_2`` and ``bottleneck3`` do not."""
    word = _word(name.rsplit(".", 1)[-1])
    return bool(word) and word != _word(stem) and word not in _GENERIC_WORDS and \
        word not in _KIND_WORDS


def _kind_words() -> set[str]:
    from convcalc.layers import ALIASES, KINDS

    return {_word(name) for name in (*KINDS, *ALIASES)}


_KIND_WORDS = _kind_words()


@dataclass
class Naming:
    """The names of one list as the reader makes them: ``real`` is the reader's prefix,
    ``logical`` the prefix of the model's own names (they differ inside an imported merge,
    whose layers the reader puts under ``add1.b1.``)."""

    real: str
    logical: str
    keep: bool  # every name is written; else only informative ones
    counters: dict[str, int] = field(default_factory=dict)

    def name(self, full: str, stem: str) -> tuple[str | None, str]:
        """The name to write for a node named ``full`` (None: the generated one), and the
        name the reader gives it."""
        number = self.counters.get(stem, 0) + 1
        local = full[len(self.real):] if full.startswith(self.real) else \
            full[len(self.logical):] if full.startswith(self.logical) else full
        if local != f"{stem}{number}" and (self.keep or informative(local, stem)):
            return local, self.real + local
        self.counters[stem] = number
        return None, f"{self.real}{stem}{number}"

    def inner(self, real: str, logical: str) -> Naming:
        return Naming(real, logical, self.keep)


# --- items ----------------------------------------------------------------------------------


_KEYS: dict[Any, tuple[tuple[str, object], ...]] = {}


def fields_of(layer: Any) -> tuple[tuple[str, object], ...]:
    """A layer's keys and values (layers are values: a model repeats a few many times)."""
    found = _KEYS.get(layer)
    if found is None:
        found = tuple((f.name, getattr(layer, f.name)) for f in kind_fields(type(layer)))
        if len(_KEYS) < 4096:
            _KEYS[layer] = found
    return found


def leaf_of(node: LayerNode, naming: Naming) -> Leaf:
    name, _ = naming.name(node.name, node.kind)
    waiver = (node.waiver.status, node.waiver.reason) if node.waiver else None
    return Leaf(node.kind, fields_of(node.layer), name, waiver)


def fold(items: Sequence[Item]) -> list[Item]:
    """Runs of equal consecutive items, or of equal consecutive groups of up to MAX_PERIOD
    items, written once with ``repeat``; the longest run wins, then the shortest unit."""
    numbers: dict[Item, int] = {}
    ids = [numbers.setdefault(item, len(numbers)) for item in items]  # cheap to compare
    following: dict[int, int] = {}
    after = [0] * len(ids)  # the next position holding an equal item; 0: none
    for position in range(len(ids) - 1, -1, -1):
        after[position] = following.get(ids[position], 0)
        following[ids[position]] = position
    folded: list[Item] = []
    start = 0
    while start < len(ids):
        best_cover, best_period = 0, 0
        other = after[start]
        while other and other - start <= MAX_PERIOD:
            period = other - start
            copies = 1
            unit = ids[start:other]
            while ids[start + copies * period:start + (copies + 1) * period] == unit:
                copies += 1
            if copies >= 2 and copies * period > best_cover:
                best_cover, best_period = copies * period, period
            other = after[other]
        while best_period and start + best_cover < len(ids) and \
                ids[start + best_cover] == ids[start]:
            # the run shifted by one is as long: write the first item alone, so that a run
            # of stages ends with its pooling ([conv, conv, pool] x 2, not [pool, conv, conv])
            folded.append(items[start])
            start += 1
        if best_period:
            folded.append(repeated(fold(items[start:start + best_period]),
                                   best_cover // best_period))
            start += best_cover
        else:
            folded.append(items[start])
            start += 1
    return folded


def repeated(unit: Sequence[Item], copies: int) -> Item:
    if len(unit) == 1 and unit[0].repeat == 1 and unit[0].when is True:
        return dataclasses.replace(unit[0], repeat=copies)
    return Run(tuple(unit), copies)


def convert(trees: Sequence[Tree], naming: Naming) -> list[Item]:
    """The items that write ``trees`` in a list named by ``naming``, folded."""
    items: list[Item] = []
    for tree in trees:
        if isinstance(tree, LayerNode):
            items.append(leaf_of(tree, naming))
        elif isinstance(tree, Branching):
            items.append(fork_of(tree, naming))
        elif tree.block is None:
            items += convert(tree.children, naming)
        else:
            name, _ = naming.name("" if tree.unnamed else tree.path[:-1], tree.block)
            items.append(Call(tree.block, tree.args, name))
    return fold(items)


def fork_of(tree: Branching, naming: Naming) -> Fork:
    merge = tree.merge
    name, read = naming.name(merge.name, merge.op)
    branches = []
    for number, branch in enumerate(tree.branches, 1):
        logical = f"{merge.name}.b{number}." if tree.spec_style else naming.logical
        branches.append(tuple(convert(branch, naming.inner(f"{read}.b{number}.", logical))))
    return Fork(merge.op, tuple(branches), name, parts=merge.parts)
