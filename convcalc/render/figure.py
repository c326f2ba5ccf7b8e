"""A figure of one layer's arithmetic, in the style of Dumoulin & Visin's conv-arithmetic
figures: the blue input, dashed padding, the kernel's footprint shaded, the green output.

One panel per chosen output position: the input grid with the cells that position reads,
and the output grid with that position dark. ``animate`` draws one panel whose kernel
steps over the positions (SMIL, no JavaScript; a viewer without SMIL shows the first).
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from math import isqrt

from convcalc.arith import Status, format_fraction
from convcalc.footprint import Axis, Cell, Position, combine
from convcalc.render.svg import document, number, rect, text
from convcalc.render.text import grouped
from convcalc.report import LayerReport

STYLE = (".cell{stroke:#2b5f8a;stroke-width:1}.real{fill:#8fc1e8}"
         ".pad{fill:#ffffff;stroke-dasharray:3 2}.zero{fill:#ffffff;stroke-dasharray:1 2}"
         ".unseen{fill:#f4a6a6;stroke:#b03030}.beyond{fill:none;stroke:#8a8a8a;"
         "stroke-dasharray:2 3}.tap{fill:#1f4e79;fill-opacity:0.6}"
         ".window{fill:none;stroke:#1f4e79;stroke-width:2}"
         ".out{fill:#a8dba8;stroke:#2f7a2f;stroke-width:1}.current{fill:#2f7a2f}"
         ".caption{font-size:13px;fill:#222222}.heading{font-size:12px;fill:#444444}"
         ".mark{font-size:10px;fill:#b03030}")

_MARGIN, _LINE = 12, 18
_CELL_KINDS = {Cell.REAL: "input", Cell.PAD: "padding", Cell.ZERO: "inserted zero",
               Cell.UNSEEN: "unseen input (lost to rounding)",
               Cell.BEYOND: "outside the input (ceil mode's last window)"}
_STEP_SECONDS = Fraction(4, 5)


def _axis_text(axis: Axis) -> str:
    """``kernel 5, stride 2, pad 0,0: (32 + 0 + 0 − 5)/2 + 1 = 14.5, floored to 14 (lossy)``"""
    w = axis.window
    kernel = f"kernel {w.kernel}" + (f" dilated {w.dilation} (spans {w.span})"
                                     if w.dilation > 1 else "")
    formula = f"({w.size} + {w.pad[0]} + {w.pad[1]} − {w.span})/{w.stride} + 1 = " \
              f"{format_fraction(w.exact)}"
    if w.exact != w.output:
        formula += f", {'rounded up (ceil mode)' if w.ceil else 'floored'} to {w.output} " \
                   f"({w.status.value})"
    if axis.transposed:
        inputs = (w.size - 1) // axis.stretch + 1
        return (f"input {inputs} stretched to {w.size} ({axis.stretch - 1} zero(s) between "
                f"positions), pad {w.pad[0]},{w.pad[1]} (k̂ − 1 − p, + output_padding after), "
                f"{kernel}, stride 1: {formula}")
    return f"{kernel}, stride {w.stride}, pad {w.pad[0]},{w.pad[1]}: {formula}"


def _captions(report: LayerReport, axes: tuple[Axis, ...], others: tuple[Axis, ...],
              shown: int) -> list[str]:
    row = report.row
    lines = [f"{row.kind}: {row.input_shape} → {row.output_shape}"]
    lines += grouped([(axis.name, _axis_text(axis)) for axis in axes])
    lines += [f"{line} (not drawn)" for line in grouped([(a.name, _axis_text(a)) for a in others])]
    if any(axis.transposed for axis in axes):
        lines.append("drawn as the direct convolution it equals: zeros inserted between the "
                     "input positions (dotted), stride 1")
    unseen = [f"{axis.name} {', '.join(map(str, axis.unseen_inputs))}" for axis in axes
              if axis.unseen_inputs]
    if unseen:
        lines.append(f"red: input {'; '.join(unseen)} — real input that no window reads "
                     "(lost to the rounding)")
    if any(Cell.BEYOND in axis.cells for axis in axes):
        lines.append("ceil mode: the last window hangs over the edge (grey dashed cells)")
    total = 1
    for axis in axes:
        total *= axis.output
    if shown < total:
        lines.append(f"{shown} of {total:,} output positions drawn (choose with --positions)")
    return lines


class _Grid:
    """The geometry shared by every panel of one figure."""

    def __init__(self, axes: tuple[Axis, ...]) -> None:
        self.rows: Axis | None = axes[0] if len(axes) == 2 else None
        self.cols = axes[-1]
        self.row_cells = self.rows.cells if self.rows else (Cell.REAL,)
        self.col_cells = self.cols.cells
        self.out_rows = self.rows.output if self.rows else 1
        self.out_cols = self.cols.output
        largest = max(len(self.row_cells), len(self.col_cells), self.out_rows, self.out_cols)
        self.cell = max(6, min(24, 360 // largest))
        self.gap = 2 * self.cell + 16
        self.input_width = len(self.col_cells) * self.cell
        self.width = self.input_width + self.gap + self.out_cols * self.cell + 28
        self.height = _LINE + max(len(self.row_cells), self.out_rows) * self.cell + 16

    def input(self, x: float, y: float) -> list[str]:
        """The input grid, each cell classed by what it is, and the unseen rows labelled."""
        size = self.cell
        parts = [rect(x + c * size, y + r * size, size, size,
                      class_=f"cell {combine(row, col).value}")
                 for r, row in enumerate(self.row_cells) for c, col in enumerate(self.col_cells)]
        if self.rows is not None:
            parts += [text(x + self.input_width + 3, y + (r + 0.8) * size,
                           str(self.rows.index(r)), class_="mark", data_axis=self.rows.name)
                      for r, kind in enumerate(self.row_cells) if kind is Cell.UNSEEN]
        bottom = y + len(self.row_cells) * size + 10
        parts += [text(x + c * size, bottom, str(self.cols.index(c)), class_="mark",
                       data_axis=self.cols.name)
                  for c, kind in enumerate(self.col_cells) if kind is Cell.UNSEEN]
        return parts

    def footprint(self, x: float, y: float, position: Position) -> list[str]:
        """The cells ``position`` reads, shaded, and the window's outline."""
        size = self.cell
        rows = self.rows.taps(position[0]) if self.rows else range(1)
        cols = self.cols.taps(position[-1])
        parts = [rect(x + c * size, y + r * size, size, size, class_="tap")
                 for r in rows for c in cols]
        parts.append(rect(x + cols[0] * size, y + rows[0] * size,
                          (cols[-1] - cols[0] + 1) * size, (rows[-1] - rows[0] + 1) * size,
                          class_="window"))
        return parts

    def output(self, x: float, y: float) -> list[str]:
        size = self.cell
        return [rect(x + c * size, y + r * size, size, size, class_="out")
                for r in range(self.out_rows) for c in range(self.out_cols)]

    def current(self, x: float, y: float, position: Position) -> str:
        r = position[0] if self.rows else 0
        return rect(x + position[-1] * self.cell, y + r * self.cell, self.cell, self.cell,
                    class_="out current")

    def panel(self, x: float, y: float, position: Position) -> list[str]:
        grid_y = y + _LINE
        output_x = x + self.input_width + self.gap
        return [f'<g class="panel" data-position="{",".join(map(str, position))}">',
                text(x, y + 12, f"output {_name(position)}", class_="heading"),
                *self.input(x, grid_y), *self.footprint(x, grid_y, position),
                '<g class="output">', *self.output(output_x, grid_y),
                self.current(output_x, grid_y, position), "</g>", "</g>"]

    def animation(self, x: float, y: float, positions: Sequence[Position]) -> list[str]:
        """One panel; each position's footprint shown in turn for a fixed time."""
        grid_y = y + _LINE
        output_x = x + self.input_width + self.gap
        parts = ['<g class="panel animated">', *self.input(x, grid_y), '<g class="output">',
                 *self.output(output_x, grid_y), "</g>"]
        steps = len(positions)
        duration = number(float(_STEP_SECONDS * steps))
        for index, position in enumerate(positions):
            parts += [f'<g class="step" opacity="{1 if index == 0 else 0}">',
                      _blink(index, steps, duration),
                      text(x, y + 12, f"output {_name(position)}", class_="heading"),
                      *self.footprint(x, grid_y, position),
                      self.current(output_x, grid_y, position), "</g>"]
        return [*parts, "</g>"]


