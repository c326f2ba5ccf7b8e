"""``convcalc zoo``: one line per bundled spec."""

from __future__ import annotations

import json
from typing import Any

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


_FACTS = ("title", "input_shape", "params", "macs", "activations", "source")


def _entry_json(entry: Entry) -> dict[str, Any]:
    """A spec's totals, or nulls where it cannot be built (its problems say why)."""
    report = entry.report
    facts = {} if report is None else {
        "title": report.name, "input_shape": plain(report.input_shape),
        "params": report.totals.params, "macs": report.totals.macs,
        "activations": report.totals.activations, "source": report.source}
    return {"name": entry.name, "torchvision": entry.torchvision or None,
            **dict.fromkeys(_FACTS), **facts,
            "problems": [problem_json(p) for p in entry.problems]}


def to_json(entries: list[Entry]) -> str:
    document = {"schema_version": SCHEMA_VERSION, "specs": [_entry_json(e) for e in entries]}
    return json.dumps(document, indent=2, ensure_ascii=False)
