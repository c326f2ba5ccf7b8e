"""A report's rows as the model's tree: what a diagram draws.

Every node of a model gives exactly one row one level below its parent (a block's or a
merge's row, then the rows below it), so the model's branches split a merge's rows and the
rows need no second walk of the layers.
"""

from __future__ import annotations

from dataclasses import dataclass

from convcalc.model import Group, LayerNode, Model
from convcalc.model import Node as ModelNode
from convcalc.report import Report, Row


@dataclass(frozen=True)
class Item:
    """One row and what is below it: a block's one sequence, or a merge's branches."""

    index: int  # the row's place in report.rows
    row: Row
    branches: tuple[tuple[Item, ...], ...] = ()  # a block: one sequence; a merge: one each
    merge: bool = False


def tree(model: Model, report: Report) -> tuple[Item, ...]:
    """The input's item, then the model's top-level items, in order. An analysis stopped
    at an error gives the items it finished (a block it stopped inside has no row)."""
    items = [Item(0, report.rows[0])]
    walk = _Walk(report.rows, 1)
    items += walk.sequence(model.layers)
    return tuple(items)


class _Walk:
    def __init__(self, rows: tuple[Row, ...], at: int) -> None:
        self.rows, self.at = rows, at
        self.stopped = False  # the rows ran out, or the analysis stopped inside a node

    def sequence(self, nodes: tuple[ModelNode, ...]) -> list[Item]:
        items = []
        for node in nodes:
            if self.at >= len(self.rows) or self.rows[self.at].name != node.name:
                self.stopped = True
            if self.stopped:
                break
            items.append(self.item(node))
        return items

    def item(self, node: ModelNode) -> Item:
        index = self.at
        self.at += 1
        if isinstance(node, LayerNode):
            return Item(index, self.rows[index])
        if isinstance(node, Group):
            return Item(index, self.rows[index], (tuple(self.sequence(node.children)),))
        branches = tuple(tuple(self.sequence(branch)) for branch in node.branches)
        return Item(index, self.rows[index], branches, merge=True)
