"""The one problem type every part of convcalc reports, and the positions it names."""

from __future__ import annotations

from dataclasses import dataclass

from convcalc.render.escape import escape

ERROR = "error"  # fails a check
WARNING = "warning"  # worth a look; does not fail
INFO = "info"  # a note, such as a waived size


@dataclass(frozen=True, slots=True)
class Where:
    """A 1-based position in a spec file (a block may come from an included file)."""

    path: str
    line: int
    col: int


@dataclass(frozen=True, order=True)
class Problem:
    """Something wrong (or worth a look) at ``path:line:col`` (1-based)."""

    path: str
    line: int
    col: int
    level: str  # "error", "warning" or "info"
    code: str  # stable kebab-case id, e.g. "non-integer-size"
    message: str  # one line

    def __post_init__(self) -> None:
        # A message may quote the spec (a layer's name, a YAML error): it stays one line of
        # printable text, its control characters written as escapes.
        if not self.message.isprintable():
            object.__setattr__(self, "message", escape(self.message))

    def __str__(self) -> str:
        """The line ``path:line:col: level [code] message``, safe for a terminal."""
        return f"{escape(self.path)}:{self.line}:{self.col}: {self.level} [{self.code}] " \
            f"{self.message}"


class LayerError(Exception):
    """A layer cannot be computed for its input; ``field`` names the key to blame."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


class SpecError(Exception):
    """A spec cannot be built; ``problems`` says every reason with its position."""

    def __init__(self, message: str, problems: tuple[Problem, ...]) -> None:
        super().__init__(message)
        self.problems = problems
