"""Finding ``$name``, ``${expression}`` and ``$(expression)`` in a text, and keeping the
commas inside ``$(…)`` from YAML, which would split a flow list ``[…]`` at them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from convcalc.language.expressions import KEYWORDS, ExpressionError

COMMA = "\ue000"  # stands for a comma inside $(…) while YAML reads the text (see shield)


@dataclass(frozen=True)
class Reference:
    """One ``$name``, ``${expression}`` or ``$(expression)`` in a text, at [start, end)."""

    start: int
    end: int
    name: str | None  # a plain $name
    expression: str | None  # the text inside ${…} or $(…)


_NAME = re.compile(r"[A-Za-z_]\w*")


def brief(text: str, limit: int = 40) -> str:
    """A long expression shortened for a one-line message."""
    return text if len(text) <= limit else text[:limit - 1] + "…"


def references(text: str) -> Iterator[Reference]:
    """The references in ``text``, in order. An unclosed ``$(`` raises ExpressionError."""
    at = text.find("$")
    while at >= 0:
        rest = text[at + 1:at + 2]
        end = at + 1
        if rest == "(":
            end = _closing(text, at + 1)
            yield Reference(at, end, None, text[at + 2:end - 1])
        elif rest == "{":
            close = text.find("}", at + 2)
            if close < 0:
                raise ExpressionError(f"{brief(text[at:])}: no closing '}}'")
            end = close + 1
            yield Reference(at, end, None, text[at + 2:close])
        else:
            name = _NAME.match(text, at + 1)
            if name:
                end = name.end()
                yield Reference(at, end, name[0], None)
        at = text.find("$", end)


def _closing(text: str, opening: int) -> int:
    """The index after the ``)`` that closes the ``(`` at ``opening``."""
    depth = 0
    for index in range(opening, len(text)):
        depth += {"(": 1, ")": -1}.get(text[index], 0)
        if depth == 0:
            return index + 1
    raise ExpressionError(f"{brief(text[opening - 1:])}: a '(' is never closed")


def names_in(expression: str) -> tuple[set[str], set[str]]:
    """The argument names and the function names an expression uses (read leniently, so
    that a block's definition can be checked before its expressions are evaluated)."""
    variables: set[str] = set()
    calls: set[str] = set()
    for match in re.finditer(r"(?<![\w.])([A-Za-z_]\w*)(\s*\()?", expression):
        if match[1] in KEYWORDS:
            continue
        (calls if match[2] else variables).add(match[1])
    return variables, calls


def shield(text: str) -> str:
    """``text`` with each comma inside a ``$(…)`` replaced by :data:`COMMA`, one character
    for one, so that YAML does not split ``[conv1-$(max(8, c)), bn]`` at it.

    Positions are unchanged; the YAML reader puts the commas back into each scalar.
    A text that holds :data:`COMMA` itself is left alone (its commas could not be told apart).
    """
    if "$(" not in text or COMMA in text:
        return text
    chars = list(text)
    at = text.find("$(")
    while at >= 0:
        depth, index = 0, at + 1
        while index < len(text) and text[index] != "\n":
            depth += {"(": 1, ")": -1}.get(text[index], 0)
            if depth == 0:
                break
            if text[index] == ",":
                chars[index] = COMMA
            index += 1
        at = text.find("$(", index)
    return "".join(chars)
