"""``convcalc zoo``: one line per bundled spec."""

from __future__ import annotations

import json

from convcalc.render.grid import table
from convcalc.render.json_ import SCHEMA_VERSION, plain, problem_json
from convcalc.zoo import Entry

HEADERS = ("name", "input", "params", "MACs", "activations", "source")
RIGHT = (False, True, True, True, True, False)


def draw(entries: list[Entry], colour: bool = False) -> str:
    rows = []
    for entry in entries:
        report = entry.report
        if report is None:
            rows.append([entry.name, "?", "?", "?", "?", "cannot be built: see check"])
            continue
        totals = report.totals
        rows.append([entry.name, str(report.input_shape), f"{totals.params:,}",
                     f"{totals.macs:,}", f"{totals.activations:,}", report.source])
    footer = (f"{len(entries)} bundled specs, batch 1. MACs exclude bias; activations are "
              "forward elements with the input. `convcalc summarize NAME` gives the table.")
    return "\n".join([*table(HEADERS, rows, RIGHT, colour), "", footer]) + "\n"


def to_json(entries: list[Entry]) -> str:
    document = {"schema_version": SCHEMA_VERSION, "specs": [
        {"name": e.name, "title": e.report.name if e.report else None,
         "input_shape": plain(e.report.input_shape) if e.report else None,
         "params": e.report.totals.params if e.report else None,
         "macs": e.report.totals.macs if e.report else None,
         "activations": e.report.totals.activations if e.report else None,
         "source": e.report.source if e.report else None,
         "problems": [problem_json(p) for p in e.problems]} for e in entries]}
    return json.dumps(document, indent=2, ensure_ascii=False)
