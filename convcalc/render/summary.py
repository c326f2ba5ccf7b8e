"""The human table of ``convcalc summarize``: one row per layer, then the totals."""

from __future__ import annotations

from rich import box
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table

from convcalc.arith import Status
from convcalc.report import CONVENTIONS, Report, Row
from convcalc.units import format_bytes

_EIGHTHS = " ▏▎▍▌▋▊▉█"
_STATUS_STYLE = {Status.EXACT: "", Status.HARMLESS: "yellow", Status.LOSSY: "bold red",
                 Status.INVALID: "bold red"}


def bar(part: int, whole: int, width: int = 8) -> str:
    """A bar of ``width`` cells filled in eighths: the row's share of the total."""
    if whole <= 0:
        return ""
    eighths = round(8 * width * part / whole)
    full, rest = divmod(eighths, 8)
    return ("█" * full + (_EIGHTHS[rest] if rest else "")).ljust(width) + \
        f" {100 * part / whole:5.1f}%"


def _size(row: Row) -> str:
    if row.size_status is Status.EXACT:
        return ""
    text = ", ".join(sorted({f"{s.output} ({s.status.value})" for s in row.sizes
                             if s.status is not Status.EXACT}))
    return text or row.size_status.value


def draw(report: Report, console: Console, depth: int | None = None) -> None:
    settings, totals = report.settings, report.totals
    title = f"{report.name} — input {report.input_shape}, batch {settings.batch}, " \
            f"{settings.dtype}"
    table = Table(title=title, title_justify="left", header_style="bold", box=box.SIMPLE_HEAD,
                  pad_edge=False)
    for header in ("layer", "kind", "output", "activations", "params", "MACs", "share of MACs",
                   "size"):
        numeric = header in ("output", "activations", "params", "MACs")
        table.add_column(header, justify="right" if numeric else "left", no_wrap=True)
    for row in report.rows:
        if depth is not None and row.depth > depth:
            continue
        collapsed = row.rows_below and depth is not None and row.depth == depth
        name = "  " * row.depth + row.name + (" …" if collapsed else "")
        style = "bold" if row.rows_below else ""
        table.add_row(name, row.kind, str(row.output_shape),
                      f"{row.activations:,}" if row.activations else "—",
                      f"{row.params:,}" if row.params else "—",
                      f"{row.macs:,}" if row.macs else "—",
                      bar(row.macs, totals.macs) if row.macs else "",
                      f"[{_STATUS_STYLE[row.size_status]}]{_size(row)}[/]" if _size(row) else "",
                      style=style)
    # Numbers are never cut short: the table takes the width it needs, and a narrower
    # terminal wraps its lines instead.
    wide = console.options.update_width(10_000)
    console.width = max(console.width, Measurement.get(console, wide, table).maximum)
    console.print(table)
    element_bytes = settings.dtype_bytes * settings.batch
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="cyan")
    facts.add_column()
    facts.add_row("params", f"{totals.params:,} trainable = "
                  f"{format_bytes(totals.params * settings.dtype_bytes)} as {settings.dtype}; "
                  f"non-trainable buffers {totals.non_trainable_params:,} (not in params)")
    facts.add_row("MACs", f"{totals.macs:,} MACs = {2 * totals.macs:,} FLOPs per example "
                  "(FLOPs = 2 × MACs, bias excluded)")
    activation_bytes = totals.activations * element_bytes
    facts.add_row("activations", f"{totals.activations:,} elements per example = "
                  f"{format_bytes(activation_bytes)} = {format_bytes(activation_bytes, True)} "
                  f"at batch {settings.batch} × {settings.dtype_bytes} B ({settings.dtype}); "
                  "forward only: the input and every output kept, in-place layers adding none")
    facts.add_row("output", str(totals.output_shape))
    console.print(facts)
    console.print("[dim]Conventions: " + "; ".join(CONVENTIONS) + ".[/]")
