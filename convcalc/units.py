"""Numbers as people write them: ``25M``, ``4.5G``, ``2GiB`` in, ``60.95 MB`` out.

Every whole number convcalc reads from a spec or a command line comes through
:func:`whole_number` (or :func:`parse_quantity`): ASCII digits only (``３``, ``١`` and
``1_0`` are not numbers here), and at most ``MAX_DIGITS`` of them, far below Python's own
4,300-digit conversion limit, so that no product of such numbers goes unprinted.
"""

from __future__ import annotations

import re
from decimal import Decimal
from fractions import Fraction

MAX_DIGITS = 1_000  # digits of a number read; no real size or count comes near it
LIMIT = 10**MAX_DIGITS  # numbers computed from them stay below this (analysis refuses more)

_SI = {"": 1, "k": 10**3, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15}
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50}
_WHOLE = re.compile(r"\s*[-+]?([0-9]+)\s*")
# compiled when first used (``re`` keeps it): a run that reads no quantity does not pay
_QUANTITY = (r"\s*(?P<number>[0-9]+(?:\.[0-9]+)?|\.[0-9]+)\s*(?P<prefix>[kKMGTP]i?)?"
             r"\s*(?P<unit>B|MACs?|FLOPs?|params?)?\s*")


class NumberTooLong(ValueError):
    """A number with more than ``MAX_DIGITS`` digits: refused before Python converts it."""

    def __init__(self, digits: int | None = None) -> None:
        size = f"{digits:,} digits" if digits else f"more than {MAX_DIGITS:,} digits"
        super().__init__(f"a number of {size}; convcalc reads numbers of up to {MAX_DIGITS:,} "
                         "digits")


def check_size(value: int) -> int:
    """``value``, unless it has more than ``MAX_DIGITS`` digits (an expression's result)."""
    if abs(value) >= LIMIT:
        raise NumberTooLong
    return value


def check_digits(digits: str) -> None:
    """Refuse a run of more than ``MAX_DIGITS`` digits (leading zeros count)."""
    if len(digits) > MAX_DIGITS:
        raise NumberTooLong(len(digits))


def whole_number(text: str) -> int:
    """``42``, ``-3`` or `` 7 ``: an integer in ASCII digits, or ValueError."""
    match = _WHOLE.fullmatch(text)
    if match is None:
        raise ValueError(f"{shorten(text)} is not a whole number")
    check_digits(match[1])
    return int(text)


def shorten(text: str, most: int = 40) -> str:
    """``'…'``-quoted text, cut to ``most`` characters: a message never quotes a megabyte."""
    return repr(text if len(text) <= most else text[:most] + "…")


def parse_quantity(text: str) -> int:
    """``25M`` = 25,000,000; ``2GiB`` = 2·2^30; ``1.5k`` = 1,500. Exact: no rounding at all."""
    match = re.fullmatch(_QUANTITY, text.replace("_", "").replace(",", ""))
    if not match:
        raise ValueError(f"{shorten(text)} is not a number like 25M, 4.5G or 2GiB")
    check_digits(match["number"].replace(".", ""))
    prefix = match["prefix"] or ""
    value = Fraction(match["number"]) * (_BINARY.get(prefix) or _SI[prefix])
    if value.denominator != 1:
        raise ValueError(f"{shorten(text)} is not a whole number")
    return value.numerator


def format_bytes(count: int, binary: bool = False) -> str:
    """``60,950,432`` bytes as ``60.95 MB`` (or ``58.13 MiB`` with ``binary``)."""
    base, units = (1024, ("B", "KiB", "MiB", "GiB", "TiB", "PiB")) if binary else \
        (1000, ("B", "kB", "MB", "GB", "TB", "PB"))
    value, unit = Decimal(count), units[0]
    for unit in units:
        if abs(value) < base or unit == units[-1]:
            break
        value /= base
    return f"{count} B" if unit == "B" else f"{value:.2f} {unit}"
