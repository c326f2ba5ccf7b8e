"""The papers' own notation as layers: ``conv3-64``, ``conv1x7-192-s2-p0x3``,
``maxpool3-s2-ceil``, ``fc-4096``, ``dwconv3-s2``, ``adaptive-avgpool7x7``.

A shorthand is a kind (or alias, hyphens and all), an optional kernel (or count) glued to
it, an optional ``-count``, then options: a letter and a number (``s2``, ``p1``, ``d2``,
``g32``, ``m2``) or a word (``same``, ``valid``, ``full``, ``ceil``, ``nobias``), each at
most once.
"""

from __future__ import annotations

import re
from typing import Any

from convcalc.language.base import KIND_CUTOFF, unlike
from convcalc.layers import ALIASES, KINDS, NAME_OF, lookup

_NUMBER = r"[0-9]+(?:x[0-9]+)*"  # 3, or 1x7 per axis
_HEAD = re.compile(rf"(?P<kind>[a-z_]+?)(?P<number>{_NUMBER})?")
_COUNT = re.compile(_NUMBER)
_OPTION = re.compile(r"(?P<word>[a-z]+?)(?P<number>[0-9][0-9,x]*)?")
_LETTERS = {"s": "stride", "p": "pad", "d": "dilation", "g": "groups", "m": "multiplier"}
_WORDS: dict[str, tuple[str, object]] = {
    "same": ("pad", "same"), "valid": ("pad", "valid"), "full": ("pad", "full"),
    "ceil": ("ceil", True), "nobias": ("bias", False),
}
OPTIONS = ("-sN stride, -pN pad, -dN dilation, -gN groups, -mN multiplier, -same, -valid, "
           "-full, -ceil, -nobias")


class ShorthandError(ValueError):
    """A shorthand of a known kind with a bad option; ``code`` is the problem code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _kind(parts: list[str]) -> tuple[type[Any], str | None, list[str]] | None:
    """The longest run of leading words that names a kind: (kind, glued number, the rest).

    ``adaptive-avgpool3x2`` is the kind adaptive-avgpool with 3x2 glued to it; ``relu6`` is
    a kind of its own, ``conv3`` the kind conv with 3.
    """
    for count in range(len(parts), 0, -1):
        words, last = parts[:count - 1], parts[count - 1]
        whole = lookup("-".join(parts[:count]))
        if whole is not None:
            return whole, None, parts[count:]
        head = _HEAD.fullmatch(last)
        if head is not None and head["number"]:
            kind = lookup("-".join([*words, head["kind"]]))
            if kind is not None:
                return kind, head["number"], parts[count:]
    return None


def read_shorthand(text: str) -> tuple[type[Any], dict[str, object]] | None:
    """``conv3-64-s2`` as (Conv, {k: 3, filters: 64, stride: 2}), or None."""
    try:
        return parse_shorthand(text)
    except ShorthandError:
        return None


def parse_shorthand(text: str) -> tuple[type[Any], dict[str, object]] | None:
    """``conv3-64-s2`` as (Conv, {k: 3, filters: 64, stride: 2}); None if no kind starts it.

    Raises :class:`ShorthandError` when a kind starts it but the rest is not its notation.
    """
    found = _kind(text.split("-"))
    if found is None:
        return None
    kind, number, rest = found
    name = NAME_OF[kind]
    fields: dict[str, object] = {}
    glued = kind.kernel_field or kind.count_field
    if number:
        if glued is None:
            raise ShorthandError("unknown-layer", f"{name} takes no number after its name")
        fields[glued] = number
    if rest and _COUNT.fullmatch(rest[0]):
        if kind.count_field is None or kind.count_field in fields:
            raise ShorthandError("unknown-layer", f"{name} takes no -{rest[0]} (no count "
                                 "follows its name here)")
        fields[kind.count_field] = rest.pop(0)
    for option in rest:
        key, value = _option(option, name)
        if key in fields:
            raise ShorthandError("duplicate-key", f"{key} is given twice (-{option})")
        fields[key] = value
    return kind, fields


def _option(option: str, name: str) -> tuple[str, object]:
    """One ``-s2`` or ``-same`` as (key, value)."""
    match = _OPTION.fullmatch(option)
    if match is not None and match["number"] and match["word"] in _LETTERS:
        return _LETTERS[match["word"]], match["number"]
    if match is not None and not match["number"] and match["word"] in _WORDS:
        return _WORDS[match["word"]]
    raise ShorthandError("unknown-layer", f"{name} shorthand has no option -{option} "
                         f"(options: {OPTIONS})")


def shorthand_hint(text: str) -> str:
    """A hint for a misspelt shorthand's kind (``cnov3-64``), or "" (never the text itself)."""
    import difflib

    typed = re.match(r"[a-z_-]+?(?=[0-9]|-[0-9]|$)", text)
    if typed is None or not typed[0]:
        return ""
    names = [name for name in (*KINDS, *ALIASES) if unlike(typed[0], name)]
    for close in difflib.get_close_matches(typed[0], names, n=3, cutoff=KIND_CUTOFF):
        fixed = close + text[len(typed[0]):]
        if fixed != text and read_shorthand(fixed) is not None:
            return f" (did you mean {fixed!r}?)"
    return ""
