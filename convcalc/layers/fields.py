"""Turning raw key values (from YAML or the command line) into a layer's typed fields.

Each field's annotation names its parser, so a layer kind declares its keys once, as
dataclass fields, and gets validation and error messages for free.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Mapping
from fractions import Fraction
from typing import Any

from convcalc.arith import PAD_WORDS
from convcalc.shape import Shape
from convcalc.units import (
    LIMIT,
    MAX_DIGITS,
    NumberTooLong,
    check_size,
    shorten,
    whole_number,
)

ACTIVATIONS = ("relu", "relu6", "leaky-relu", "sigmoid", "tanh", "silu", "hard-swish",
               "hard-sigmoid", "gelu", "softmax")
# Other spellings, as the layer registry has them (and `_` reads as `-`: leaky_relu)
ACTIVATION_ALIASES = {"swish": "silu", "hswish": "hard-swish", "hardswish": "hard-swish",
                      "hsigmoid": "hard-sigmoid", "hardsigmoid": "hard-sigmoid",
                      "leakyrelu": "leaky-relu"}


class FieldError(ValueError):
    """A key is unknown, missing, or has a bad value; ``field`` names the key.

    ``code`` is the problem code: ``unknown-key``, ``missing-key``, ``wrong-type`` or
    ``too-large`` (a number of more digits than convcalc reads).
    """

    def __init__(self, code: str, field: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.field = field
        self.message = message


def _integer(value: object, minimum: int) -> int:
    if isinstance(value, str) and re.fullmatch(r"\s*-?[0-9]+\s*", value):
        value = whole_number(value)
    if isinstance(value, Fraction):  # the value of a $(…) that is not whole
        raise ValueError(f"expected an integer, got the fraction {_shown(value)}")
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"expected an integer, got {_shown(value)}")
    check_size(value)
    if value < minimum:
        raise ValueError(f"expected an integer of at least {minimum}, got {_shown(value)}")
    return value


def _integers(value: object, minimum: int) -> tuple[int, ...]:
    """``3``, ``"3x5"`` or ``[3, 5]``: one size for every axis, or one per axis."""
    if isinstance(value, str) and "x" in value:
        if not re.fullmatch(r"\s*-?[0-9]+(\s*x\s*-?[0-9]+)*\s*", value):
            raise ValueError(f"expected a size or per-axis sizes like 3x5, got {_shown(value)}")
        value = value.split("x")
    if isinstance(value, list | tuple):
        if not 1 <= len(value) <= 3:
            raise ValueError(f"expected 1 to 3 per-axis sizes, got {len(value)}")
        return tuple(_integer(v, minimum) for v in value)
    return (_integer(value, minimum),)


def _pair(value: object) -> tuple[int, int]:
    """One axis of padding: ``2`` (both sides), ``"2,3"`` or ``[2, 3]`` (before, after)."""
    if isinstance(value, str) and "," in value:
        value = value.split(",")
    if isinstance(value, list | tuple):
        if len(value) != 2:
            raise ValueError("an axis's padding is one number or [before, after], got "
                             f"{_shown(value)}")
        return (_integer(value[0], 0), _integer(value[1], 0))
    size = _integer(value, 0)
    return (size, size)


def parse_pads(value: object) -> str | tuple[tuple[int, int], ...]:
    """A padding word, one size, per-axis sizes ``1x2``, or per-axis ``[[0, 1], [0, 1]]``."""
    if isinstance(value, str) and value.strip().lower() in PAD_WORDS:
        return value.strip().lower()
    if isinstance(value, str) and "x" in value:
        value = value.split("x")
    if isinstance(value, list | tuple):
        if not 1 <= len(value) <= 3:
            raise ValueError(f"expected 1 to 3 per-axis paddings, got {len(value)}")
        return tuple(_pair(v) for v in value)
    try:
        return (_pair(value),)
    except NumberTooLong:
        raise
    except ValueError:
        raise ValueError(f"expected a size, per-axis sizes or one of {', '.join(PAD_WORDS)}; "
                         f"got {_shown(value)}") from None


def _boolean(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ValueError(f"expected true or false, got {_shown(value)}")


def _number(value: object) -> float:
    """A real-valued setting that never enters the shape path (dropout rate, LRN alpha).

    Finite only: ``.inf``, ``.nan`` and ``1e400`` (infinite as a float) are no setting of
    any layer, and an export could not write them back as Python.
    """
    if isinstance(value, str) and re.fullmatch(
            r"\s*[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?\s*", value):
        value = float(value)
    if isinstance(value, bool) or not isinstance(value, int | float | Fraction):
        raise ValueError(f"expected a number, got {_shown(value)}")
    try:
        number = float(value)
    except OverflowError:  # an integer or fraction past float's range
        number = math.inf
    if not math.isfinite(number):
        raise ValueError(f"expected a finite number, got {_shown(value)}")
    return number


def _shown(value: object) -> str:
    """A raw value as a message quotes it: repr, cut short (never a thousand digits)."""
    if isinstance(value, str):
        return shorten(value)
    if isinstance(value, int | Fraction) and (abs(value.numerator) >= LIMIT or
                                              value.denominator >= LIMIT):
        return f"a number of more than {MAX_DIGITS:,} digits"
    return str(value)[:60] if isinstance(value, Fraction) else repr(value)[:60]


def _activation(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = value.replace("_", "-")
    if isinstance(value, str) and value in ACTIVATION_ALIASES:
        return ACTIVATION_ALIASES[value]
    if isinstance(value, str) and value in ACTIVATIONS:
        return value
    raise ValueError(f"expected an activation ({', '.join([*ACTIVATIONS, *ACTIVATION_ALIASES])})"
                     f", got {_shown(value)}")


def _text(value: object) -> str:
    if isinstance(value, str):
        return value
    raise ValueError(f"expected text, got {_shown(value)}")


def _shape(value: object) -> Shape:
    """A declared shape: ``14x14x256``, ``[14, 14, 256]`` or ``1000``."""
    if isinstance(value, list | tuple) and all(isinstance(v, int) and not isinstance(v, bool)
                                               for v in value):
        return Shape.of(list(value))
    if isinstance(value, int) and not isinstance(value, bool):
        return Shape.of([value])
    if isinstance(value, str):
        return Shape.parse(value)
    raise ValueError(f"expected a shape like 14x14x256, got {value!r}")


def _optional(parse: Callable[[object], Any]) -> Callable[[object], Any]:
    return lambda value: None if value is None else parse(value)


# Annotation (as written on the dataclass field) -> parser of a raw value.
PARSERS: dict[str, Callable[[object], Any]] = {
    "int": lambda v: _integer(v, 1),
    "int | None": _optional(lambda v: _integer(v, 1)),
    "Ints": lambda v: _integers(v, 1),
    "Ints | None": _optional(lambda v: _integers(v, 1)),
    "Index": lambda v: _integer(v, 0),
    "Offsets": lambda v: _integers(v, 0),
    "Offsets | None": _optional(lambda v: _integers(v, 0)),
    "Pads": parse_pads,
    "Pads | None": _optional(parse_pads),
    "bool": _boolean,
    "bool | None": _optional(_boolean),
    "float": _number,
    "Act": _activation,
    "str": _text,
    "Shape": _shape,
}


_FIELDS: dict[type[Any], dict[str, dataclasses.Field[Any]]] = {}


def _fields(kind: type[Any]) -> dict[str, dataclasses.Field[Any]]:
    """A kind's fields by name, looked up once per kind rather than once per layer."""
    if kind not in _FIELDS:
        _FIELDS[kind] = {f.name: f for f in dataclasses.fields(kind)}
    return _FIELDS[kind]


def construct(kind: type[Any], raw: Mapping[str, object]) -> tuple[Any, list[FieldError]]:
    """Build a layer of ``kind`` from raw key values; all bad keys are reported at once."""
    fields = _fields(kind)
    values: dict[str, object] = {}
    errors: list[FieldError] = []
    for key, value in raw.items():
        if key not in fields:
            errors.append(FieldError("unknown-key", key, f"{key!r} is not a key of this kind "
                                     f"(keys: {', '.join(fields) or 'none'})"))
            continue
        try:
            values[key] = PARSERS[str(fields[key].type)](value)
        except NumberTooLong as exc:
            errors.append(FieldError("too-large", key, f"{key}: {exc}"))
        except ValueError as exc:
            errors.append(FieldError("wrong-type", key, f"{key}: {exc}"))
    missing = [name for name, f in fields.items() if name not in raw and
               f.default is dataclasses.MISSING]
    errors += [FieldError("missing-key", name, f"missing required key {name!r}")
               for name in missing]
    if errors:
        return None, errors
    return kind(**values), []
