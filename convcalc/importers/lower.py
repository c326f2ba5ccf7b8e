"""From the op graph to a :class:`~convcalc.model.Model`: a DAG as nested merges.

A spec is series-parallel: a list of layers, where a merge's branches all read one tensor
and are joined into one. A DAG of ops is lowered by walking back from the output along the
dominator tree: a one-input op is the previous item of a list; a merge's branches are
walked back, each to the nearest tensor that dominates the merge (the fork all branches
read). A graph that is not series-parallel visits some op twice, and is refused naming it.

The model carries the real model's totals as ``expect`` claims, and :func:`lower` checks
convcalc's analysis against the facts the framework gave for every layer before anything is
written: an importer that misread an op fails here, loudly, rather than write a wrong spec.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from itertools import pairwise

from convcalc.arith import Status
from convcalc.importers.graph import MERGES, Facts, Graph, ImportFailure, Op, Totals
from convcalc.importers.patterns import rewrite
from convcalc.layers import KINDS
from convcalc.model import Claim, LayerNode, Merge, Model, Node, Waiver
from convcalc.problem import ERROR, Problem, Where
from convcalc.shape import Shape


@dataclass(frozen=True)
class Imported:
    """An imported model, the real model's facts per layer and merge name, and notes."""

    model: Model
    facts: dict[str, Facts]
    totals: Totals
    notes: tuple[str, ...]


def lower(graph: Graph, allow_opaque: bool = False) -> Imported:
    """The model of a graph, checked against the graph's facts; ImportFailure otherwise."""
    at = Where(graph.path, 0, 0)
    ops, output = _without_aliases(graph.ops, graph.output)
    ops, output = _without_aliases(rewrite(ops), output)
    ops = _opaque(_live(ops, output), graph.path, allow_opaque)
    walk = _Walk(ops, graph.input, at, graph.shapes)
    layers = walk.chain(graph.input, output)
    assert graph.totals is not None
    totals = graph.totals
    claims = (Claim("params", totals.params, at),
              Claim("non_trainable_params", totals.buffers, at),
              Claim("macs", totals.macs, at), Claim("output", totals.output, at))
    model = Model(name=graph.name, source=graph.source, path=graph.path,
                  input=graph.shapes[graph.input], input_at=at, layers=tuple(layers),
                  expect=claims, rules=graph.rules)
    facts = {op.name: op.facts for op in ops}
    return Imported(_checked(model, facts), facts, totals, tuple(graph.notes))


def _without_aliases(ops: list[Op], output: int) -> tuple[list[Op], int]:
    """Drop alias ops (views that change no number), pointing their readers at the source."""
    same: dict[int, int] = {}
    result = []
    for op in ops:
        inputs = tuple(same.get(t, t) for t in op.inputs)
        if op.kind == "alias":
            same[op.output] = inputs[0]
            continue
        result.append(op if inputs == op.inputs else dataclasses.replace(op, inputs=inputs))
    return result, same.get(output, output)


def _live(ops: list[Op], output: int) -> list[Op]:
    """The ops the output depends on, in their order (the rest never runs at inference)."""
    producer = {op.output: op for op in ops}
    needed, stack = {output}, [output]
    while stack:
        op = producer.get(stack.pop())
        for tensor in op.inputs if op else ():
            if tensor not in needed:
                needed.add(tensor)
                stack.append(tensor)
    return [op for op in ops if op.output in needed]


def _opaque(ops: list[Op], path: str, allow: bool) -> list[Op]:
    """Ops convcalc cannot express: opaque layers when allowed and possible, else refused,
    every one named (one line each)."""
    from convcalc.layers.opaque import Opaque

    result: list[Op] = []
    problems: list[Problem] = []
    for op in ops:
        if op.kind != "unsupported":
            result.append(op)
            continue
        if allow and len(op.inputs) == 1 and op.shape_known:
            result.append(dataclasses.replace(op, kind="opaque",
                                              layer=Opaque(op.origin, op.facts.output)))
            continue
        why = op.reason
        if allow:
            why += ("; an opaque layer needs one input tensor and a known output shape")
        problems.append(Problem(path, 0, 0, ERROR, "unsupported-op",
                                f"{op.name} ({op.origin}): {why}"))
    if problems:
        hint = "" if allow else " (--allow-opaque keeps going with opaque layers)"
        if len(problems) == 1:
            only = problems[0]
            problems[0] = dataclasses.replace(only, message=only.message + hint)
        raise ImportFailure(f"{len(problems)} op(s) convcalc cannot express{hint}",
                            tuple(problems))
    return result


