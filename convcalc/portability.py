"""Where frameworks' rules disagree on a model: ``check --portable`` and ``summarize --rules``.

Each layer is judged under every rule set on the same input (the one it gets under the first
rule set), so a layer that differs only because an earlier one did is not reported again.
Where they disagree, the report says what each framework makes of the layer and what each
makes of the whole model (its own walk, to the end or to the layer it stops at).
"""

from __future__ import annotations

from dataclasses import dataclass

from convcalc.analysis import analyze
from convcalc.layers.base import Layer
from convcalc.model import LayerNode, Model, layer_nodes
from convcalc.problem import ERROR, LayerError, Problem, Where
from convcalc.report import Report, Row, Settings
from convcalc.rules import rules_named
from convcalc.shape import Shape


@dataclass(frozen=True)
class Difference:
    """One layer that the rule sets size differently, or that some of them refuse."""

    name: str
    at: Where
    input_shape: Shape
    outcomes: tuple[tuple[str, str], ...]  # (rule set, its output shape or what went wrong)


@dataclass(frozen=True)
class Portability:
    """A model under several rule sets."""

    names: tuple[str, ...]
    reports: tuple[Report, ...]  # one per rule set, refusals checked
    differences: tuple[Difference, ...]

    def final(self, name: str) -> str:
        """What a rule set makes of the whole model: its output, or where it stops."""
        report = self.reports[self.names.index(name)]
        if report.complete:
            return str(report.totals.output_shape)
        stop = next((p for p in report.problems if p.level == ERROR and p.line), None)
        return f"stops at line {stop.line} ({stop.code})" if stop else "stops"

    def problems(self) -> tuple[Problem, ...]:
        """One ``not-portable`` error per layer where the rule sets disagree."""
        finals = ", ".join(f"{name} {self.final(name)}" for name in self.names)
        return tuple(
            Problem(d.at.path, d.at.line, d.at.col, ERROR, "not-portable",
                    f"{d.name}: the rule sets disagree on input {d.input_shape}: "
                    + ", ".join(f"{name} {outcome}" for name, outcome in d.outcomes)
                    + f"; final output: {finals}")
            for d in self.differences)


def outcome(layer: Layer, x: Shape, name: str) -> str:
    """A layer's output shape under one rule set, or why that framework will not give one."""
    try:
        return str(rules_named(name).adapt(layer, x).apply(x).output)
    except LayerError as exc:
        return "refuses it" if exc.code == "refused" else f"fails ({exc.code})"


def _leaves(model: Model, report: Report) -> list[tuple[LayerNode, Row]]:
    """Each layer of the model with its row, in the order the analysis walked them."""
    rows = iter(row for row in report.rows if not row.rows_below)
    pairs = []
    for node in layer_nodes(model.layers):
        row = next((r for r in rows if (r.name, r.line, r.col) ==
                    (node.name, node.at.line, node.at.col)), None)
        if row is None:  # the walk stopped before this layer
            break
        pairs.append((node, row))
    return pairs


def compare(model: Model, names: tuple[str, ...]) -> Portability:
    """The model under each named rule set, and the layers where they disagree."""
    reports = tuple(analyze(model, Settings(rules=name, rules_from="--rules"))
                    for name in names)
    # The first framework's sizes, its refusals not checked, carry the walk past a refusal.
    carrier = analyze(model, Settings(rules=names[0]))
    differences = []
    for node, row in _leaves(model, carrier):
        outcomes = tuple((name, outcome(node.layer, row.input_shape, name)) for name in names)
        if len({text for _, text in outcomes}) > 1:
            differences.append(Difference(node.name, node.at, row.input_shape, outcomes))
    return Portability(names, reports, tuple(differences))


def side_by_side(portability: Portability) -> list[tuple[str, tuple[str, ...]]]:
    """(layer, output per rule set) of every layer whose output the rule sets size apart.

    Each rule set's own walk is shown, so differences that follow from an earlier one
    appear too: this is the view of how far a difference carries.
    """
    by_name = [{row.name: str(row.output_shape) for row in report.rows
                if not row.rows_below} for report in portability.reports]
    longest = max(portability.reports, key=lambda report: len(report.rows))
    shown = []
    for row in longest.rows:
        if row.rows_below or row.kind == "input":
            continue
        outputs = tuple(sizes.get(row.name, "—") for sizes in by_name)
        if len(set(outputs)) > 1:
            shown.append((row.name, outputs))
    return shown
