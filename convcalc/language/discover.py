"""Which parts of a model become calls of one block, and with what arguments.

Parts (runs of nodes under one name segment, :mod:`structure`) are first sorted into
classes by their coarse shape: the kinds of their items, merges by operator and branch
count, inner parts by class, runs of one item collapsed. A class is then made into one
block by :func:`unify.unify` when its members differ only in values and in parts that come
and go; else it is split by exact shape, then by exact body, and what is left alone is
written in place. Classes are handled inner ones first, so a block's body can call the
blocks found inside it.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any

from convcalc.language.structure import Branching, Naming, Part, Tree, convert
from convcalc.language.unify import Features, Template, head, unify
from convcalc.language.written import Block, Call, Cond, Fork, Item, Leaf, Ref, Run
from convcalc.layers.merge import MERGES
from convcalc.model import LayerNode
from convcalc.problem import LayerError
from convcalc.shape import Shape

_TAKEN = {"layers", "args", "if", "repeat", "name", "allow", "reason", "parts", "add",
          "concat", "mul", "split", "blocks", "defaults", "input", "expect", "budget",
          "include", "source"}
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]*[A-Za-z]|[A-Za-z]")
_BY_MERGE = {"add": "residual", "concat": "branches", "mul": "gate", "split": "split-unit"}


def all_parts(trees: Sequence[Tree]) -> Iterator[Part]:
    """Every part below ``trees``, inner parts before the part that holds them."""
    for tree in trees:
        if isinstance(tree, Part):
            yield from all_parts(tree.children)
            yield tree
        elif isinstance(tree, Branching):
            for branch in tree.branches:
                yield from all_parts(branch)


def annotate(trees: Sequence[Tree], x: Shape | None,
             seen: dict[tuple[Any, Shape], Shape]) -> Shape | None:
    """Record each part's input channels (a condition may compare them); the output shape,
    or None once a layer cannot take its input (the channels are then unknown, 0)."""
    for tree in trees:
        if x is None:
            return None
        if isinstance(tree, LayerNode):
            key = (tree.layer, x)
            if key not in seen:
                try:
                    seen[key] = tree.layer.apply(x).output
                except LayerError:
                    return None
            x = seen[key]
        elif isinstance(tree, Branching):
            try:
                outputs = [annotate(branch, inner, seen) for branch, inner in
                           zip(tree.branches, tree.merge.inputs(x), strict=True)]
                x = MERGES[tree.merge.op]([o for o in outputs if o is not None]) \
                    if None not in outputs else None
            except LayerError:
                return None
        else:
            tree.channels = x.channels
            x = annotate(tree.children, x, seen)
    return x


def _coarse(part: Part) -> tuple[Any, ...]:
    found: list[Any] = []
    for child in part.children:
        if isinstance(child, LayerNode):
            mark: Any = ("layer", child.kind)
        elif isinstance(child, Branching):
            mark = ("merge", child.merge.op, len(child.branches), child.merge.parts)
        else:
            mark = ("part", child.shape_class)
        if not found or found[-1] != mark:
            found.append(mark)
    return tuple(found)


def _shape(items: Sequence[Item]) -> tuple[Any, ...]:
    """A body with its values left out: members of one shape differ in values only."""
    found: list[Any] = []
    for item in items:
        if isinstance(item, Leaf):
            found.append(("layer", item.kind, item.name))
        elif isinstance(item, Fork):
            found.append(("merge", item.op, item.name, item.parts,
                          tuple(_shape(b) for b in item.branches)))
        elif isinstance(item, Call):
            found.append(("call", item.block, item.name))
        else:
            found.append(("run", _shape(item.items)))
    return tuple(found)


def _texts(items: Sequence[Item]) -> Iterator[str]:
    """The names and reasons of a body: text that `$` would turn into a reference."""
    for item in items:
        if not isinstance(item, Run) and item.name is not None:
            yield item.name
        if isinstance(item, Leaf) and item.waiver is not None:
            yield from item.waiver
        if isinstance(item, Fork):
            for branch in item.branches:
                yield from _texts(branch)
        elif isinstance(item, Run):
            yield from _texts(item.items)


def _heads(body: Sequence[Item]) -> tuple[Any, ...]:
    return tuple(head(item) for item in body)


def _peeled(bodies: list[tuple[Item, ...]]) -> list[tuple[Item, ...]]:
    """The bodies with a repeated item's first copy apart where that gives the items of
    most bodies: a stage of three alike blocks reads as the first and two more, as the
    stages whose first block differs do."""
    common = Counter(_heads(body) for body in bodies).most_common(1)[0][0]
    found = []
    for body in bodies:
        if _heads(body) != common:
            for index, item in enumerate(body):
                if type(item.repeat) is int and item.repeat >= 2:
                    rest = dataclasses.replace(item, repeat=item.repeat - 1)
                    peeled = (*body[:index], dataclasses.replace(item, repeat=1), rest,
                              *body[index + 1:])
                    if _heads(peeled) == common:
                        body = peeled
                        break
        found.append(body)
    return found


class Discovery:
    """Finds the blocks of a model's parts; ``keep`` keeps every name."""

    def __init__(self, trees: Sequence[Tree], keep: bool, features: Features) -> None:
        self.trees = trees
        self.keep = keep
        self.features = features
        self.blocks: list[Block] = []
        self.members: dict[str, list[dict[str, Any]]] = {}
        self.defaults: dict[str, dict[str, Any]] = {}

    def run(self, x: Shape) -> None:
        if self.features.channels:
            annotate(self.trees, x, {})
        found = list(all_parts(self.trees))
        classes: dict[tuple[Any, ...], int] = {}
        for part in found:
            part.shape_class = classes.setdefault(_coarse(part), len(classes))
        members: dict[int, list[Part]] = {}
        for part in found:
            part.height = 1 + max((inner.height for inner in all_parts(part.children)),
                                  default=0)
            members.setdefault(part.shape_class, []).append(part)
        # Inner classes first: a part's class is numbered after the classes of the parts it
        # holds, and is higher than they are (a class whose members differ in height may
        # still come first: its bodies then hold those parts in place).
        for number in sorted(members, key=lambda n: (max(p.height for p in members[n]), n)):
            self.settle(members[number])

    def body(self, part: Part) -> tuple[Item, ...]:
        return tuple(convert(part.children, Naming(part.path, part.path, self.keep)))

    def settle(self, parts: list[Part]) -> None:
        """Make blocks of one class's parts: the whole class, else by shape, else by body."""
        bodies = _peeled([self.body(part) for part in parts])
        if len(parts) >= 2 and self.make(parts, bodies):
            return
        by_shape: dict[tuple[Any, ...], list[int]] = {}
        for index, body in enumerate(bodies):
            by_shape.setdefault(_shape(body), []).append(index)
        for indices in by_shape.values():
            if len(indices) >= 2 and len(by_shape) > 1 and self.make(
                    [parts[i] for i in indices], [bodies[i] for i in indices]):
                continue
            by_body: dict[tuple[Item, ...], list[int]] = {}
            for index in indices:
                by_body.setdefault(bodies[index], []).append(index)
            for same in by_body.values():
                if len(same) >= 2:
                    self.make([parts[i] for i in same], [bodies[i] for i in same])

    def make(self, parts: list[Part], bodies: list[tuple[Item, ...]]) -> bool:
        """One block for ``parts`` if they share a body worth a block."""
        template = unify(bodies, [part.channels for part in parts], self.keep, self.features,
                         self.defaults)
        if template is None or not self.worth(template.body) or any(
                "$" in text for text in _texts(template.body)):
            return False
        name = self.name(parts, template)
        self.blocks.append(Block(name, template.args, template.body))
        self.members[name] = list(template.values)
        self.defaults[name] = dict(template.args)
        for part, values in zip(parts, template.values, strict=True):
            part.block = name
            part.args = tuple((arg, value) for (arg, default), value in
                              zip(template.args, values.values(), strict=True)
                              if value != default or type(value) is not type(default))
        return True

    def worth(self, body: tuple[Item, ...]) -> bool:
        """A block holds a merge, or two items or more: one layer is clearer in place; but
        when every name is kept, a block also saves writing its calls' names in full."""
        if len(body) >= 2 or isinstance(body[0], Fork | Run):
            return True
        return self.keep and (isinstance(body[0], Call) or body[0].repeat != 1)

    def name(self, parts: list[Part], template: Template) -> str:
        """The segment the parts share, without its number (``bottleneck`` from
        ``bottleneck3``), else a word for what the body does; never a kind or keyword."""
        stems = [re.sub(r"[\d_.-]+$", "", part.segment) for part in parts]
        stem = max(sorted(set(stems)), key=stems.count) if stems else ""
        if not self.keep:
            stem = stem.lower().replace("_", "-")
        if not self.usable(stem):
            fork = next((item for item in template.body if isinstance(item, Fork)), None)
            stem = _BY_MERGE.get(fork.op, "block") if fork else "block"
        taken = {block.name for block in self.blocks}
        name, letter = stem, ord("b")
        while name in taken or not self.usable(name):
            name, letter = f"{stem}-{chr(letter)}", letter + 1
        return name

    @staticmethod
    def usable(name: str) -> bool:
        from convcalc.language.shorthand import read_shorthand
        from convcalc.layers import lookup

        return bool(_NAME.fullmatch(name)) and name.lower() not in _TAKEN and \
            lookup(name) is None and read_shorthand(name) is None and name not in (
                "true", "false", "null", "yes", "no", "on", "off", "y", "n")