class _Walk:
    """The walk back from the output along the dominator tree (Cooper, Harvey & Kennedy's
    intersection, on a DAG whose ops come in execution order)."""

    def __init__(self, ops: list[Op], start: int, at: Where, shapes: list[Shape]) -> None:
        self.at = at
        self.shapes = shapes
        self.producer = {op.output: op for op in ops}
        self.rank = {start: 0} | {op.output: i for i, op in enumerate(ops, 1)}
        self.idom: dict[int, int] = {}
        for op in ops:
            missing = [t for t in op.inputs if t not in self.rank]
            if missing:
                raise ImportFailure(f"{op.name} ({op.origin}) reads a tensor that does not "
                                    "come from the model's input (a second input, or a "
                                    "constant convcalc cannot place)")
            self.idom[op.output] = self.meet(op.inputs)
        self.visited: set[int] = set()

    def meet(self, tensors: tuple[int, ...]) -> int:
        """The nearest tensor that every path to all of ``tensors`` passes through."""
        first, *rest = tensors
        for other in rest:
            while first != other:
                if self.rank[first] > self.rank[other]:
                    first = self.idom[first]
                else:
                    other = self.idom[other]
        return first

    def chain(self, start: int, end: int) -> list[Node]:
        """The items from tensor ``start`` to ``end`` (which ``start`` dominates)."""
        return self.branch(start, end, split=False)[0]

    def branch(self, start: int, end: int, split: bool) -> tuple[list[Node], tuple[int, int]]:
        """The items from ``start`` to ``end``; with ``split``, a channel part of ``start``
        may begin the branch, and its span is returned."""
        items: list[Node] = []
        span = (0, 0)
        tensor = end
        while tensor != start:
            op = self.producer[tensor]
            if op.output in self.visited:
                raise ImportFailure(f"{op.name} ({op.origin}) is read from two places that "
                                    "are not one branch point: the graph is not series-"
                                    "parallel, so no spec of merges can write it")
            self.visited.add(op.output)
            if op.kind in MERGES:
                fork = self.idom[op.output]
                items.append(self.merge(op, fork))
                tensor = fork
                continue
            if op.kind == "part":
                if not (split and op.inputs[0] == start):
                    raise ImportFailure(f"{op.name} ({op.origin}) takes part of the channels "
                                        "without a concat that joins every part again")
                span = op.span
            else:
                assert op.layer is not None
                items.append(LayerNode(op.layer, op.kind, op.name, self.at))
            tensor = op.inputs[0]
        items.reverse()
        return items, span

    def merge(self, op: Op, fork: int) -> Node:
        if op.kind != "concat":
            return Merge(op.kind, tuple(tuple(self.chain(fork, x)) for x in op.inputs),
                         op.name, self.at)
        walked = self.concat_branches(op, op.inputs, fork)
        branches = tuple(tuple(items) for items, _ in walked)
        spans = [span for _, span in walked]
        if all(span == (0, 0) for span in spans):
            return Merge("concat", branches, op.name, self.at)
        if spans[0][0] != 0 or any(a[1] != b[0] for a, b in pairwise(spans)) or \
                spans[-1][1] != self.shapes[fork].channels:
            raise ImportFailure(f"{op.name} ({op.origin}) joins channel parts "
                                f"{', '.join(f'{a}:{b}' for a, b in spans)} of "
                                f"{self.shapes[fork].channels} out of order, with gaps, or "
                                "with a part left out: no split can write it")
        sizes = tuple(b - a for a, b in spans)
        parts = None if len(set(sizes)) == 1 else sizes
        return Merge("split", branches, op.name, self.at, parts=parts)

    def below(self, tensor: int, fork: int) -> int | None:
        """The tensor right below ``fork`` on ``tensor``'s dominator path (None: the fork)."""
        if tensor == fork:
            return None
        while self.idom[tensor] != fork:
            tensor = self.idom[tensor]
        return tensor

    def concat_branches(self, op: Op, inputs: tuple[int, ...], fork: int
                        ) -> list[tuple[list[Node], tuple[int, int]]]:
        """A concat's branches, each with the channel span of ``fork`` it starts from
        ((0, 0): the whole of it). Inputs that meet below the fork are a concat of their own
        (exporters fuse nested concats, as Inception's into one); concat is associative, so
        they become a nested concat, as long as they are side by side."""
        runs: list[list[int]] = []
        roots: list[int | None] = []
        for x in inputs:
            root = self.below(x, fork)
            if runs and root is not None and root == roots[-1]:
                runs[-1].append(x)
                continue
            if root is not None and root in roots:
                raise ImportFailure(f"{op.name} ({op.origin}) joins branches of one fork "
                                    "that are not side by side, which no nesting of merges "
                                    "can write")
            runs.append([x])
            roots.append(root)
        walked: list[tuple[list[Node], tuple[int, int]]] = []
        for run in runs:
            if len(run) == 1:
                walked.append(self.branch(fork, run[0], split=True))
                continue
            inner = self.meet(tuple(run))
            items, span = self.branch(fork, inner, split=True)
            below = self.concat_branches(op, tuple(run), inner)
            if any(span != (0, 0) for _, span in below):
                raise ImportFailure(f"{op.name} ({op.origin}) joins channel parts inside a "
                                    "concat, which no split can write")
            nested = [items for items, _ in below]
            items.append(Merge("concat", tuple(tuple(b) for b in nested),
                               f"{op.name}.{len(walked) + 1}", self.at))
            walked.append((items, span))
        return walked


