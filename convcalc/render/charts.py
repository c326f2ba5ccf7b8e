"""Charts as inline SVG for the HTML pages: columns per layer, the liveness curve, the
receptive field's growth. No script: a column is a link to its row and has a tooltip
(``<title>``) with its exact value. The page's style sheet gives the classes their look.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from convcalc.arith import format_fraction
from convcalc.memory import Step
from convcalc.render.markup import xml
from convcalc.render.svg import number
from convcalc.report import Report

WIDTH, HEIGHT = 960.0, 230.0
_LEFT, _RIGHT, _TOP, _BOTTOM = 24.0, 12.0, 22.0, 30.0


@dataclass(frozen=True)
class Column:
    """One column: a row's value, its tooltip and the row it links to."""

    row: int
    value: int
    tip: str


def _frame(name: str, label: str, top: str, bottom: str, body: list[str]) -> str:
    """The chart's svg element: axes, the y-axis extremes and the x-axis label."""
    plot_bottom = HEIGHT - _BOTTOM
    return "\n".join([
        f'<svg class="chart" data-chart="{name}" viewBox="0 0 {number(WIDTH)} {number(HEIGHT)}"'
        f' width="{number(WIDTH)}" height="{number(HEIGHT)}" role="img" '
        f'aria-label="{xml(label)}">',
        f'<line class="axis" x1="{number(_LEFT)}" y1="{number(_TOP)}" x2="{number(_LEFT)}" '
        f'y2="{number(plot_bottom)}"/>',
        f'<line class="axis" x1="{number(_LEFT)}" y1="{number(plot_bottom)}" '
        f'x2="{number(WIDTH - _RIGHT)}" y2="{number(plot_bottom)}"/>',
        f'<text class="tick" x="{number(_LEFT + 6)}" y="{number(_TOP - 8)}">{xml(top)}</text>',
        f'<text class="tick" x="{number(_LEFT - 6)}" y="{number(plot_bottom)}" '
        f'text-anchor="end">{xml(bottom)}</text>',
        f'<text class="tick" x="{number(WIDTH - _RIGHT)}" y="{number(HEIGHT - 8)}" '
        f'text-anchor="end">{xml(label)}</text>',
        *body, "</svg>"])


def columns(name: str, values: Sequence[Column], unit: str, anchor: str = "row-") -> str:
    """A column per row, heights in proportion to the largest value."""
    largest = max((c.value for c in values), default=0)
    span = WIDTH - _LEFT - _RIGHT
    step = span / max(len(values), 1)
    plot = HEIGHT - _TOP - _BOTTOM
    body = []
    for index, column in enumerate(values):
        if not column.value:
            continue
        height = max(plot * column.value / largest, 0.5)
        body.append(f'<a href="#{anchor}{column.row}"><rect class="bar" '
                    f'x="{number(_LEFT + index * step)}" y="{number(_TOP + plot - height)}" '
                    f'width="{number(max(step * 0.85, 0.5))}" height="{number(height)}">'
                    f"<title>{xml(column.tip)}</title></rect></a>")
    return _frame(name, f"{len(values):,} layers in execution order", f"{largest:,} {unit}",
                  "0", body)


def liveness(steps: Sequence[Step], report: Report, peak_text: str,
             anchor: str = "row-") -> str:
    """The activations alive at each step, as a step line, with its peak marked."""
    largest = max(step.alive for step in steps)
    span = WIDTH - _LEFT - _RIGHT
    plot = HEIGHT - _TOP - _BOTTOM
    dx = span / max(len(steps), 1)

    def y(alive: int) -> float:
        return _TOP + plot - plot * alive / largest

    points = []
    for index, step in enumerate(steps):
        points += [f"{number(_LEFT + index * dx)},{number(y(step.alive))}",
                   f"{number(_LEFT + (index + 1) * dx)},{number(y(step.alive))}"]
    top = max(range(len(steps)), key=lambda i: steps[i].alive)
    peak = steps[top]
    row = report.rows[peak.row]
    body = [f'<polyline class="curve" points="{" ".join(points)}"/>',
            f'<a href="#{anchor}{peak.row}"><circle class="peak" '
            f'cx="{number(_LEFT + (top + .5) * dx)}"'
            f' cy="{number(y(peak.alive))}" r="4"><title>{xml(f"peak at {row.name}: {peak_text}")}'
            "</title></circle></a>"]
    if len(steps) <= 2_000:  # a tooltip per step; beyond that the page would mostly be tips
        body += [f'<rect class="hover" x="{number(_LEFT + i * dx)}" y="{number(_TOP)}" '
                 f'width="{number(dx)}" height="{number(plot)}"><title>'
                 f"{xml(report.rows[s.row].name)}: {s.alive:,} elements alive</title></rect>"
                 for i, s in enumerate(steps)]
    return _frame("liveness", f"{len(steps):,} steps of inference", f"{largest:,} elements",
                  "0", body)


def receptive_field(report: Report, anchor: str = "row-") -> str:
    """Each axis' receptive-field size along the layers, up to where it covers the input
    (a dashed line at the input's size)."""
    layers = [(index, row) for index, row in enumerate(report.rows) if not row.rows_below]
    sizes = [max((f.size for f in row.receptive_field), default=Fraction(0))
             for _, row in layers]
    limit = max([*report.input_shape.spatial, *sizes, 1])
    span = WIDTH - _LEFT - _RIGHT
    plot = HEIGHT - _TOP - _BOTTOM
    dx = span / max(len(layers), 1)

    def y(size: float) -> float:
        return _TOP + plot - plot * size / float(limit)

    axes = [field.axis for field in report.rows[0].receptive_field]
    # Axes that grow alike are one line ("H, W"); a non-square network gets one each.
    lines: dict[tuple[int | Fraction, ...], list[int]] = {}
    for position in range(len(axes)):
        sizes_of = tuple(row.receptive_field[position].size
                         if len(row.receptive_field) > position else 0 for _, row in layers)
        lines.setdefault(sizes_of, []).append(position)
    body = []
    for line, (values, members) in enumerate(lines.items()):
        name = ", ".join(axes[a] for a in members)
        points = [(i, size) for i, size in enumerate(values) if size]
        body.append(f'<polyline class="curve rf{line}" points="' + " ".join(
            f"{number(_LEFT + (i + .5) * dx)},{number(y(float(size)))}" for i, size in points)
            + f'"><title>receptive field, {name}</title></polyline>')
        if len(points) <= 2_000:  # a tooltip per layer; beyond that the page is mostly tips
            body += [f'<a href="#{anchor}{layers[i][0]}"><circle class="dot rf{line}" '
                     f'cx="{number(_LEFT + (i + .5) * dx)}" cy="{number(y(float(size)))}" r="2">'
                     f"<title>{xml(layers[i][1].name)}: {name} {format_fraction(size)}</title>"
                     "</circle></a>" for i, size in points]
    for extent, axis in zip(report.input_shape.spatial, axes, strict=True):
        body.append(f'<line class="limit" x1="{number(_LEFT)}" y1="{number(y(extent))}" '
                    f'x2="{number(WIDTH - _RIGHT)}" y2="{number(y(extent))}"><title>input {axis}'
                    f" = {extent}</title></line>")
    return _frame("receptive-field", f"{len(layers):,} layers in execution order",
                  f"{format_fraction(Fraction(limit))} positions", "0", body)
