"""``convcalc check``: find spec files, analyse each, and collect every problem.

The policy: an error-level problem fails the check. Lossy sizes are errors; harmless ones
are errors only when ``strict``; a layer's ``allow:`` waiver turns its size into a note.
Spec-language problems (bad YAML, unknown layers) are problems of the file like any other.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path

from convcalc.analysis import analyze
from convcalc.language import load_file
from convcalc.model import Claim
from convcalc.problem import ERROR, Problem, Where
from convcalc.report import Settings

SPEC_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class Budget:
    """Limits given on the command line; None leaves that total free."""

    params: int | None = None
    macs: int | None = None
    activations: int | None = None
    memory: int | None = None  # bytes: activations at the batch + parameters and buffers

    def claims(self, path: str) -> tuple[Claim, ...]:
        limits = {"params": self.params, "macs": self.macs, "activations": self.activations,
                  "memory": self.memory}
        return tuple(Claim(key, value, Where(path, 1, 1), f"--max-{key}")
                     for key, value in limits.items() if value is not None)


@dataclass(frozen=True)
class Outcome:
    """What one check run found."""

    files: tuple[str, ...]
    problems: tuple[Problem, ...]
    unusable: tuple[str, ...]  # arguments that named nothing, or files that could not be read

    @property
    def failed(self) -> bool:
        return any(p.level == ERROR for p in self.problems)


def discover(arguments: list[str]) -> tuple[list[Path], list[str]]:
    """Spec files named by files, folders (recursively) and globs; and what named nothing."""
    found: dict[str, Path] = {}
    missing = []
    for argument in arguments:
        path = Path(argument)
        if path.is_dir():
            matches = sorted(p for p in path.rglob("*") if p.suffix in SPEC_SUFFIXES
                             and p.is_file())
        elif path.is_file():
            matches = [path]
        else:
            matches = sorted(Path(p) for p in glob.glob(argument, recursive=True)
                             if p.endswith(SPEC_SUFFIXES) and os.path.isfile(p))
        if not matches:
            missing.append(argument)
        for match in matches:
            found.setdefault(os.path.normpath(match), match)
    return list(found.values()), missing


def check(arguments: list[str], settings: Settings | None = None, strict: bool = False,
          budget: Budget | None = None, portable: tuple[str, ...] = ()) -> Outcome:
    """Check every spec that ``arguments`` name, in one process.

    ``portable`` names rule sets that must agree on every layer (``not-portable`` where
    they do not).
    """
    settings = settings or Settings()
    paths, missing = discover(arguments)
    problems: list[Problem] = []
    unreadable: list[str] = []
    for path in paths:
        loaded = load_file(path)
        if any(p.code in ("unreadable", "too-large") and p.line == 1 for p in loaded.problems) \
                and loaded.model is None and not loaded.library:
            unreadable.append(loaded.path)
        if loaded.model is None:
            problems += loaded.problems
            continue
        extra = budget.claims(loaded.path) if budget else ()
        report = analyze(loaded.model, settings, strict, loaded.problems, extra)
        problems += report.problems
        if portable:
            from convcalc.portability import compare

            problems += compare(loaded.model, portable).problems()
    unusable = tuple(f"{argument}: no such file, folder or matching spec"
                     for argument in missing) + tuple(f"{path}: cannot be read"
                                                      for path in unreadable)
    return Outcome(tuple(os.fspath(p) for p in paths), tuple(problems), unusable)
