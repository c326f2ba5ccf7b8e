"""``verify --against``: a spec against a real model, layer by layer and in total.

The real side is an import of the model (its facts come from the framework: shapes from
its own shape propagation, counts from its own tensors). The layers that hold params or
buffers are paired in the order they run, by a sequence alignment (``difflib``) of what
each holds and gives, so a spec may name its layers as it likes and leave out layers that
hold nothing (an activation, a flatten): their effect shows in the next layer's shape and
in the totals. A merge's branches may be written in another order than the model runs them
(RegNet runs its shortcut first, the spec may write it last): the layers the alignment left
unpaired are then paired by what they hold. The first pair that differs is named.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from difflib import SequenceMatcher

from convcalc.importers.graph import Facts
from convcalc.importers.lower import Imported
from convcalc.layers import KINDS
from convcalc.model import Model, layer_nodes
from convcalc.report import Report
from convcalc.shape import Shape

Held = tuple[int, int, Shape]  # params, buffers, output shape


@dataclass(frozen=True)
class Side:
    """One layer as one side sees it."""

    name: str
    kind: str
    params: int
    buffers: int
    output: Shape

    @property
    def held(self) -> Held:
        return self.params, self.buffers, self.output


@dataclass(frozen=True)
class Pair:
    """A layer of the spec and the model's layer it stands for (None: missing there)."""

    spec: Side | None
    model: Side | None

    @property
    def agrees(self) -> bool:
        return self.spec is not None and self.model is not None and \
            self.spec.held == self.model.held


@dataclass(frozen=True)
class Total:
    key: str
    spec: int | Shape
    model: int | Shape

    @property
    def agrees(self) -> bool:
        return self.spec == self.model


@dataclass(frozen=True)
class Against:
    """Every weighted layer paired, and the totals."""

    source: str
    pairs: tuple[Pair, ...]
    totals: tuple[Total, ...]

    @property
    def first(self) -> Pair | None:
        return next((p for p in self.pairs if not p.agrees), None)

    @property
    def agrees(self) -> bool:
        return self.first is None and all(t.agrees for t in self.totals)


def _weighted(sides: list[Side]) -> list[Side]:
    return [s for s in sides if s.params or s.buffers]


def spec_sides(report: Report) -> list[Side]:
    return [Side(row.name, row.kind, row.params, row.non_trainable_params, row.output_shape)
            for row in report.rows if row.kind in KINDS]


def model_sides(model: Model, facts: dict[str, Facts]) -> list[Side]:
    return [Side(node.name, node.kind, facts[node.name].params, facts[node.name].buffers,
                 facts[node.name].output) for node in layer_nodes(model.layers)]


def _pair_moved(pairs: list[Pair]) -> tuple[Pair, ...]:
    """The pairs, with a layer the alignment left unpaired (or paired with another) joined
    to the other side's unpaired layer that holds and gives the same, wherever it is."""
    spare: dict[Held, list[Side]] = defaultdict(list)
    for pair in pairs:
        if not pair.agrees and pair.spec is not None:
            spare[pair.spec.held].append(pair.spec)
    found: dict[int, Side] = {}  # id of a model side → the spec side it pairs with
    for pair in pairs:
        if not pair.agrees and pair.model is not None and spare[pair.model.held]:
            found[id(pair.model)] = spare[pair.model.held].pop(0)
    taken = {id(side) for side in found.values()}
    out: list[Pair] = []
    for pair in pairs:
        if pair.agrees:
            out.append(pair)
            continue
        model = pair.model
        if model is not None and id(model) in found:
            out.append(Pair(found[id(model)], model))
            model = None
        spec = pair.spec if pair.spec is not None and id(pair.spec) not in taken else None
        if spec is not None or model is not None:
            out.append(Pair(spec, model))
    return tuple(out)


def compare(report: Report, imported: Imported) -> Against:
    ours = _weighted(spec_sides(report))
    theirs = _weighted(model_sides(imported.model, imported.facts))
    matcher = SequenceMatcher(None, [s.held for s in ours], [s.held for s in theirs],
                              autojunk=False)
    pairs: list[Pair] = []
    for _, a0, a1, b0, b1 in matcher.get_opcodes():
        left, right = ours[a0:a1], theirs[b0:b1]
        for i in range(max(len(left), len(right))):
            pairs.append(Pair(left[i] if i < len(left) else None,
                              right[i] if i < len(right) else None))
    real = imported.totals
    spec = report.totals
    totals = (Total("params", spec.params, real.params),
              Total("buffers", spec.non_trainable_params, real.buffers),
              Total("MACs", spec.macs, real.macs),
              Total("output", spec.output_shape, real.output))
    return Against(imported.model.source, _pair_moved(pairs), totals)