def _name(position: Position) -> str:
    return f"({', '.join(map(str, position))})" if len(position) > 1 else str(position[0])


def _blink(index: int, steps: int, duration: str) -> str:
    """SMIL: visible from step ``index`` to the next, in a loop over ``steps`` steps."""
    if steps == 1:
        return ""
    times = [Fraction(0), Fraction(index, steps), Fraction(index + 1, steps)]
    values = ["0", "1", "0"]
    if index == 0:
        times, values = times[1:], values[1:]
    elif index == steps - 1:
        times, values = times[:2], values[:2]
    key_times = ";".join(number(float(t)) if t else "0" for t in times)
    return (f'<animate attributeName="opacity" calcMode="discrete" dur="{duration}s" '
            f'repeatCount="indefinite" values="{";".join(values)}" keyTimes="{key_times}"/>')


def _legend(x: float, y: float, axes: tuple[Axis, ...]) -> tuple[list[str], float]:
    kinds = [kind for kind in Cell if any(kind in axis.cells for axis in axes)]
    entries = [(f"cell {kind.value}", _CELL_KINDS[kind]) for kind in kinds]
    entries += [("tap", "kernel footprint"), ("out", "output"), ("out current",
                                                                 "the output position drawn")]
    parts, at = [], x
    for css, label in entries:
        parts += [rect(at, y, 12, 12, class_=css), text(at + 16, y + 10, label,
                                                         class_="heading")]
        at += 16 + 6.5 * len(label) + 14
    return parts, at


