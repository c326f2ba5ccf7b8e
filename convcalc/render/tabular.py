"""CSV and Markdown: the same rows as the table, for spreadsheets and documents."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator

from convcalc.arith import format_fraction
from convcalc.render.escape import escape
from convcalc.report import CONVENTIONS, Report, Row, Summary

COLUMNS = ("name", "kind", "depth", "input_shape", "output_shape", "params", "weights", "biases",
           "non_trainable_params", "macs", "flops", "activations", "activation_bytes",
           "size_status", "receptive_field", "file", "line", "col")


def _values(row: Row, report: Summary) -> list[str]:
    settings = report.settings
    field = " / ".join(f"{format_fraction(f.size)}@{format_fraction(f.stride)}"
                       for f in row.receptive_field)
    return [escape(row.name), escape(row.kind), str(row.depth), str(row.input_shape),
            str(row.output_shape),
            str(row.params), str(row.weights), str(row.biases), str(row.non_trainable_params),
            str(row.macs), str(2 * row.macs), str(row.activations),
            str(settings.bytes_of(row.activations)),
            row.size_status.value, field, escape(row.file), str(row.line), str(row.col)]


def to_csv(report: Report, depth: int | None = None) -> str:
    """One row per layer; counts are plain integers, shapes HxWxC, units in the names."""
    return "".join(csv_chunks(report, report.rows, depth))


def csv_chunks(report: Summary, rows: Iterable[Row], depth: int | None = None,
               lines: int = 256) -> Iterator[str]:
    """``to_csv`` in pieces of up to ``lines`` lines, as ``rows`` come (one at a time)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    count = 1
    for row in rows:
        if depth is None or row.depth <= depth:
            writer.writerow(_values(row, report))
            count += 1
            if count >= lines:
                yield out.getvalue()
                out.seek(0)
                out.truncate()
                count = 0
    yield out.getvalue()


def _cell(text: str) -> str:
    """Spec text in a Markdown table: escaped, and its ``|`` kept from ending the cell."""
    return escape(text).replace("|", "\\|")


def to_markdown(report: Report, depth: int | None = None) -> str:
    settings, totals = report.settings, report.totals
    lines = [f"## {_cell(report.name)}", "",
             f"Input {report.input_shape}, batch {settings.batch}, {settings.dtype}.", "",
             "| layer | kind | output | activations | params | MACs | size |",
             "|---|---|---|--:|--:|--:|---|"]
    for row in report.rows:
        if depth is None or row.depth <= depth:
            indent = "&nbsp;&nbsp;" * row.depth
            lines.append(f"| {indent}{_cell(row.name)} | {_cell(row.kind)} | "
                         f"{row.output_shape} | "
                         f"{row.activations:,} | {row.params:,} | {row.macs:,} | "
                         f"{row.size_status.value} |")
    activation_bytes = settings.bytes_of(totals.activations)
    lines += ["", f"- **params** {totals.params:,} (trainable {totals.params:,}; "
                  f"non-trainable buffers {totals.non_trainable_params:,}, not in params)",
              f"- **MACs** {totals.macs:,} (FLOPs = 2 × MACs = {2 * totals.macs:,})",
              f"- **activations** {totals.activations:,} elements = {activation_bytes:,} bytes "
              f"(batch {settings.batch}, {settings.dtype}, input included)",
              f"- **output** {totals.output_shape}", "",
              "Conventions: " + "; ".join(CONVENTIONS) + "."]
    return "\n".join(lines) + "\n"
