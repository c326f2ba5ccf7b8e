"""The human answer of ``convcalc layer``: numbers first, then the worked formulas."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from convcalc.render.text import bytes_text, field_text, fixes, grouped, size_verdict
from convcalc.report import CONVENTIONS, LayerReport


def draw(report: LayerReport, console: Console) -> None:
    row, settings = report.row, report.settings
    console.print(f"[bold]{row.kind}[/]  {row.input_shape} → [bold]{row.output_shape}[/]")
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="cyan")
    facts.add_column()
    facts.add_row("output", str(row.output_shape))
    for line in grouped([(s.axis, size_verdict(s)) for s in row.sizes]):
        facts.add_row("size", line)
    for line in grouped([(s.axis, fixes(s)) for s in row.sizes if s.fixes]):
        facts.add_row("exact instead", line)
    buffers = (f"; {row.non_trainable_params:,} non-trainable running statistics (buffers)"
               if row.non_trainable_params else "")
    facts.add_row("params", f"{row.params:,} (trainable {row.trainable_params:,}){buffers}")
    facts.add_row("MACs", f"{row.macs:,} MACs = {2 * row.macs:,} FLOPs (2 FLOPs per MAC; "
                          "bias excluded)")
    elements = row.output_shape.size
    memory = bytes_text(elements, settings) if row.activations else \
        f"0 new (in place; the output has {elements:,} elements)"
    facts.add_row("activations", memory)
    for line in grouped([(f.axis, field_text(f)) for f in row.receptive_field]):
        facts.add_row("receptive field", line)
    for note in row.notes:
        facts.add_row("note", note)
    console.print(facts)
    console.print("\n[bold]Formulas[/]")
    formulas = Table.grid(padding=(0, 2))
    formulas.add_column(style="cyan")
    formulas.add_column()
    for formula in report.formulas:
        formulas.add_row(formula.label, formula.text)
    console.print(formulas)
    console.print("\n[dim]Conventions: " + "; ".join(CONVENTIONS) + ".[/]")
