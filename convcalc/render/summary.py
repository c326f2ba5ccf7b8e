"""The human table of ``convcalc summarize``: one row per layer, then the totals."""

from __future__ import annotations

from convcalc.arith import Status
from convcalc.render.grid import grid, paint, table
from convcalc.render.text import conventions
from convcalc.report import Report, Row
from convcalc.units import format_bytes

_EIGHTHS = " ▏▎▍▌▋▊▉"
_STATUS_COLOUR = {Status.HARMLESS: "yellow", Status.LOSSY: "red", Status.INVALID: "red"}
HEADERS = ("layer", "kind", "output", "activations", "params", "MACs", "share of MACs", "size")
RIGHT = (False, False, True, True, True, True, False, False)


def bar(part: int, whole: int, width: int = 8) -> str:
    """A bar of ``width`` cells filled in eighths, and the percentage it stands for."""
    if whole <= 0 or part <= 0:
        return ""
    full, rest = divmod(round(8 * width * part / whole), 8)
    cells = ("█" * full + (_EIGHTHS[rest] if rest else "")).ljust(width)
    return f"{cells} {100 * part / whole:5.1f}%"


def _size(row: Row) -> str:
    if row.size_status is Status.EXACT:
        return ""
    if not row.sizes:  # a block or merge: the worst status below it
        return str(row.size_status.value)
    return ", ".join(sorted({f"{s.output} ({s.status.value})" for s in row.sizes
                             if s.status is not Status.EXACT}))


def _local_names(rows: list[Row]) -> list[str]:
    """Each row's name without its enclosing block's prefix: the indent shows the nesting."""
    parents: list[str] = []
    names = []
    for row in rows:
        del parents[row.depth:]
        prefix = parents[-1] + "." if parents else ""
        names.append(row.name.removeprefix(prefix))
        parents.append(row.name)
    return names


def _cells(row: Row, name: str, total_macs: int, collapsed: bool) -> list[str]:
    name = "  " * row.depth + name + (" …" if collapsed else "")
    return [name, row.kind, str(row.output_shape), f"{row.activations:,}" if row.activations
            else "—", f"{row.params:,}" if row.params else "—",
            f"{row.macs:,}" if row.macs else "—", bar(row.macs, total_macs), _size(row)]


def draw(report: Report, depth: int | None = None, colour: bool = False) -> str:
    settings, totals = report.settings, report.totals
    shown = [row for row in report.rows if depth is None or row.depth <= depth]
    cells = [_cells(row, name, totals.macs, bool(row.rows_below) and row.depth == depth)
             for row, name in zip(shown, _local_names(shown), strict=True)]
    lines = table(HEADERS, cells, RIGHT, colour)
    if colour:  # colour the size verdicts after alignment
        lines[2:] = [paint(line, _STATUS_COLOUR.get(row.size_status), True) if
                     row.size_status is not Status.EXACT else line
                     for line, row in zip(lines[2:], shown, strict=True)]
    element_bytes = settings.dtype_bytes * settings.batch
    activation_bytes = totals.activations * element_bytes
    facts = [
        ("params", f"{totals.params:,} trainable = "
                   f"{format_bytes(totals.params * settings.dtype_bytes)} as {settings.dtype}; "
                   f"{totals.non_trainable_params:,} non-trainable buffers (not in params)"),
        ("MACs", f"{totals.macs:,} MACs = {2 * totals.macs:,} FLOPs per example "
                 "(FLOPs = 2 × MACs, bias excluded)"),
        ("activations", f"{totals.activations:,} elements = {format_bytes(activation_bytes)} "
                        f"= {format_bytes(activation_bytes, True)} at batch {settings.batch}, "
                        f"{settings.dtype_bytes} B per element ({settings.dtype}); forward: "
                        "the input and every output kept, in-place layers adding none"),
        ("output", str(totals.output_shape)),
    ]
    title = f"{report.name} — input {report.input_shape}, batch {settings.batch}, " \
            f"{settings.dtype}" + (f"\n{report.source}" if report.source else "")
    return "\n".join([
        paint(title, "bold", colour), "", *lines, "",
        *grid(facts, colours=("cyan",), colour=colour), "",
        paint(conventions(), "dim", colour)]) + "\n"
