"""The bundled architectures, analysed: what ``convcalc zoo`` lists."""

from __future__ import annotations

from dataclasses import dataclass

from convcalc.analysis import analyze
from convcalc.language import bundled, load_file
from convcalc.problem import Problem
from convcalc.report import Report


@dataclass(frozen=True)
class Entry:
    """One bundled spec: its name (what `summarize` takes) and its report."""

    name: str
    report: Report | None  # None when the spec cannot be built (a bug: the tests say so)
    problems: tuple[Problem, ...]
    torchvision: str = ""  # the torchvision model the spec reproduces, if it says so


def catalogue() -> list[Entry]:
    """Every bundled model, in name order; block libraries are left out."""
    entries = []
    for name, path in bundled().items():
        loaded = load_file(path)
        if loaded.library:
            continue
        report = analyze(loaded.model, known=loaded.problems) if loaded.model else None
        entries.append(Entry(name, report, report.problems if report else loaded.problems,
                             loaded.model.torchvision if loaded.model else ""))
    return entries
