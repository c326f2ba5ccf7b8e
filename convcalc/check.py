"""``convcalc check``: find spec files, analyse each, and collect every problem.

The policy: an error-level problem fails the check. Lossy sizes are errors; harmless ones
are errors only when ``strict``; a layer's ``allow:`` waiver turns its size into a note.
Spec-language problems (bad YAML, unknown layers) are problems of the file like any other.
"""

from __future__ import annotations

import glob
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from convcalc.analysis import Analysis
from convcalc.language import STDIN, is_dir, is_file, load_file, load_stream
from convcalc.model import Claim
from convcalc.problem import ERROR, WARNING, Problem, Where
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


def discover(arguments: list[str]) -> tuple[list[Path], list[str], list[Problem]]:
    """Spec files named by files, folders (recursively) and globs; what named nothing; and
    the symbolic links a folder scan did not follow out of its folder."""
    found: dict[str, Path] = {}
    missing = []
    outside: list[Problem] = []
    for argument in arguments:
        path = Path(argument)
        if argument == STDIN:
            matches = [path]
        elif is_dir(path):
            matches, links = _folder(path)
            outside += [Problem(os.fspath(link), 1, 1, WARNING, "outside-folder",
                                f"not checked: a symbolic link to {os.fspath(link.resolve())},"
                                f" outside the folder {argument}") for link in links]
        elif is_file(path):
            matches = [path]
        else:
            matches = sorted(Path(p) for p in glob.glob(argument, recursive=True)
                             if p.endswith(SPEC_SUFFIXES) and os.path.isfile(p))
        if not matches:
            missing.append(argument)
        for match in matches:
            found.setdefault(os.path.normpath(match), match)
    return list(found.values()), missing, outside


def _folder(folder: Path) -> tuple[list[Path], list[Path]]:
    """The spec files in a folder and below, and the links among them that point out of it.

    Linked folders are not entered (pathlib's rglob); a linked file is read only if it stays
    inside: a spec checked in CI must not make convcalc read what lies outside the checkout.
    """
    root = folder.resolve()
    files = sorted(p for p in folder.rglob("*") if p.suffix in SPEC_SUFFIXES and p.is_file())
    inside = {p: p.resolve().is_relative_to(root) for p in files}
    return [p for p in files if inside[p]], [p for p in files if not inside[p]]


def check(arguments: list[str], settings: Settings | None = None, strict: bool = False,
          budget: Budget | None = None, stdin: BinaryIO | None = None,
          portable: tuple[str, ...] = ()) -> Outcome:
    """Check every spec that ``arguments`` name, in one process (``-``: ``stdin``).

    ``portable`` names rule sets that must agree on every layer (``not-portable`` where
    they do not).
    """
    settings = settings or Settings()
    paths, missing, outside = discover(arguments)
    problems: list[Problem] = list(outside)
    unreadable: list[str] = []
    for path in paths:
        try:
            loaded = load_stream(stdin or sys.stdin.buffer) if os.fspath(path) == STDIN \
                else load_file(path)
            if loaded.unreadable:
                unreadable.append(loaded.path)
            if loaded.model is None:
                problems += loaded.problems
                continue
            extra = budget.claims(loaded.path) if budget else ()
            # the problems only: no rows are made
            problems += Analysis(loaded.model, settings, strict, loaded.problems,
                                 extra).problems
            if portable:
                from convcalc.portability import compare

                problems += compare(loaded.model, portable).problems()
        except Exception as exc:  # a bug of convcalc's: this file's problem, not the run's end
            problems.append(Problem(os.fspath(path), 1, 1, ERROR, "internal-error",
                                    f"convcalc failed on this file ({type(exc).__name__}); "
                                    "please report it"))
    unusable = tuple(f"{argument}: no such file, folder or matching spec"
                     for argument in missing) + tuple(f"{path}: cannot be read"
                                                      for path in unreadable)
    return Outcome(tuple(os.fspath(p) for p in paths), tuple(problems), unusable)
