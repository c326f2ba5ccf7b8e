"""What every part of the spec reader shares: the language's keywords, naming scopes, and
the reporter that collects problems with their positions.

The reader is split along the seams of the language: ``builder`` reads the document and its
layer lists, ``blocks`` defines and calls blocks, ``shorthand`` parses ``conv3-64-s2``,
``expressions`` evaluates ``$(…)``. Each builds on :class:`Reporter`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from convcalc.language.yamltree import Duplicate, Map, Node, Scalar, Seq
from convcalc.problem import ERROR, Problem, Where

MERGES = ("concat", "add", "mul", "split")
MODIFIERS = ("repeat", "if", "parts", "name", "allow", "reason")
# Keywords a block may not be named. `split`, `if` and `parts` came later than blocks, which
# may already have had those names: such a block still works (`- split` calls it, and
# `split:` with a list of branches is the channel split).
RESERVED = ("concat", "add", "mul", "repeat", "name", "allow", "reason")
MAX_LAYERS = 250_000  # expanded layers in one model

# (what `include` names, the file that names it) -> (the included file's path as shown,
# its real path, its text)
Opener = Callable[[str, str], tuple[str, str, str]]


class TooLarge(Exception):
    """The model expands past MAX_LAYERS: stop building at once."""

    def __init__(self, at: Where | None = None) -> None:
        super().__init__()
        self.at = at


class BadCall(Exception):
    """A block call cannot be expanded (already reported): skip it."""


def plain(node: Node) -> Any:
    """The Python value of a located node (lists and dicts for collections)."""
    if isinstance(node, Scalar):
        return node.value
    if isinstance(node, Seq):
        return [plain(item) for item in node.items]
    return {key.value: plain(value) for key, value in node.entries}


def outside_block(text: object) -> str:
    """Why a ``$`` written in the spec's own ``layers`` (no block call around it) is refused:
    nothing is substituted there, whether or not the text names an argument."""
    return (f"{text!r}: $name and $(…) are filled in only inside a block's body (see "
            "Blocks), not in the spec's own layers")


def suggest(word: str, choices: list[str] | tuple[str, ...], cutoff: float = 0.6) -> str:
    """`` (did you mean 'x'?)`` for the closest other choice, or ""."""
    import difflib  # only when something is misspelt

    close = difflib.get_close_matches(word, [c for c in choices if unlike(word, c)], n=1,
                                      cutoff=cutoff)
    return f" (did you mean {close[0]!r}?)" if close else ""


def unlike(word: str, choice: str) -> bool:
    """Whether ``choice`` may be offered for ``word``: another name, and not a part of it
    (``rmsnorm`` and ``groupnorm`` are no misspelt ``norm``, which is LRN)."""
    return choice != word and not (choice in word and len(word) - len(choice) > 1)


# How close a misspelt layer kind must be to a kind for a suggestion: `cnov` is `conv`
# (0.75), but `layernorm` is not `norm` (0.62), which is local response normalisation.
KIND_CUTOFF = 0.7


@dataclass
class Scope:
    """Names are generated per list: conv1, conv2, maxpool1, bottleneck1, add1."""

    prefix: str = ""
    calls: tuple[str, ...] = ()
    counters: dict[str, int] = field(default_factory=dict)

    def name(self, explicit: object, stem: str) -> str:
        if isinstance(explicit, str | int) and not isinstance(explicit, bool):
            return f"{self.prefix}{explicit}"
        self.counters[stem] = self.counters.get(stem, 0) + 1
        return f"{self.prefix}{stem}{self.counters[stem]}"

    def inner(self, name: str, call: str | None = None) -> Scope:
        return Scope(f"{name}.", (*self.calls, call) if call else self.calls)


class Reporter:
    """Problems of the file being read, each with its position, each reported once."""

    def __init__(self, path: str) -> None:
        self.path = path  # the file being read now: an included one while its blocks are
        self.problems: list[Problem] = []
        self.blamed: set[tuple[Where, str]] = set()
        # The outermost block call being expanded: a problem in a block's body names it, so
        # that the line of the spec that led there is known (the body may serve 36 calls).
        self.expanding: tuple[str, Where] | None = None

    def where(self, node: Node | Scalar) -> Where:
        """The position of a node of the file being read now."""
        return Where(self.path, node.line, node.col)

    def problem(self, at: Node | Scalar | Where, code: str, message: str,
                level: str = ERROR) -> None:
        """Record a problem; an error is recorded once, however many layers or calls reach it
        (a bad default, a bad line of a block called 36 times)."""
        spot = at if isinstance(at, Where) else self.where(at)
        if level == ERROR and (spot, message) in self.blamed:
            return
        if level == ERROR:
            self.blamed.add((spot, message))
        if self.expanding is not None:
            block, called_at = self.expanding
            place = f"line {called_at.line}" if called_at.path == spot.path else \
                f"{called_at.path}:{called_at.line}"
            message += f" (via block {block!r}, called on {place})"
        self.problems.append(Problem(spot.path, spot.line, spot.col, level, code, message))

    def duplicates(self, found: list[Duplicate]) -> None:
        """Keys given twice in the file being read (the first value was kept)."""
        for duplicate in found:
            self.problem(Where(self.path, duplicate.line, duplicate.col), "duplicate-key",
                         f"duplicate key {duplicate.key!r} (first given on line "
                         f"{duplicate.first_line})")

    def unknown_keys(self, node: Map, allowed: tuple[str, ...], what: str) -> None:
        for key, _ in node.entries:
            if key.value not in allowed:
                self.problem(key, "unknown-key", f"unknown {what} {key.value!r}"
                             f"{suggest(str(key.value), allowed)}")

    def expect_type(self, node: Node, kind: type[Seq] | type[Map], what: str) -> bool:
        if isinstance(node, kind):
            return True
        self.problem(node, "wrong-type", f"{what} must be a "
                     f"{'list' if kind is Seq else 'mapping'}")
        return False