def _waived(model: Model, lossy: set[str]) -> Model:
    """A size the model floors with loss is what the real model computes: the spec says so
    with ``allow: lossy`` on that layer, rather than fail its own check."""
    waiver = Waiver("lossy", "as the imported model computes it", model.input_at)

    def waive(nodes: tuple[Node, ...]) -> tuple[Node, ...]:
        result: list[Node] = []
        for node in nodes:
            if isinstance(node, LayerNode) and node.name in lossy:
                node = dataclasses.replace(node, waiver=waiver)
            elif isinstance(node, Merge):
                node = dataclasses.replace(node, branches=tuple(waive(b) for b in node.branches))
            result.append(node)
        return tuple(result)

    return dataclasses.replace(model, layers=waive(model.layers))


def _checked(model: Model, facts: dict[str, Facts]) -> Model:
    """convcalc's analysis against the framework's facts, row by row, then the totals.

    A difference is the importer's fault (an op misread), so it is an error, never a spec.
    """
    from convcalc.analysis import analyze

    report = analyze(model)
    lossy = {row.name for row in report.rows if row.size_status is Status.LOSSY}
    if lossy:
        model = _waived(model, lossy)
        report = analyze(model)
    errors = [p for p in report.problems if p.level == ERROR]
    for row in report.rows:
        fact = facts.get(row.name)
        if fact is None:
            continue
        ours = (row.output_shape, row.params, row.non_trainable_params)
        theirs = (fact.output, fact.params, fact.buffers)
        if ours != theirs if row.kind in KINDS else row.output_shape != fact.output:
            raise ImportFailure(f"convcalc reads {row.name} ({row.kind}) as output "
                                f"{row.output_shape}, {row.params:,} params, "
                                f"{row.non_trainable_params:,} buffers, but the model gives "
                                f"{fact.output}, {fact.params:,}, {fact.buffers:,}: an "
                                "importer bug, please report it")
    if errors:
        raise ImportFailure(f"the imported model does not check: {errors[0].message}",
                            tuple(errors))
    return model
