"""The human answer of ``convcalc layer``: numbers first, then the worked formulas."""

from __future__ import annotations

from convcalc.render.grid import grid, paint
from convcalc.render.text import (
    bytes_text,
    conventions,
    field_text,
    fixes,
    grouped,
    rules_text,
    size_verdict,
)
from convcalc.report import LayerReport


def draw(report: LayerReport, colour: bool = False) -> str:
    row, settings = report.row, report.settings
    facts: list[tuple[str, str]] = [("output", str(row.output_shape))]
    facts += [("size", line) for line in grouped([(s.axis, size_verdict(s)) for s in row.sizes])]
    facts += [("exact instead", line)
              for line in grouped([(s.axis, fixes(s)) for s in row.sizes if s.fixes])]
    buffers = (f"; {row.non_trainable_params:,} non-trainable buffers (not params)"
               if row.non_trainable_params else "")
    facts.append(("params", f"{row.params:,} (weights {row.weights:,} + bias {row.biases:,}, "
                            f"all trainable){buffers}"))
    facts.append(("MACs", f"{row.macs:,} MACs = {2 * row.macs:,} FLOPs (2 FLOPs per MAC; "
                          "bias excluded)"))
    elements = row.output_shape.size
    facts.append(("activations", bytes_text(elements, settings) if row.activations else
                  f"0 new (in place; the output has {elements:,} elements)"))
    facts += [("receptive field", line)
              for line in grouped([(f.axis, field_text(f)) for f in row.receptive_field])]
    facts += [("note", note) for note in row.notes]
    facts.append(("size rules", rules_text(settings)))
    title = f"{paint(row.kind, 'bold', colour)}  {row.input_shape} → " \
            f"{paint(str(row.output_shape), 'bold', colour)}"
    formulas = [(f.label, f.text) for f in report.formulas]
    return "\n".join([
        title, *grid(facts, colours=("cyan",), colour=colour), "",
        paint("Formulas", "bold", colour), *grid(formulas, colours=("cyan",), colour=colour), "",
        paint(conventions(), "dim", colour)]) + "\n"