# --- blocks used once -----------------------------------------------------------------------


def _calls(items: Sequence[Item]) -> Iterator[Call]:
    for item in items:
        if isinstance(item, Call):
            yield item
        elif isinstance(item, Fork):
            for branch in item.branches:
                yield from _calls(branch)
        elif isinstance(item, Run):
            yield from _calls(item.items)


class _Unsayable(Exception):
    """A body's value cannot be said with the arguments of the place it would move to."""


def _compose(value: Any, given: dict[str, Any]) -> Any:
    """A body's value with the call's arguments in place of its own."""
    if isinstance(value, Ref):
        outer = given[value.arg]
        if isinstance(outer, Ref):
            offset = value.scale * outer.offset + value.offset
            if offset.denominator != 1:
                raise _Unsayable
            return Ref(outer.arg, value.scale * outer.scale, int(offset))
        if isinstance(outer, Cond):
            if value.scale != 1 or value.offset != 0:
                raise _Unsayable
            return outer
        return value.value(given)
    if isinstance(value, Cond):
        if value.differs is not None:
            raise _Unsayable  # `channels` would be another layer's input once in place
        assert value.arg is not None
        outer = given[value.arg]
        return Cond(outer.arg) if isinstance(outer, Ref) else outer
    return value


def _substitute(items: Sequence[Item], given: dict[str, Any]) -> tuple[Item, ...]:
    result: list[Item] = []
    for item in items:
        changes: dict[str, Any] = {"repeat": _compose(item.repeat, given),
                                   "when": _compose(item.when, given)}
        if isinstance(item, Leaf):
            changes["fields"] = tuple((k, _compose(v, given)) for k, v in item.fields)
        elif isinstance(item, Fork):
            changes["branches"] = tuple(_substitute(b, given) for b in item.branches)
        elif isinstance(item, Call):
            changes["args"] = tuple((k, _compose(v, given)) for k, v in item.args)
        else:
            changes["items"] = _substitute(item.items, given)
        if changes["when"] is False or changes["repeat"] == 0:
            continue
        result.append(dataclasses.replace(item, **changes))
    return tuple(result)


