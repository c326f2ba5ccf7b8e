"""The spec the writer is about to print: layer items, merges, block calls and runs, with
their modifiers, and blocks whose bodies refer to their arguments.

Concrete items hold values only; the items of a block body may hold a :class:`Ref` (an
argument, maybe scaled: ``$mid``, ``$(mid*4)``) or a :class:`Cond` (``if:``) instead.
Every item is frozen and hashable, so runs of equal items are found by comparing them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

_FIELDS: dict[type[Any], tuple[dataclasses.Field[Any], ...]] = {}


def kind_fields(kind: type[Any]) -> tuple[dataclasses.Field[Any], ...]:
    """A layer kind's fields (its YAML keys), looked up once per kind."""
    if kind not in _FIELDS:
        _FIELDS[kind] = dataclasses.fields(kind)
    return _FIELDS[kind]


@dataclass(frozen=True)
class Ref:
    """``$arg`` or an affine function of it, ``$(arg*scale + offset)``, exact."""

    arg: str
    scale: Fraction = Fraction(1)
    offset: int = 0

    def text(self) -> str:
        if self.scale == 1 and self.offset == 0:
            return f"${self.arg}"
        term = self.arg
        if self.scale.numerator != 1:
            term += f"*{self.scale.numerator}"
        if self.scale.denominator != 1:
            term += f"/{self.scale.denominator}"
        if self.offset:
            term += f"{'+' if self.offset > 0 else '-'}{abs(self.offset)}"
        return f"$({term})"

    def value(self, args: dict[str, Any]) -> Any:
        base = args[self.arg]
        if self.scale == 1 and self.offset == 0:
            return base
        result = base * self.scale + self.offset
        assert result.denominator == 1, "an argument's expression is not a whole number"
        return int(result)


@dataclass(frozen=True)
class Cond:
    """An ``if:`` condition: a boolean argument, or the input's channels compared with an
    argument's expression (``$(channels != mid*4)``)."""

    arg: str | None = None  # a boolean argument
    differs: Ref | None = None  # true when the input's channels differ from this

    def text(self) -> str:
        if self.differs is not None:
            inner = self.differs.text()
            inner = inner[2:-1] if inner.startswith("$(") else inner[1:]
            return f"$(channels != {inner})"
        return f"${self.arg}"

    def value(self, args: dict[str, Any], channels: int | None) -> bool:
        if self.differs is not None:
            return bool(channels != self.differs.value(args))
        assert self.arg is not None
        return args[self.arg] is True


Value = Any  # a layer field's canonical value, a Ref or (as a condition) a Cond


@dataclass(frozen=True)
class Leaf:
    """One layer: its registry kind and every field's value, in the kind's field order."""

    kind: str
    fields: tuple[tuple[str, Value], ...]
    name: str | None = None  # None: the name the reader generates
    waiver: tuple[str, str] | None = None  # allow: status, reason
    repeat: Value = 1
    when: Value = True


@dataclass(frozen=True)
class Fork:
    """A merge: branches that read the same input (a split: a part of its channels each);
    an empty branch is the identity."""

    op: str
    branches: tuple[tuple[Item, ...], ...]
    name: str | None = None
    repeat: Value = 1
    when: Value = True
    parts: tuple[int, ...] | None = None  # a split's channels per branch; None: equal


@dataclass(frozen=True)
class Call:
    """A call of a block: the arguments that differ from the block's defaults."""

    block: str
    args: tuple[tuple[str, Value], ...]
    name: str | None = None
    repeat: Value = 1
    when: Value = True


@dataclass(frozen=True)
class Run:
    """A ``layers:`` item: several items repeated (or included) together."""

    items: tuple[Item, ...]
    repeat: Value = 1
    when: Value = True


Item = Leaf | Fork | Call | Run


@dataclass(frozen=True)
class Block:
    """A block of ``blocks:``: its arguments (all with defaults) and its body."""

    name: str
    args: tuple[tuple[str, Any], ...]
    body: tuple[Item, ...]


@dataclass(frozen=True)
class Document:
    """Everything the writer prints, in the order it prints it."""

    name: str
    source: str
    input: str
    defaults: tuple[tuple[str, tuple[tuple[str, Any], ...]], ...]
    expect: tuple[tuple[str, Any], ...]
    budget: tuple[tuple[str, Any], ...]
    blocks: tuple[Block, ...]
    layers: tuple[Item, ...]
    notes: tuple[str, ...] = field(default=())  # comment lines at the top
    rules: str | None = None  # the framework whose size rules the model follows
