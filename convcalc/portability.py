"""Where frameworks' rules disagree on a model: ``check --portable`` and ``summarize --rules``.

Each layer is judged under every rule set on the same input, so a layer that differs only
because an earlier one did is not reported again. Where they disagree, the report says what
each framework makes of the layer and what each makes of the whole model (its own walk, to
the end or to the layer it stops at).
"""

from __future__ import annotations

from dataclasses import dataclass

from convcalc.analysis import analyze
from convcalc.layers.base import Layer
from convcalc.model import LayerNode, Model, layer_nodes
from convcalc.problem import ERROR, LayerError, Problem, Where
from convcalc.report import Report, Row, Settings
from convcalc.rules import DEFAULT, RULES, rules_named
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
        if report.stopped is None:
            return str(report.totals.output_shape)
        return f"stops at line {report.stopped.line} ({report.stopped.code})"

    def problems(self) -> tuple[Problem, ...]:
        """One ``not-portable`` error per layer where the rule sets disagree."""
        finals = ", ".join(f"{name} {self.final(name)}" for name in self.names)
        return tuple(
            Problem(d.at.path, d.at.line, d.at.col, ERROR, "not-portable",
                    f"{d.name}: the rule sets disagree on input {d.input_shape}: "
                    + ", ".join(f"{name} {outcome}" for name, outcome in d.outcomes)
                    + f"; final output: {finals}")
            for d in self.differences)


def outcome(layer: Layer, x: Shape, name: str, refuse: bool = True) -> str:
    """A layer's output shape under one rule set, or why that framework will not give one."""
    try:
        return str(rules_named(name).adapt(layer, x, refuse).apply(x).output)
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


def differences(model: Model, names: tuple[str, ...]) -> tuple[Difference, ...]:
    """The layers the rule sets disagree on, given the same input.

    Each rule set's walk (its sizes, its refusals not checked, so that it goes on past a
    refusal) gives every layer an input; a layer is reported when, on one of those inputs,
    the rule sets disagree. A layer that differs only because an earlier one did agrees on
    each input and is not reported: GoogLeNet's pooling layers are, its convolutions not.
    """
    inputs: dict[tuple[str, int, int], list[Shape]] = {}
    nodes: dict[tuple[str, int, int], LayerNode] = {}
    for name in dict.fromkeys((model.rules or DEFAULT, *names)):
        for node, row in _leaves(model, analyze(model, Settings(rules=name))):
            key = (node.name, node.at.line, node.at.col)
            nodes.setdefault(key, node)
            if row.input_shape not in inputs.setdefault(key, []):
                inputs[key].append(row.input_shape)
    found = []
    for node in layer_nodes(model.layers):
        key = (node.name, node.at.line, node.at.col)
        for x in inputs.get(key, ()):
            outcomes = tuple((name, outcome(node.layer, x, name)) for name in names)
            if len({text for _, text in outcomes}) > 1:
                found.append(Difference(node.name, node.at, x, outcomes))
                break
    return tuple(found)


def compare(model: Model, names: tuple[str, ...]) -> Portability:
    """The model under each named rule set, and the layers where they disagree."""
    reports = tuple(analyze(model, Settings(rules=name, rules_from="--rules"))
                    for name in names)
    return Portability(names, reports, differences(model, names))


def portable_to(model: Model) -> tuple[str, ...]:
    """The rule sets that size every layer as the model's own rules do, refusing none.

    The model's own rules (a spec declares them; PyTorch's otherwise) fix the sizes meant;
    they are listed first when they refuse nothing either.
    """
    own = model.rules or DEFAULT
    carrier = analyze(model, Settings(rules=own))
    kept = dict.fromkeys((own, *(name for name in RULES if name != own)))
    for node, row in _leaves(model, carrier):
        meant = outcome(node.layer, row.input_shape, own, refuse=False)
        for name in tuple(kept):
            if outcome(node.layer, row.input_shape, name) != meant:
                del kept[name]
    return tuple(kept)


def side_by_side(portability: Portability, depth: int | None = None
                 ) -> list[tuple[str, tuple[str, ...]]]:
    """(row, output per rule set) of every row whose output the rule sets size apart.

    Each rule set's own walk is shown, so differences that follow from an earlier one
    appear too: this is the view of how far a difference carries. Rows deeper than
    ``depth`` are left to the block or merge row above them, as in the summary.
    """
    def shown_row(row: Row) -> bool:
        """Layers down to ``depth``, and the blocks and merges collapsed at it."""
        if row.kind == "input" or (depth is not None and row.depth > depth):
            return False
        return not row.rows_below or row.depth == depth

    by_name = [{row.name: str(row.output_shape) for row in report.rows if shown_row(row)}
               for report in portability.reports]
    longest = max(portability.reports, key=lambda report: len(report.rows))
    shown = []
    for row in longest.rows:
        if not shown_row(row):
            continue
        outputs = tuple(sizes.get(row.name, "—") for sizes in by_name)
        if len(set(outputs)) > 1:
            shown.append((row.name, outputs))
    return shown


def bundled_table() -> str:
    """A Markdown table: each bundled spec and the rule sets it is portable across.

    The README's copy is written by ``scripts/frameworks_table.py`` (a test fails when it
    is stale).
    """
    from convcalc.language import bundled, load_file

    lines = ["| spec | portable across (sizes as its own rules, nothing refused) |",
             "| --- | --- |"]
    for name, path in sorted(bundled().items()):
        model = load_file(path).model
        if model is not None:
            lines.append(f"| {name} | {', '.join(portable_to(model)) or 'none'} |")
    return "\n".join(lines) + "\n"
