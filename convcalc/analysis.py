"""From a model to its report: rows, totals and problems, no drawing.

``analyze(model)`` walks the model once, in order, carrying the shape and the receptive
field; its cost is linear in the number of layers.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from fractions import Fraction

from convcalc.arith import Status, format_fraction
from convcalc.layers.base import Effect, Layer
from convcalc.layers.merge import MERGES
from convcalc.measure import (
    Field,
    advance,
    bounded,
    field_values,
    row_of,
    sizes_of,
    start_field,
)
from convcalc.model import Claim, Group, LayerNode, Merge, Model
from convcalc.model import Node as ModelNode
from convcalc.problem import ERROR, INFO, WARNING, LayerError, Problem, Where
from convcalc.report import AxisSize, Report, Row, Settings, Totals
from convcalc.rules import Rules, rules_named
from convcalc.shape import Shape


def size_message(row: Row) -> str:
    """``conv1: H, W (224 − 11)/4 + 1 = 54.25, floored to 54 (lossy: …)``, one line."""
    parts: dict[str, list[str]] = {}
    for size in row.sizes:
        if size.status is Status.EXACT:
            continue
        text = f"{format_fraction(size.exact)} {'rounded' if size.ceil else 'floored'} to " \
               f"{size.output} ({size.status.value}"
        text += f": {size.lost} input row(s)/column(s) never seen)" if size.lost else \
            ": no real input lost)"
        fixes = ", ".join(f"{f.param} {f.value}" for f in size.fixes[:3])
        parts.setdefault(text + (f"; exact with {fixes}" if fixes else ""), []).append(size.axis)
    return f"{row.name}: " + "; ".join(f"{', '.join(axes)} {text}" for text, axes in
                                      parts.items())


def _grid_text(grid: tuple[tuple[int | Fraction, Fraction], ...]) -> str:
    """``stride 32, centre 0.5`` (one axis or all alike) or per axis in brackets."""
    texts = [f"stride {format_fraction(j)}, centre {format_fraction(c)}" for j, c in grid]
    return texts[0] if len(set(texts)) == 1 else "(" + "; ".join(texts) + ")"


@dataclass
class _Walk:
    """The state of one walk over a model: rows and problems so far."""

    strict: bool
    rows: list[Row]
    problems: list[Problem]
    # A layer's numbers depend on the layer and its input only: the copies of a repeated
    # block (ResNet-152 has 36 alike in one stage) are measured once.
    measured: dict[tuple[Layer, Shape], tuple[Effect, tuple[AxisSize, ...]]]
    rules: Rules  # the framework whose sizes the walk computes
    refuse: bool  # whether what that framework refuses is a problem
    stopped: Problem | None = None  # the problem that ended the walk early

    def stop(self, at: Where, code: str, message: str) -> None:
        self.problem(at, code, message)
        self.stopped = self.problems[-1]

    def problem(self, at: Where, code: str, message: str, level: str = ERROR) -> None:
        self.problems.append(Problem(at.path, at.line, at.col, level, code, message))

    def sequence(self, nodes: tuple[ModelNode, ...], x: Shape, field: Field,
                 depth: int) -> tuple[Shape, Field] | None:
        for node in nodes:
            if isinstance(node, LayerNode):
                result = self.layer(node, x, field, depth)
            elif isinstance(node, Merge):
                result = self.merge(node, x, field, depth)
            else:
                result = self.group(node, x, field, depth)
            if result is None:
                return None
            x, field = result
        return x, field

    def layer(self, node: LayerNode, x: Shape, field: Field,
              depth: int) -> tuple[Shape, Field] | None:
        known = self.measured.get((node.layer, x))
        try:
            if known is None:
                effect = self.rules.adapt(node.layer, x, self.refuse).apply(x)
                known = self.measured[node.layer, x] = effect, sizes_of(x, effect)
            effect, sizes = known
            after = advance(field, x, effect)
            bounded(effect, after)
        except LayerError as exc:
            at = node.fields_at.get(exc.field, node.at) if exc.field else node.at
            self.stop(at, exc.code, f"{node.name}: {exc.message} (input {x})")
            return None
        for code, message in effect.warnings:
            self.problem(node.at, code, f"{node.name}: {message}", WARNING)
        row = row_of(node.layer, x, effect, node.name, after, depth, node.at, sizes)
        self.rows.append(self.judge_sizes(node, row))
        return effect.output, after

    def judge_sizes(self, node: LayerNode, row: Row) -> Row:
        """Lossy sizes are errors, harmless ones too when strict, unless waived."""
        status = row.size_status
        if status is Status.EXACT or (status is Status.HARMLESS and not self.strict):
            return row
        waiver = node.waiver
        if waiver is not None and Status(waiver.status).rank >= status.rank:
            note = f"allowed: {waiver.status}" + (f" ({waiver.reason})" if waiver.reason else "")
            self.problem(waiver.at, "waived-size", f"{size_message(row)}; {note}", INFO)
            return dataclasses.replace(row, notes=(*row.notes, note))
        self.problem(node.at, "non-integer-size", size_message(row))
        return row

    def merge(self, node: Merge, x: Shape, field: Field,
              depth: int) -> tuple[Shape, Field] | None:
        header = len(self.rows)
        outputs: list[tuple[Shape, Field]] = []
        try:
            inputs = node.inputs(x)
        except LayerError as exc:
            self.problem(node.at, exc.code, f"{node.name}: {exc.message}")
            return None
        for branch, start in zip(node.branches, inputs, strict=True):
            result = self.sequence(branch, start, field, depth + 1)
            if result is None:
                return None
            outputs.append(result)
        try:
            out = MERGES[node.op]([shape for shape, _ in outputs])
        except LayerError as exc:
            self.stop(node.at, exc.code, f"{node.name}: {exc.message}")
            return None
        merged = self.merge_fields(node, outputs)
        self.summarise(header, node.name, node.op, depth, x, out, merged, node.at,
                       own_activations=out.size, branches=len(node.branches))
        return out, merged

    def merge_fields(self, node: Merge, outputs: list[tuple[Shape, Field]]) -> Field:
        """The largest field per axis; branches whose grids disagree are reported.

        Broadcast branches (1x1, as in squeeze-and-excitation) take no part in alignment.
        """
        fields = [f for _, f in outputs]
        if any(f is None for f in fields):
            return None
        spatial = [f for (shape, f) in outputs if any(size > 1 for size in shape.spatial)]
        grids = {tuple((j, Fraction(r - 1, 2) - pad) for r, j, pad in f) for f in spatial if f}
        if len(grids) > 1:
            described = " versus ".join(sorted(_grid_text(grid) for grid in grids))
            self.problem(node.at, "misaligned-merge", f"{node.name}: the branches' receptive "
                         f"fields are not aligned: {described}", WARNING)
        chosen = [f for f in (spatial or fields) if f is not None]
        return tuple(max(axis, key=lambda values: values[0]) for axis in zip(*chosen, strict=True))

    def group(self, node: Group, x: Shape, field: Field,
              depth: int) -> tuple[Shape, Field] | None:
        header = len(self.rows)
        result = self.sequence(node.children, x, field, depth + 1)
        if result is None:
            return None
        out, after = result
        self.summarise(header, node.name, node.block, depth, x, out, after, node.at)
        return result

    def summarise(self, header: int, name: str, kind: str, depth: int, x: Shape, out: Shape,
                  field: Field, at: Where, own_activations: int = 0, branches: int = 0) -> None:
        """Insert a block's or merge's row, with the totals of the rows below it."""
        below = [row for row in self.rows[header:] if row.depth == depth + 1]
        status = max((row.size_status for row in below), key=lambda s: s.rank,
                     default=Status.EXACT)
        self.rows.insert(header, Row(
            name=name, kind=kind, depth=depth, input_shape=x, output_shape=out,
            params=sum(r.params for r in below), biases=sum(r.biases for r in below),
            non_trainable_params=sum(r.non_trainable_params for r in below),
            macs=sum(r.macs for r in below),
            attention_macs=sum(r.attention_macs for r in below),
            scores=sum(r.scores for r in below),
            activations=own_activations + sum(r.activations for r in below),
            size_status=status, sizes=(), receptive_field=field_values(field), notes=(),
            line=at.line, col=at.col, rows_below=len(self.rows) - header, branches=branches,
            file=at.path))


def analyze(model: Model, settings: Settings | None = None, strict: bool = False,
            known: tuple[Problem, ...] = (), budget: tuple[Claim, ...] = ()) -> Report:
    """The report of a model: a row per layer, merge and block, totals and problems.

    ``strict`` makes harmless non-integer sizes errors too; ``known`` problems (from
    loading) are carried into the report; ``budget`` adds limits to the spec's own. Sizes
    follow the rules the settings name, else the spec's declared ones, else PyTorch's.
    """
    settings = (settings or Settings()).for_model(model.rules)
    x = model.input
    input_row = Row(name="input", kind="input", depth=0, input_shape=x, output_shape=x,
                    params=0, biases=0, non_trainable_params=0, macs=0, activations=x.size,
                    size_status=Status.EXACT, sizes=(),
                    receptive_field=field_values(start_field(x)), notes=(),
                    line=model.input_at.line, col=model.input_at.col, file=model.input_at.path)
    walk = _Walk(strict, [input_row], list(known), {}, rules_named(settings.rules),
                 settings.checks_refusals)
    result = walk.sequence(model.layers, x, start_field(x), 0)
    top = [row for row in walk.rows if row.depth == 0]
    totals = Totals(params=sum(r.params for r in top), biases=sum(r.biases for r in top),
                    non_trainable_params=sum(r.non_trainable_params for r in top),
                    macs=sum(r.macs for r in top), activations=sum(r.activations for r in top),
                    output_shape=result[0] if result else walk.rows[-1].output_shape,
                    attention_macs=sum(r.attention_macs for r in top),
                    scores=sum(r.scores for r in top))
    if result is not None:
        walk.problems += claims_problems(model, totals, settings, budget)
    return Report(name=model.name, source=model.source, path=model.path, input_shape=x,
                  rows=tuple(walk.rows), totals=totals, settings=settings,
                  problems=tuple(sorted(set(walk.problems))), stopped=walk.stopped)


def totals_value(key: str, totals: Totals, settings: Settings) -> int | Shape:
    """A total by the name ``expect`` and ``budget`` use.

    ``memory`` is the forward activations at the batch plus the parameters and buffers.
    """
    values: dict[str, int | Shape] = {
        "params": totals.params, "trainable_params": totals.params,
        "trainable": totals.params, "non_trainable": totals.non_trainable_params,
        "non_trainable_params": totals.non_trainable_params, "macs": totals.macs,
        "flops": 2 * totals.macs, "activations": totals.activations,
        "output": totals.output_shape,
        "memory": settings.bytes_of(totals.activations)
        + (totals.params + totals.non_trainable_params) * settings.dtype_bytes,
    }
    return values[key]


def claims_problems(model: Model, totals: Totals, settings: Settings,
                    budget: tuple[Claim, ...] = ()) -> list[Problem]:
    """``expect`` values that the totals do not meet, and budgets the totals exceed."""
    problems = []

    def problem(claim: Claim, code: str, message: str) -> None:
        problems.append(Problem(claim.at.path, claim.at.line, claim.at.col, ERROR, code, message))

    for claim in model.expect:
        actual = totals_value(claim.key, totals, settings)
        if actual != claim.value:
            shown = f"{actual:,}" if isinstance(actual, int) else str(actual)
            wanted = f"{claim.value:,}" if isinstance(claim.value, int) else str(claim.value)
            problem(claim, "expect-mismatch", f"expect {claim.key} {wanted}, but the spec "
                    f"gives {shown}")
    for claim in (*model.budget, *budget):
        actual = totals_value(claim.key, totals, settings)
        assert isinstance(actual, int) and isinstance(claim.value, int)
        if actual > claim.value:
            unit = " bytes" if claim.key == "memory" else ""
            origin = f" ({claim.origin})" if claim.origin else ""
            problem(claim, "over-budget", f"{claim.key} {actual:,}{unit} exceeds the budget "
                    f"of {claim.value:,}{unit}{origin}")
    return problems
