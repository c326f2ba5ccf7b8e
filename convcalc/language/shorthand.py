"""The papers' own notation as layers: ``conv3-64``, ``conv1x7-192-s2-p0x3``,
``maxpool3-s2-ceil``, ``fc-4096``, ``dwconv3-s2``.

A shorthand is a kind (or alias), an optional kernel (or count) glued to it, an optional
``-count``, then options: a letter and a number (``s2``, ``p1``, ``d2``, ``g32``, ``m2``) or
a word (``same``, ``valid``, ``full``, ``ceil``, ``nobias``).
"""

from __future__ import annotations

import re
from typing import Any

from convcalc.layers import ALIASES, KINDS, lookup

SHORTHAND = re.compile(r"(?P<kind>[a-z]+(?:-[a-z]+)*?)(?P<k>\d+(?:x\d+)*)?(?:-(?P<count>\d+))?"
                       r"(?P<opts>(?:-[a-z]+(?:\d+(?:,\d+)?(?:x\d+(?:,\d+)?)*)?)*)")
_OPTION = re.compile(r"-([a-z]+?)(\d[\d,x]*)?(?=-|$)")
_LETTERS = {"s": "stride", "p": "pad", "d": "dilation", "g": "groups", "m": "multiplier"}
_WORDS: dict[str, tuple[str, object]] = {
    "same": ("pad", "same"), "valid": ("pad", "valid"), "full": ("pad", "full"),
    "ceil": ("ceil", True), "nobias": ("bias", False),
}


def read_shorthand(text: str) -> tuple[type[Any], dict[str, object]] | None:
    """``conv3-64-s2`` as (Conv, {k: 3, filters: 64, stride: 2}), or None."""
    match = SHORTHAND.fullmatch(text)
    kind = lookup(match["kind"]) if match else None
    if match is None or kind is None:
        return None
    fields: dict[str, object] = {}
    number_field = kind.kernel_field or kind.count_field
    if match["k"]:
        if number_field is None:
            return None
        fields[number_field] = match["k"]
    if match["count"]:
        if kind.count_field is None or kind.count_field in fields:
            return None
        fields[kind.count_field] = match["count"]
    for word, number in _OPTION.findall(match["opts"] or ""):
        if number and word in _LETTERS:
            fields[_LETTERS[word]] = number
        elif not number and word in _WORDS:
            key, flag = _WORDS[word]
            fields[key] = flag
        else:
            return None
    return kind, fields


def shorthand_hint(text: str) -> str:
    """A hint for a misspelt shorthand's kind (``cnov3-64``), or ""."""
    import difflib

    match = SHORTHAND.fullmatch(text)
    if match is None:
        return ""
    close = difflib.get_close_matches(match["kind"], [*KINDS, *ALIASES], n=1, cutoff=0.6)
    return f" (did you mean {close[0] + text[len(match['kind']):]!r}?)" if close else ""