def draw(report: LayerReport, axes: tuple[Axis, ...], positions: Sequence[Position],
         animate: bool = False, others: tuple[Axis, ...] = ()) -> str:
    """The figure as an SVG document; ``others`` are axes of the layer not drawn."""
    grid = _Grid(axes)
    captions = _captions(report, axes, others, len(positions))
    top = _MARGIN + _LINE * len(captions) + 6
    parts = [text(_MARGIN, _MARGIN + 12 + _LINE * i, line, class_="caption")
             for i, line in enumerate(captions)]
    if animate:
        parts += grid.animation(_MARGIN, top, positions)
        columns, rows = 1, 1
    else:
        count = len(positions)  # up to three in a row, more in a square-ish block
        columns = count if count <= 3 else isqrt(count - 1) + 1
        rows = -(-len(positions) // columns)
        for index, position in enumerate(positions):
            row, column = divmod(index, columns)
            parts += grid.panel(_MARGIN + column * grid.width, top + row * grid.height, position)
    legend_y = top + rows * grid.height + 8
    legend, legend_width = _legend(_MARGIN, legend_y, axes)
    width = max(_MARGIN + columns * grid.width, legend_width,
                _MARGIN + 7 * max(len(line) for line in captions)) + _MARGIN
    title = captions[0] + (" — animated" if animate else "")
    status = Status.EXACT if not axes else max((a.window.status for a in axes),
                                               key=lambda s: s.rank)
    body = [f'<g class="figure" data-status="{status.value}">', *parts, *legend, "</g>"]
    return document(width, legend_y + 12 + _MARGIN, title, body, STYLE)
