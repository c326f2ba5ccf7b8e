"""From a model to its report: rows, totals and problems, no drawing.

An analysis walks the model twice, in order, carrying the shape and the receptive field.
The first walk sums every block's and merge's numbers and finds every problem; the second
gives the rows one at a time, so that the report of a large model can be written out as it
is made. Both are linear in the number of layers, and what repeats is worked out once: a
layer's numbers depend only on the layer and its input (ResNet-152 has 465 layers, 51
distinct pairs), and a block's or merge's only on what it holds and its input, so the copies
of a repeated block share their sums, their receptive field following by an affine map.
Only each copy's names, positions and fields are its own.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from convcalc.arith import Status, format_fraction
from convcalc.layers.base import Effect, Layer
from convcalc.layers.merge import MERGES
from convcalc.measure import Field, bounded, field_values, row_of, start_field
from convcalc.model import Claim, Group, LayerNode, Merge, Model
from convcalc.model import Node as ModelNode
from convcalc.problem import ERROR, INFO, WARNING, LayerError, Problem, Where
from convcalc.report import DEFAULT_RULES, ReceptiveField, Report, Row, Settings, Totals
from convcalc.shape import Shape
from convcalc.units import LIMIT

if TYPE_CHECKING:
    from convcalc.rules import Rules


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


# A number per row, summed as a report sums its numbers: each block's and merge's row holds
# its own plus that of every row below it (operations under a counting convention, say).
# It reads a row's kind, shapes and numbers only (a block's or merge's own row is made
# without its name or receptive field).
Tally = Callable[[Row], int]


@dataclass(frozen=True, slots=True)
class Sums:
    """What a layer, block or merge adds up to: the numbers of its rows and their worst
    size status; ``rows`` counts its own row and those below it."""

    params: int
    biases: int
    non_trainable: int
    macs: int
    attention_macs: int
    scores: int
    activations: int
    rows: int
    status: Status
    tallies: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Measured:
    """One layer on one input: its effect, and its row with the parts that are each copy's
    own (name, depth, position, receptive field) still blank."""

    layer: Layer  # kept alive: measurements are found by the layer's identity
    effect: Effect
    row: Row
    sums: Sums
    steps: Steps
    axes: int  # the axes its steps are for: a field with other axes ends (0: any field)
    judged: bool  # its size is not exact, or it warns: each copy is judged (and warned)

    def advance(self, field: Field) -> Field:
        """The receptive field after the layer (``measure.advance``, its steps worked out)."""
        steps = self.steps
        if field is None or steps is None or (self.axes and self.axes != len(field)):
            return None
        if not steps:
            return field
        return tuple((r + a * j, j * s, pad + p * j)
                     for (r, j, pad), (a, s, p) in zip(field, steps, strict=True))


# How a layer moves a receptive field, per axis: (k̂ − 1, s, p) turns (r, j, P) into
# (r + (k̂ − 1)·j, j·s, P + p·j); () leaves it as it is; None: it covers the whole input.
Steps = tuple[tuple[int, int | Fraction, int | Fraction], ...] | None


def _steps(x: Shape, effect: Effect) -> Steps:
    if effect.global_field:
        return None
    if effect.keeps_field:
        return ()
    if len(effect.output.spatial) != len(x.spatial):
        return None
    steps = tuple((step.kernel - 1, step.stride, step.pad) for step in effect.rf)
    return () if all(step == (0, 1, 0) for step in steps) else steps


# How a block or merge moves a receptive field, per axis: (A, B, C) turns the field
# (r, j, P) before it into (r + j·A, j·B, P + j·C) after it; GLOBAL: it covers the input.
Carry = tuple[tuple[int | Fraction, int | Fraction, int | Fraction], ...] | None
GLOBAL: Carry = None


@dataclass(frozen=True, slots=True)
class Done:
    """A block or merge worked out for one input: what every copy of it shares."""

    output: Shape
    sums: Sums
    carry: Carry
    clean: bool  # no problem was found below it: a copy need not be walked again
    last: Shape  # the output of its last row (the report's, should the walk stop after it)
    reach: Reach | None = None  # how large its fields grew (None: it cannot vouch for a copy)

    def field_after(self, before: Field) -> Field:
        if before is None or self.carry is None:  # GLOBAL
            return None
        return tuple((r + j * a, j * b, pad + j * c)
                     for (r, j, pad), (a, b, c) in zip(before, self.carry, strict=True))


@dataclass(frozen=True, slots=True)
class Reach:
    """How large the receptive fields inside a block or merge grew, when it was worked out
    with whole fields: enough to bound those of a copy without walking it.

    Inside, each value is ``e + j·K`` (``e`` the field's size or padding before it, or 0;
    ``j`` its jump; ``K`` the block's own), so a copy entering with jumps ``n`` times these
    (``n`` whole) and values of at most ``m`` has whole values of at most
    ``m + n·(peak + entry)``: below ``LIMIT``, none of its layers is too large.
    """

    peak: int  # the largest value of any field inside
    entry: int  # the largest value of the field it was worked out with
    jumps: tuple[int | Fraction, ...]  # that field's jump per axis

    def bound(self, field: tuple[tuple[int | Fraction, ...], ...]) -> int | None:
        """The largest value a copy entering with ``field`` can have inside; None when this
        cannot say (a fraction, or jumps that are not multiples of these)."""
        most, whole = _extent(field)
        if not whole:
            return None
        times = 0
        for (_, jump, _), first in zip(field, self.jumps, strict=True):
            if jump % first:
                return None
            times = max(times, jump // first)
        return most + times * (self.peak + self.entry)


def _extent(field: tuple[tuple[int | Fraction, ...], ...]) -> tuple[int, bool]:
    """The largest numerator or denominator in a field, and whether its values are whole
    (``measure.bounded`` refuses a field whose extent reaches ``LIMIT``)."""
    most, whole = 0, True
    for axis in field:
        for value in axis:
            if type(value) is int:
                size = -value if value < 0 else value
            else:
                assert isinstance(value, Fraction)
                size = max(abs(value.numerator), value.denominator)
                whole = whole and value.denominator == 1
            if size > most:
                most = size
    return most, whole


def _over(top: int | Fraction, bottom: int | Fraction) -> int | Fraction:
    """An exact quotient, an int when it is whole."""
    if isinstance(top, int) and isinstance(bottom, int) and top % bottom == 0:
        return top // bottom
    quotient = Fraction(top) / bottom
    return quotient.numerator if quotient.denominator == 1 else quotient


def _carry(before: Field, after: Field) -> Carry:
    """The affine map that took ``before`` to ``after`` (advance and merges are affine)."""
    if before is None or after is None:
        return GLOBAL
    return tuple((_over(r2 - r1, j1), _over(j2, j1), _over(p2 - p1, j1))
                 for (r1, j1, p1), (r2, j2, p2) in zip(before, after, strict=True))


class Memo:
    """What one model's analyses share: measured layers, worked-out blocks and merges, and
    the structure of each. Analyses of one model at several input sizes (sweep, sizes) pass
    one memo; it must not outlive the model, whose objects it knows by identity. Its layers
    are sized by one set of rules (the first analysis's)."""

    def __init__(self, strict: bool = False, tallies: tuple[Tally, ...] = ()) -> None:
        self.strict, self.tallies = strict, tallies
        self.rules: tuple[str, bool] | None = None  # the rules' name, and if they refuse
        self.measured: dict[tuple[int, Shape], Measured] = {}
        self.done: dict[tuple[int, Shape, bool], Done] = {}
        self.keys: dict[int, int] = {}  # a block's or merge's structure, by its identity
        self.structures: dict[object, int] = {}

    def key(self, node: Group | Merge) -> int:
        """A number per distinct structure: the copies of a block get the same one."""
        known = self.keys.get(id(node))
        if known is None:
            if isinstance(node, Group):
                shape: object = (node.block, self.sequence_key(node.children))
            else:
                shape = (node.op, node.parts,
                         tuple(self.sequence_key(branch) for branch in node.branches))
            known = self.keys[id(node)] = self.structures.setdefault(shape,
                                                                     len(self.structures))
        return known

    def sequence_key(self, nodes: tuple[ModelNode, ...]) -> tuple[object, ...]:
        return tuple((id(node.layer), node.waiver) if isinstance(node, LayerNode)
                     else self.key(node) for node in nodes)


_RANK = {status: status.rank for status in Status}


class _Adding:
    """Sums being added up along a list of layers. A list repeats a few sums many times (its
    copies of a layer or a block share theirs): each is counted, and multiplied out once."""

    __slots__ = ("counts", "parts", "zero")

    def __init__(self, zero: tuple[int, ...]) -> None:
        self.zero = zero  # no tallies, or as many zeros as there are
        self.counts: dict[int, int] = {}  # by the identity of the sums
        self.parts: dict[int, Sums] = {}

    def add(self, sums: Sums) -> None:
        key = id(sums)
        count = self.counts.get(key)
        if count is None:
            self.parts[key] = sums
            self.counts[key] = 1
        else:
            self.counts[key] = count + 1

    def sums(self, own_activations: int = 0, own_rows: int = 0,
             own_tallies: tuple[int, ...] = ()) -> Sums:
        params = biases = non_trainable = macs = attention_macs = scores = 0
        activations, rows, rank = own_activations, own_rows, 0
        tallies = list(own_tallies or self.zero)
        for key, part in self.parts.items():
            count = self.counts[key]
            params += count * part.params
            biases += count * part.biases
            non_trainable += count * part.non_trainable
            macs += count * part.macs
            attention_macs += count * part.attention_macs
            scores += count * part.scores
            activations += count * part.activations
            rows += count * part.rows
            rank = max(rank, _RANK[part.status])
            for index, value in enumerate(part.tallies):
                tallies[index] += count * value
        return Sums(params, biases, non_trainable, macs, attention_macs, scores, activations,
                    rows, _STATUSES[rank], tuple(tallies))


_STATUSES = tuple(Status)


class Analysis:
    """One model analysed: totals and problems at once, the rows on demand.

    ``strict`` makes harmless non-integer sizes errors too; ``known`` problems (from
    loading) are carried into the report; ``budget`` adds limits to the spec's own;
    ``memo`` is shared with other analyses of the same model (its strictness, tallies and
    rules are this analysis's). Sizes follow the rules the settings name, else the spec's
    declared ones, else PyTorch's.
    """

    def __init__(self, model: Model, settings: Settings | None = None, strict: bool = False,
                 known: tuple[Problem, ...] = (), budget: tuple[Claim, ...] = (),
                 tallies: tuple[Tally, ...] = (), memo: Memo | None = None) -> None:
        self.model = model
        self.settings = (settings or Settings()).for_model(model.rules)
        self.memo = memo or Memo(strict, tallies)
        assert (self.memo.strict, self.memo.tallies) == (strict, tallies)
        sized_by = (self.settings.rules, self.settings.checks_refusals)
        assert self.memo.rules in (None, sized_by)
        self.memo.rules = sized_by
        self.refuse = self.settings.checks_refusals  # what its framework refuses is a problem
        self.rules: Rules | None = None  # the rules that size layers, unless convcalc's own
        if self.refuse or self.settings.rules != DEFAULT_RULES:
            from convcalc.rules import rules_named

            self.rules = rules_named(self.settings.rules)
        self.strict = strict
        self.found: list[Problem] = list(known)
        self.stopped: Problem | None = None  # the problem that ended the walk early
        self.zero = (0,) * len(tallies)
        x = model.input
        self.input_row = Row(
            name="input", kind="input", depth=0, input_shape=x, output_shape=x, params=0,
            biases=0, non_trainable_params=0, macs=0, activations=x.size,
            size_status=Status.EXACT, sizes=(), receptive_field=field_values(start_field(x)),
            notes=(), line=model.input_at.line, col=model.input_at.col,
            file=model.input_at.path)
        self.last = x  # the output of the last row (of the model, once it is walked)
        # the largest value of the fields walked since a block began, and if all are whole
        self.peak, self.whole = 0, True
        self.position = 0  # rows walked (each block's and merge's, each layer's)
        self.failed_at: int | None = None  # the row of a layer whose field grew too large
        self.complete, sums = self.top()
        self.tallied = tuple(a + own(self.input_row)
                             for a, own in zip(sums.tallies, tallies, strict=True))
        self.totals = Totals(params=sums.params, biases=sums.biases,
                             non_trainable_params=sums.non_trainable, macs=sums.macs,
                             activations=x.size + sums.activations, output_shape=self.last,
                             attention_macs=sums.attention_macs, scores=sums.scores)
        if self.complete:
            self.found += claims_problems(model, self.totals, self.settings, budget)
        self.problems = tuple(sorted(set(self.found)))

    @property
    def name(self) -> str:
        return self.model.name

    @property
    def source(self) -> str:
        return self.model.source

    @property
    def path(self) -> str:
        return self.model.path

    @property
    def input_shape(self) -> Shape:
        return self.model.input

    def report(self, rows: tuple[Row, ...] | None = None) -> Report:
        """The whole report, with every row (``rows``, when they are made already)."""
        return Report(name=self.name, source=self.source, path=self.path,
                      input_shape=self.input_shape,
                      rows=tuple(self.rows()) if rows is None else rows, totals=self.totals,
                      settings=self.settings, problems=self.problems, stopped=self.stopped)

    def rows(self) -> Iterator[Row]:
        """The rows in order, each made as it is asked for."""
        return (row for row, _ in self.tallied_rows())

    def tallied_rows(self) -> Iterator[tuple[Row, tuple[int, ...]]]:
        """The rows in order, each with its tallies."""
        yield self.input_row, tuple(t(self.input_row) for t in self.memo.tallies)
        yield from _Rows(self).walk(self.model)

    def outputs(self) -> Iterator[tuple[int, int, int]]:
        """Per row in order: the elements it adds to memory, its output's, its scores."""
        yield self.input_row.activations, self.input_row.output_shape.size, 0
        yield from _Outputs(self).walk(self.model)

    # --- the first walk: sums and problems --------------------------------------------------

    def problem(self, at: Where, code: str, message: str, level: str = ERROR) -> None:
        self.found.append(Problem(at.path, at.line, at.col, level, code, message))

    def stop(self, at: Where, code: str, message: str) -> None:
        self.problem(at, code, message)
        self.stopped = self.found[-1]

    def top(self) -> tuple[bool, Sums]:
        """Walk the model's layers; the sums of those that were worked out."""
        adding = _Adding(self.zero)
        result = self.walk(self.model.layers, self.model.input, start_field(self.model.input),
                           adding)
        if result is not None:
            self.last = result[0]
        return result is not None, adding.sums()

    def sequence(self, nodes: tuple[ModelNode, ...], x: Shape, field: Field
                 ) -> tuple[Shape, Field, _Adding] | None:
        adding = _Adding(self.zero)
        result = self.walk(nodes, x, field, adding)
        return None if result is None else (*result, adding)

    def walk(self, nodes: tuple[ModelNode, ...], x: Shape, field: Field, adding: _Adding
             ) -> tuple[Shape, Field] | None:
        """Walk a list, adding up what each node adds; None where a node cannot take its
        input (reported). A list is mostly layers: theirs is the short way."""
        measured_of = self.memo.measured.get
        for node in nodes:
            if isinstance(node, LayerNode):
                self.position += 1
                measured = measured_of((id(node.layer), x)) or self.measure(node, x)
                if measured is None:
                    return None
                after = measured.advance(field)
                if after is not field and not self.fits(node, x, measured, after):
                    return None
                if measured.judged:
                    self.judge(node, measured, after)
                adding.add(measured.sums)
                x, field = measured.effect.output, after
                self.last = x
                continue
            result = self.node(node, x, field)
            if result is None:
                return None
            x, field, part = result
            adding.add(part)
        return x, field

    def node(self, node: Group | Merge, x: Shape, field: Field
             ) -> tuple[Shape, Field, Sums] | None:
        key = (self.memo.key(node), x, field is None)
        done = self.memo.done.get(key)
        if done is not None and done.clean and field is not None:
            bound = None if done.reach is None else done.reach.bound(field)
            if bound is None or bound >= LIMIT:
                done = None  # its fields may grow too large: walked, to find the layer
            else:
                self.peak = max(self.peak, bound)
        if done is not None and done.clean:
            self.position += done.sums.rows
        else:
            done = self.work_out(node, x, field)
            if done is None:
                return None
            self.memo.done[key] = done
        self.last = done.last
        return done.output, done.field_after(field), done.sums

    def work_out(self, node: Group | Merge, x: Shape, field: Field) -> Done | None:
        """A block or merge walked on its input, with how large its fields grew."""
        before = len(self.found)
        self.position += 1  # its own row
        outer = self.peak, self.whole
        self.peak, self.whole = 0, True
        done = self.group(node, x, field) if isinstance(node, Group) else \
            self.merge(node, x, field)
        peak, whole = self.peak, self.whole
        self.peak, self.whole = max(outer[0], peak), outer[1] and whole
        if done is None:
            return None
        reach = None
        if field is not None:
            entry, whole_entry = _extent(field)
            if whole and whole_entry:
                reach = Reach(peak, entry, tuple(jump for _, jump, _ in field))
        # a block or merge with nothing below it: its own row is its last
        last = done.output if done.sums.rows == 1 else self.last
        return Done(done.output, done.sums, done.carry, len(self.found) == before, last, reach)

    def fits(self, node: LayerNode, x: Shape, measured: Measured, field: Field) -> bool:
        """Whether a layer's receptive field stays below ``LIMIT`` (else the walk stops)."""
        if field is None:
            return True
        most, whole = _extent(field)
        if most > self.peak:
            self.peak = most
        self.whole = self.whole and whole
        if most < LIMIT:
            return True
        try:
            bounded(measured.effect, field)
        except LayerError as exc:
            self.stop(node.at, exc.code, f"{node.name}: {exc.message} (input {x})")
        self.failed_at = self.position  # an earlier copy of a block around it went well
        return False

    def measure(self, node: LayerNode, x: Shape) -> Measured | None:
        """A layer on its input, once per pair; None when it cannot take it (reported)."""
        key = (id(node.layer), x)
        known = self.memo.measured.get(key)
        if known is None:
            try:
                layer = node.layer if self.rules is None else \
                    self.rules.adapt(node.layer, x, self.refuse)
                effect = layer.apply(x)
                bounded(effect, None)  # its field is each copy's own (``fits``)
            except LayerError as exc:
                at = node.fields_at.get(exc.field, node.at) if exc.field else node.at
                self.stop(at, exc.code, f"{node.name}: {exc.message} (input {x})")
                return None
            row = row_of(node.layer, x, effect, "", None)
            known = self.memo.measured[key] = Measured(node.layer, effect, row, Sums(
                row.params, row.biases, row.non_trainable_params, row.macs,
                row.attention_macs, row.scores, row.activations, 1, row.size_status,
                tuple(t(row) for t in self.memo.tallies)),
                _steps(x, effect), 0 if effect.keeps_field else len(effect.rf),
                row.size_status is not Status.EXACT or bool(effect.warnings))
        return known

    def judge(self, node: LayerNode, measured: Measured, after: Field) -> None:
        """A copy's warnings, and its size when it is not exact."""
        for code, message in measured.effect.warnings:
            self.problem(node.at, code, f"{node.name}: {message}", WARNING)
        status = measured.sums.status
        if status is Status.EXACT:
            return
        if status is not Status.HARMLESS or self.strict:
            self.judge_sizes(node, _own_row(node, measured, field_values(after), 0,
                                            self.strict))

    def judge_sizes(self, node: LayerNode, row: Row) -> None:
        """Lossy sizes are errors, harmless ones too when strict, unless waived."""
        waiver = node.waiver
        if _waived(node, row.size_status) and waiver is not None:
            self.problem(waiver.at, "waived-size", f"{size_message(row)}; {row.notes[-1]}",
                         INFO)
        else:
            self.problem(node.at, "non-integer-size", size_message(row))

    def group(self, node: Group, x: Shape, field: Field) -> Done | None:
        result = self.sequence(node.children, x, field)
        if result is None:
            return None
        out, after, adding = result
        return Done(out, self.header_sums(node.name, node.block, x, out, adding),
                    _carry(field, after), True, out)

    def merge(self, node: Merge, x: Shape, field: Field) -> Done | None:
        outputs: list[tuple[Shape, Field]] = []
        adding = _Adding(self.zero)
        try:
            inputs = node.inputs(x)
        except LayerError as exc:
            self.problem(node.at, exc.code, f"{node.name}: {exc.message}")
            return None
        for branch, start in zip(node.branches, inputs, strict=True):
            result = self.sequence(branch, start, field)
            if result is None:
                return None
            shape, after, inner = result
            outputs.append((shape, after))
            adding.add(inner.sums())
        try:
            out = MERGES[node.op]([shape for shape, _ in outputs])
        except LayerError as exc:
            self.stop(node.at, exc.code, f"{node.name}: {exc.message}")
            return None
        merged = self.merge_fields(node, outputs)
        return Done(out, self.header_sums(node.name, node.op, x, out, adding, out.size,
                                          len(node.branches)), _carry(field, merged), True, out)

    def header_sums(self, name: str, kind: str, x: Shape, out: Shape, below: _Adding,
                    own_activations: int = 0, branches: int = 0) -> Sums:
        """A block's or merge's sums: those below it, and its own row (a merge's output)."""
        tallies = self.memo.tallies
        if not tallies:
            return below.sums(own_activations, 1)
        header = _header(name, kind, x, out, below.sums(own_activations, 1), (),
                         Where("", 0, 0), 0, branches)
        return below.sums(own_activations, 1, tuple(t(header) for t in tallies))

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


def _waived(node: LayerNode, status: Status) -> bool:
    waiver = node.waiver
    return waiver is not None and Status(waiver.status).rank >= status.rank


def _own_row(node: LayerNode, measured: Measured, field: tuple[ReceptiveField, ...],
             depth: int, strict: bool) -> Row:
    """A copy's row: the measured row with its name, depth, position and field; a waived
    size gets its note."""
    row = measured.row
    notes = row.notes
    status = row.size_status
    waiver = node.waiver
    if waiver is not None and status is not Status.EXACT and \
            (status is not Status.HARMLESS or strict) and _waived(node, status):
        notes = (*notes, f"allowed: {waiver.status}" +
                 (f" ({waiver.reason})" if waiver.reason else ""))
    # The measured row's fields with the copy's own, put in place at once: Row's generated
    # __init__ sets its 23 fields one by one, as a frozen dataclass must (2.5 µs a row, most
    # of the second walk's time; this takes 0.7). Row has no __post_init__ to skip.
    fields = row.__dict__.copy()
    at = node.at
    fields.update(name=node.name, depth=depth, receptive_field=field, notes=notes,
                  line=at.line, col=at.col, file=at.path)
    own = _NEW(Row)
    _SET(own, "__dict__", fields)
    return own


_NEW, _SET = object.__new__, object.__setattr__


def _header(name: str, kind: str, x: Shape, out: Shape, sums: Sums,
            field: tuple[ReceptiveField, ...], at: Where, depth: int, branches: int = 0
            ) -> Row:
    """A block's or merge's row, from its sums (the totals of the rows below it and its own
    activations, for a merge its output)."""
    return Row(name=name, kind=kind, depth=depth, input_shape=x, output_shape=out,
               params=sums.params, biases=sums.biases, non_trainable_params=sums.non_trainable,
               macs=sums.macs, activations=sums.activations, size_status=sums.status,
               sizes=(), receptive_field=field, notes=(), line=at.line, col=at.col,
               rows_below=sums.rows - 1, file=at.path, branches=branches,
               attention_macs=sums.attention_macs, scores=sums.scores)


# the second walk gives its items in batches; then where it ended (None: it stopped)
_Walking = Generator[list[Any], None, tuple[Shape, Field] | None]


class _Rows:
    """The second walk: every row in order, each made as it is asked for.

    A block's or merge's row comes before those below it, with the sums the first walk
    worked out; where the first walk stopped at a layer that cannot take its input or whose
    field grew too large, so does this one (that layer has no row, nor have the blocks and
    merges around it). Rows come in
    batches of at most ``BATCH``: a generator per level of nesting is resumed per batch, not
    per row.
    """

    BATCH = 256

    def __init__(self, analysis: Analysis) -> None:
        self.memo = analysis.memo
        self.strict = analysis.strict
        self.position = 0  # as the first walk counts them
        self.failed_at = -1 if analysis.failed_at is None else analysis.failed_at
        self.last: tuple[Field, tuple[ReceptiveField, ...]] = (None, ())
        self.batch: list[Any] = []

    def walk(self, model: Model) -> Iterator[Any]:
        """The items of the model's rows after the input's, one at a time."""
        x = model.input
        for batch in self.sequence(model.layers, x, start_field(x), 0):
            yield from batch
        yield from self.batch

    def field_values(self, field: Field) -> tuple[ReceptiveField, ...]:
        """The field as the row shows it; consecutive rows often share one (a convolution,
        its batch norm and its activation), and then one value."""
        last, values = self.last
        if field is None or field != last:
            values = field_values(field)
            self.last = (field, values)
        return values

    def layer_item(self, node: LayerNode, measured: Measured, after: Field, depth: int
                   ) -> Any:
        return (_own_row(node, measured, self.field_values(after), depth, self.strict),
                measured.sums.tallies)

    def header_item(self, node: Group | Merge, done: Done, x: Shape, field: Field,
                    depth: int) -> Any:
        sums = done.sums
        kind, branches = (node.block, 0) if isinstance(node, Group) else \
            (node.op, len(node.branches))
        return (_header(node.name, kind, x, done.output, sums,
                        self.field_values(done.field_after(field)), node.at, depth,
                        branches=branches), sums.tallies)

    def sequence(self, nodes: tuple[ModelNode, ...], x: Shape, field: Field, depth: int
                 ) -> _Walking:
        measured_of = self.memo.measured.get
        for node in nodes:
            if isinstance(node, LayerNode):
                self.position += 1
                measured = measured_of((id(node.layer), x))
                if measured is None or self.position == self.failed_at:  # the walk stopped
                    return None
                after = measured.advance(field)
                self.batch.append(self.layer_item(node, measured, after, depth))
                if len(self.batch) >= self.BATCH:
                    yield self.batch
                    self.batch = []
                x, field = measured.effect.output, after
                continue
            result = yield from self.block(node, x, field, depth)
            if result is None:
                return None
            x, field = result
        return x, field

    def block(self, node: Group | Merge, x: Shape, field: Field, depth: int) -> _Walking:
        done = self.memo.done.get((self.memo.key(node), x, field is None))
        self.position += 1
        if done is not None and self.position < self.failed_at < self.position + done.sums.rows:
            done = None  # this copy is where the walk stopped
        if done is not None:  # else it was not worked out: the walk stops below it
            self.batch.append(self.header_item(node, done, x, field, depth))
        if isinstance(node, Group):
            result = yield from self.sequence(node.children, x, field, depth + 1)
            return result
        try:
            inputs = node.inputs(x)
        except LayerError:  # reported by the first walk, which stopped here
            return None
        for branch, start in zip(node.branches, inputs, strict=True):
            result = yield from self.sequence(branch, start, field, depth + 1)
            if result is None:
                return None
        if done is None:
            return None
        return done.output, done.field_after(field)


class _Outputs(_Rows):
    """The second walk without the rows: per row, the elements it adds to memory and the
    size of its output (all the inference peak needs)."""

    def layer_item(self, node: LayerNode, measured: Measured, after: Field, depth: int
                   ) -> Any:
        row = measured.row
        return row.activations, row.output_shape.size, row.scores

    def header_item(self, node: Group | Merge, done: Done, x: Shape, field: Field,
                    depth: int) -> Any:
        return done.sums.activations, done.output.size, done.sums.scores


def analyze(model: Model, settings: Settings | None = None, strict: bool = False,
            known: tuple[Problem, ...] = (), budget: tuple[Claim, ...] = ()) -> Report:
    """The report of a model: a row per layer, merge and block, totals and problems.

    ``strict`` makes harmless non-integer sizes errors too; ``known`` problems (from
    loading) are carried into the report; ``budget`` adds limits to the spec's own. Sizes
    follow the rules the settings name, else the spec's declared ones, else PyTorch's.
    """
    return Analysis(model, settings, strict, known, budget).report()


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