def _replace_call(items: Sequence[Item], block: Block) -> tuple[Item, ...]:
    """``items`` with the call of ``block`` written in place."""
    result: list[Item] = []
    for item in items:
        if isinstance(item, Call) and item.block == block.name:
            given = {**dict(block.args), **dict(item.args)}
            body = _substitute(block.body, given)
            if item.repeat == 1 and item.when is True:
                result += body
            else:
                result.append(Run(body, item.repeat, item.when))
        elif isinstance(item, Fork):
            result.append(dataclasses.replace(item, branches=tuple(
                _replace_call(branch, block) for branch in item.branches)))
        elif isinstance(item, Run):
            result.append(dataclasses.replace(item, items=_replace_call(item.items, block)))
        else:
            result.append(item)
    return tuple(result)


def _small(block: Block) -> bool:
    """A body of a few layers, which reads as well in place as in a block."""
    return len(block.body) <= 3 and all(isinstance(item, Leaf) for item in block.body)


def prune(blocks: list[Block], layers: tuple[Item, ...],
          in_place: bool) -> tuple[list[Block], tuple[Item, ...]]:
    """Blocks nothing calls are dropped; with ``in_place``, a block called from one place
    only is written there when it runs once, or is small (and its body can be said there)."""
    changed = True
    while changed:
        changed = False
        sites = Counter(call.block for call in _calls(layers))
        once = {call.block for call in _calls(layers) if call.repeat == 1}
        for block in blocks:
            sites.update(call.block for call in _calls(block.body))
        for block in blocks:
            if sites[block.name] == 0:
                blocks = [b for b in blocks if b is not block]
                changed = True
                break
            if in_place and sites[block.name] == 1 and (block.name in once or _small(block)):
                try:
                    new_layers = _replace_call(layers, block)
                    new_blocks = [dataclasses.replace(b, body=_replace_call(b.body, block))
                                  for b in blocks if b is not block]
                except _Unsayable:
                    continue
                blocks, layers, changed = new_blocks, new_layers, True
                break
    return blocks, layers
