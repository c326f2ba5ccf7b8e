"""Human-friendly quantities: ``25M``, ``4.5G``, ``2GiB`` in, ``60.95 MB`` out."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_SI = {"": 1, "k": 10**3, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15}
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50}
_QUANTITY = re.compile(r"\s*(?P<number>\d+(?:\.\d+)?|\.\d+)\s*(?P<prefix>[kKMGTP]i?)?"
                       r"\s*(?P<unit>B|MACs?|FLOPs?|params?)?\s*")


def parse_quantity(text: str) -> int:
    """``25M`` = 25,000,000; ``2GiB`` = 2·2^30; ``1.5k`` = 1,500. Exact: no float rounding."""
    match = _QUANTITY.fullmatch(text.replace("_", "").replace(",", ""))
    if not match:
        raise ValueError(f"{text!r} is not a number like 25M, 4.5G or 2GiB")
    prefix = match["prefix"] or ""
    scale = _BINARY.get(prefix) or _SI[prefix]
    try:
        value = Decimal(match["number"]) * scale
    except InvalidOperation:  # pragma: no cover - the pattern admits only decimals
        raise ValueError(f"{text!r} is not a number") from None
    if value != value.to_integral_value():
        raise ValueError(f"{text!r} is not a whole number")
    return int(value)


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
