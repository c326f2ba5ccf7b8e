"""Merges and conditions: ``concat``, ``add``, ``mul`` and ``split`` with their branches, and
the ``if`` that leaves an item or a branch out.

A merge's branches all read the merge's input; a split's each read a part of its channels
(equal parts, or the sizes ``parts`` gives) and their outputs are concatenated. A branch
written as one item with ``if`` is left out when the condition is false, and a merge left
with one branch is that branch, written in place.
"""

from __future__ import annotations

from convcalc.language.base import Scope, outside_block, plain
from convcalc.language.blocks import BlockReader
from convcalc.language.expressions import show
from convcalc.language.shapes import Current, Unknown
from convcalc.language.yamltree import Map, Node, Scalar, Seq
from convcalc.layers.merge import split
from convcalc.model import Merge
from convcalc.model import Node as ModelNode
from convcalc.problem import LayerError
from convcalc.shape import Shape


class MergeReader(BlockReader):
    """Reads merges and conditions; layer lists and items are the builder's."""

    def item(self, node: Node, scope: Scope) -> list[ModelNode]:
        """The layers of one item of a list (the builder's)."""
        raise NotImplementedError

    def holds(self, condition: Node) -> bool:
        """Whether an item's ``if`` holds: ``true``/``false``, or a ``$(…)`` that gave one."""
        value = plain(condition)
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and "$" in value:
            self.problem(condition, "undefined-argument", outside_block(value))
        else:
            self.problem(condition, "bad-condition", f"if needs true or false, such as "
                         f"$(stride == 1); got {show(value)}")
        return False

    def merge(self, op: str, at: Scalar, value: Node, modifiers: dict[str, Node],
              scope: Scope) -> list[ModelNode]:
        if not self.expect_type(value, Seq, f"the branches of {op}"):
            return []
        assert isinstance(value, Seq)
        conditions = [b.get("if") if isinstance(b, Map) else None for b in value.items]
        conditional = [b for b, c in zip(value.items, conditions, strict=True) if c is not None]
        if op == "split" and conditional:
            self.problem(conditional[0], "bad-layer", "a split's branches cannot have `if`: "
                         "each takes its part of the channels")
            return []
        kept = [b for b, c in zip(value.items, conditions, strict=True)
                if c is None or self.holds(c)]
        if len(kept) < len(value.items) and len(kept) <= 1:
            # A merge left with one branch is that branch, written in place; with none, nothing.
            return [node for branch in kept for node in self.branch(branch, scope)]
        if not kept:
            self.problem(value, "bad-layer", f"{op} needs at least one branch")
            return []
        parts = self.parts(modifiers.get("parts"))
        name = scope.name(plain(modifiers["name"]) if "name" in modifiers else None, op)
        where = self.where(at)
        branches, outputs = [], []
        for number, (branch, start) in enumerate(zip(kept, self.starts(op, len(kept), parts,
                                                                         name, at), strict=True),
                                                 1):
            self.x = start
            branches.append(tuple(self.branch(branch, scope.inner(f"{name}.b{number}"))))
            outputs.append(self.x)
        self.join(op, outputs, name, where)
        return [Merge(op, tuple(branches), name, where, parts)]

    def branch(self, node: Node, scope: Scope) -> list[ModelNode]:
        """A branch: a list of items, or one item."""
        return self.items(node, scope) if isinstance(node, Seq) else self.item(node, scope)

    def parts(self, node: Node | None) -> tuple[int, ...] | None:
        """A split's ``parts``: channels per branch."""
        if node is None:
            return None
        value = plain(node)
        if isinstance(value, list) and value and all(
                isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value):
            return tuple(value)
        self.problem(node, "wrong-type", f"parts is a list of channel counts, one per branch "
                     f"(e.g. [24, 40]), got {value!r}")
        return None

    def starts(self, op: str, count: int, parts: tuple[int, ...] | None, name: str,
               at: Scalar) -> list[Current]:
        """The shape each branch starts from: the merge's input, or a split's part of it."""
        if op != "split" or not isinstance(self.x, Shape):
            return [self.x] * count
        try:
            return list(split(self.x, count, parts))
        except LayerError as exc:
            return [Unknown(self.where(at), exc.code, f"{name}: {exc.message}")] * count
