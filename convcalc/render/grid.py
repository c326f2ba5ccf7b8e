"""Plain-text grids: aligned columns, no dependency and no import cost.

Human output is drawn here rather than with rich: it is what a terminal, a log, a pipe and
a test all read alike, and it keeps a run of convcalc close to Python's start-up time.
Colour is added only for a terminal that wants it (not with NO_COLOR, not in a pipe).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from convcalc.render.escape import escape

_COLOURS = {"red": "31", "yellow": "33", "cyan": "36", "bold": "1", "dim": "2"}


def wants_colour() -> bool:
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ and \
        os.environ.get("TERM") != "dumb"


def paint(text: str, colour: str | None, enabled: bool) -> str:
    if not (enabled and colour and text):
        return text
    return f"\x1b[{_COLOURS[colour]}m{text}\x1b[0m"


def grid(rows: Sequence[Sequence[str]], right: Sequence[bool] = (), gap: str = "  ",
         colours: Sequence[str | None] = (), colour: bool = False) -> list[str]:
    """Rows of cells as aligned lines; ``right[i]`` right-aligns column i (numbers).

    Cells are escaped (:func:`~convcalc.render.escape.escape`): a name from a spec cannot
    move the cursor, recolour the terminal or start a line of its own.
    """
    if not rows:
        return []
    rows = [[escape(cell) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = []
        for i, (cell, width) in enumerate(zip(row, widths, strict=True)):
            padded = cell.rjust(width) if i < len(right) and right[i] else cell.ljust(width)
            cells.append(paint(padded, colours[i] if i < len(colours) else None, colour))
        lines.append(gap.join(cells).rstrip())
    return lines


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[bool],
          colour: bool = False) -> list[str]:
    """A table with a header and a rule under it."""
    lines = grid([headers, *rows], right)
    rule = "─" * max(len(line) for line in lines)
    header = paint(lines[0], "bold", colour)
    return [header, rule, *lines[1:]]
