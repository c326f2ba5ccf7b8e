"""One block body for several subgraphs: anti-unification of written items.

The members' bodies are aligned item by item (a longest common subsequence over the items'
kinds, so that a part one member lacks becomes optional); every value on which the members
disagree becomes an argument of the block. An argument whose values are a fixed multiple of
another's, or another's plus a constant, is written as an expression of it
(``$(mid*4)``); a part only some members have gets ``if:`` (a boolean argument, or the input
channels compared with an argument, ``$(channels != mid*4)``) or, when it is repeated,
``repeat: 0`` for the members without it.

The result is checked: the body with each member's arguments filled in must give that
member's body back, item for item.
"""

from __future__ import annotations

import dataclasses
import keyword
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from convcalc.language.written import Call, Cond, Fork, Item, Leaf, Ref, Run


class _Missing:
    """The member lacks the enclosing part: it has no value here."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()
MAX_ARGS = 8  # more arguments than this and the block explains nothing


class Mismatch(Exception):
    """The members cannot share one body."""


@dataclass(frozen=True)
class Features:
    """What the language can say (the ``language`` branch adds the last three)."""

    conditionals: bool = False  # `if:` on an item
    repeat_zero: bool = False
    channels: bool = False  # a block refers to its input's channels


@dataclass(frozen=True)
class Slot:
    """A place in the body where the members disagree, before it becomes an argument."""

    index: int


@dataclass(frozen=True)
class Template:
    """A block body, its arguments with their defaults, and each member's argument values."""

    body: tuple[Item, ...]
    args: tuple[tuple[str, Any], ...]
    values: tuple[dict[str, Any], ...]


def head(item: Item) -> tuple[Any, ...]:
    """What two items must share to be aligned with each other."""
    if isinstance(item, Leaf):
        return ("leaf", item.kind)
    if isinstance(item, Fork):
        return ("fork", item.op, len(item.branches))
    if isinstance(item, Call):
        return ("call", item.block)
    return ("run",)


Column = list[Any]  # per member: its item, None (absent) or MISSING (no enclosing part)


def align(seqs: Sequence[tuple[Item, ...] | None]) -> list[Column]:
    """The members' items in columns, each column one kind of item; progressive alignment
    along a longest common subsequence of heads."""
    columns: list[tuple[tuple[Any, ...], dict[int, Item]]] = []
    first = True
    for member, seq in enumerate(seqs):
        if seq is None:
            continue
        if first:
            columns = [(head(item), {member: item}) for item in seq]
            first = False
            continue
        heads = [head(item) for item in seq]
        rows, cols = len(columns), len(seq)
        table = [[0] * (cols + 1) for _ in range(rows + 1)]
        for i in range(rows - 1, -1, -1):
            for j in range(cols - 1, -1, -1):
                table[i][j] = table[i + 1][j + 1] + 1 if columns[i][0] == heads[j] else \
                    max(table[i + 1][j], table[i][j + 1])
        merged: list[tuple[tuple[Any, ...], dict[int, Item]]] = []
        i = j = 0
        while i < rows or j < cols:
            if i < rows and j < cols and columns[i][0] == heads[j]:
                columns[i][1][member] = seq[j]
                merged.append(columns[i])
                i, j = i + 1, j + 1
            elif j < cols and (i == rows or table[i][j + 1] >= table[i + 1][j]):
                merged.append((heads[j], {member: seq[j]}))
                j += 1
            else:
                merged.append(columns[i])
                i += 1
        columns = merged
    return [[MISSING if seq is None else found.get(member) for member, seq in enumerate(seqs)]
            for _, found in columns]


class Unifier:
    """Builds one body for several members, recording where they disagree."""

    def __init__(self, keep_names: bool, features: Features,
                 block_defaults: dict[str, dict[str, Any]]) -> None:
        self.keep_names = keep_names
        self.features = features
        self.block_defaults = block_defaults
        self.slots: list[tuple[tuple[Any, ...], str]] = []

    def value(self, values: Sequence[Any], role: str) -> Any:
        """The shared value, or a slot when the members differ."""
        present = [v for v in values if v is not MISSING]
        if all(v == present[0] and type(v) is type(present[0]) for v in present):
            return present[0]
        self.slots.append((tuple(values), role))
        return Slot(len(self.slots) - 1)

    def name(self, names: Sequence[Any]) -> str | None:
        present = {n for n in names if n is not MISSING}
        if len(present) == 1:
            return present.pop()  # type: ignore[no-any-return]
        if self.keep_names:
            raise Mismatch
        return None

    def sequence(self, seqs: Sequence[tuple[Item, ...] | None]) -> tuple[Item, ...]:
        columns = align(seqs)
        presence = [tuple(MISSING if seq is None else column[m] is not None
                          for m, seq in enumerate(seqs)) for column in columns]
        items: list[Item] = []
        start = 0
        while start < len(columns):
            end = start + 1
            if False in presence[start]:  # optional: take the run that comes and goes with it
                while end < len(columns) and presence[end] == presence[start]:
                    end += 1
            items += self.columns(columns[start:end], presence[start])
            start = end
        return tuple(items)

    def columns(self, columns: list[Column], presence: tuple[Any, ...]) -> list[Item]:
        if False not in presence:
            return [self.item(column) for column in columns]
        if not self.features.conditionals and not self.features.repeat_zero:
            raise Mismatch
        if len(columns) == 1 and self.features.repeat_zero and any(
                isinstance(item, Item) and item.repeat != 1 for item in columns[0]):
            return [self.item(columns[0], absent_repeat=0)]  # `repeat: $n`, 0 without it
        if not self.features.conditionals:
            raise Mismatch
        items = [self.item(column) for column in columns]
        when = self.value(presence, "if:" + _describe(items[0]))
        if len(items) == 1:
            return [dataclasses.replace(items[0], when=when)]
        return [Run(tuple(items), when=when)]

    def item(self, column: Column, absent_repeat: Any = MISSING) -> Item:
        present = [item for item in column if isinstance(item, Item)]
        first = present[0]
        parts = [item if isinstance(item, Item) else MISSING for item in column]
        made: Item
        if isinstance(first, Leaf):
            made = self.leaf(first, parts)
        elif isinstance(first, Fork):
            if len({item.parts for item in parts if isinstance(item, Fork)}) > 1:
                raise Mismatch  # a split's parts are not an argument (yet)
            made = Fork(first.op, tuple(
                self.sequence([item.branches[number] if isinstance(item, Fork) else None
                               for item in parts]) for number in range(len(first.branches))),
                self.name([_name(item) for item in parts]), parts=first.parts)
        elif isinstance(first, Call):
            made = self.call(first, parts)
        else:
            made = Run(self.sequence([item.items if isinstance(item, Run) else None
                                      for item in parts]))
        # the count after the values: a block's arguments read filters, stride, then n
        repeat = self.value([item.repeat if isinstance(item, Item) else
                             absent_repeat if item is None else MISSING
                             for item in column], "n")
        return dataclasses.replace(made, repeat=repeat)

    def leaf(self, first: Leaf, parts: list[Any]) -> Leaf:
        if len({item.waiver for item in parts if item is not MISSING}) > 1:
            raise Mismatch
        fields = tuple((key, self.value([item.fields[index][1] if item is not MISSING
                                         else MISSING for item in parts], key))
                       for index, (key, _) in enumerate(first.fields))
        return Leaf(first.kind, fields, self.name([_name(item) for item in parts]),
                    first.waiver)

    def call(self, first: Call, parts: list[Any]) -> Call:
        defaults = self.block_defaults[first.block]
        args = []
        for arg, default in defaults.items():
            value = self.value([dict(item.args).get(arg, default) if item is not MISSING
                                else MISSING for item in parts], arg)
            if isinstance(value, Slot) or value != default or type(value) is not type(default):
                args.append((arg, value))
        return Call(first.block, tuple(args), self.name([_name(item) for item in parts]))


def _name(item: Any) -> Any:
    return MISSING if item is MISSING else item.name


def _describe(item: Item) -> str:
    """A word for a part that comes and goes, to name its condition: ``with_conv``."""
    if isinstance(item, Leaf):
        return item.kind.replace("-", "_")
    if isinstance(item, Call):
        return item.block.replace("-", "_")
    if isinstance(item, Fork):
        return item.op
    return _describe(item.items[0]) if item.items else "layers"


# --- slots to arguments ---------------------------------------------------------------------

# Words a block may not take as arguments: the item's own keys, YAML's words, and the input
# shape a block reads (`channels`, `height`, `width`, …), which an argument would hide.
_RESERVED = {"name", "repeat", "if", "allow", "reason", "layers", "args", "true", "false",
             "null", "yes", "no", "on", "off", "channels", "height", "width", "length",
             "depth"}


@dataclass
class _Arg:
    name: str
    vector: list[Any]  # per member; MISSING where no member's part fixes it


def _ints(vector: Sequence[Any]) -> bool:
    return all(type(v) is int for v in vector if v is not MISSING)


def _agrees(known: Sequence[Any], vector: Sequence[Any]) -> bool:
    """Equal wherever both are given, and given together at least once."""
    both = [(a, b) for a, b in zip(known, vector, strict=True)
            if a is not MISSING and b is not MISSING]
    return bool(both) and all(a == b and type(a) is type(b) for a, b in both)


def _affine(known: Sequence[Any], vector: Sequence[Any]) -> tuple[Fraction, int] | None:
    """(scale, offset) with vector = known·scale + offset wherever vector is given, if any
    (a multiple, or a shift: the forms a reader follows)."""
    if not (_ints(known) and _ints(vector)):
        return None
    pairs = [(a, b) for a, b in zip(known, vector, strict=True) if b is not MISSING]
    if any(a is MISSING for a, _ in pairs) or len({a for a, _ in pairs}) < 2:
        return None
    (a0, b0), (a1, b1) = pairs[0], next(p for p in pairs if p[0] != pairs[0][0])
    scale = Fraction(b1 - b0, a1 - a0)
    offset = b0 - scale * a0
    if scale <= 0 or offset.denominator != 1 or (scale != 1 and offset != 0):
        return None
    if scale.numerator > 64 or scale.denominator > 64:
        return None
    if all(a * scale + offset == b for a, b in pairs):
        return scale, int(offset)
    return None


class Arguments:
    """Turns slots into arguments and references, sharing and relating them."""

    def __init__(self, features: Features, channels: Sequence[int]) -> None:
        self.features = features
        self.channels = channels
        self.args: list[_Arg] = []
        self.refs: list[Ref] = []  # integer references made so far, for conditions

    def resolve(self, vector: tuple[Any, ...], role: str) -> Ref | Cond:
        if role.startswith("if:"):
            return self.condition(vector, role[3:])
        for arg in self.args:
            if _agrees(arg.vector, vector):
                self._merge(arg, vector)
                return self._int_ref(Ref(arg.name), vector)
            relation = _affine(arg.vector, vector)
            if relation is not None:
                return self._int_ref(Ref(arg.name, *relation), vector)
        return self._int_ref(Ref(self._new(role, vector)), vector)

    def condition(self, vector: tuple[Any, ...], what: str) -> Cond:
        for arg in self.args:
            if _agrees(arg.vector, vector):
                self._merge(arg, vector)
                return Cond(arg.name)
        if self.features.channels and all(c > 0 for c in self.channels):
            for ref in self.refs:
                values = self.values_of(ref)
                if all(v is MISSING or (values[m] is not MISSING and
                                        (self.channels[m] != values[m]) == v)
                       for m, v in enumerate(vector)):
                    return Cond(differs=ref)
        return Cond(self._new(f"with_{what}", vector))

    def values_of(self, ref: Ref) -> list[Any]:
        arg = next(a for a in self.args if a.name == ref.arg)
        return [MISSING if v is MISSING else ref.value({ref.arg: v}) for v in arg.vector]

    def _int_ref(self, ref: Ref, vector: Sequence[Any]) -> Ref:
        if _ints(vector) and ref not in self.refs:
            self.refs.append(ref)
        return ref

    @staticmethod
    def _merge(arg: _Arg, vector: Sequence[Any]) -> None:
        arg.vector = [b if a is MISSING else a for a, b in zip(arg.vector, vector, strict=True)]

    def _new(self, base: str, vector: Sequence[Any]) -> str:
        base = "".join(c if c.isalnum() or c == "_" else "_" for c in base) or "arg"
        if base[0].isdigit() or base in _RESERVED or keyword.iskeyword(base):
            base = "a_" + base
        taken = {arg.name for arg in self.args}
        name, number = base, 2
        while name in taken:
            name, number = f"{base}{number}", number + 1
        self.args.append(_Arg(name, list(vector)))
        return name

    def defaults(self) -> list[tuple[str, Any]]:
        """Each argument's most common value (the first member's on a tie)."""
        chosen = []
        for arg in self.args:
            given = [v for v in arg.vector if v is not MISSING]
            counts = Counter((type(v), v) for v in given)
            best = max(counts.values())
            chosen.append((arg.name, next(v for v in given if counts[(type(v), v)] == best)))
        return chosen


def _fill(item: Item, refs: dict[int, Any], block_defaults: dict[str, dict[str, Any]]) -> Item:
    """The item with every slot replaced by its reference."""
    def fill(value: Any) -> Any:
        return refs[value.index] if isinstance(value, Slot) else value

    repeat, when = fill(item.repeat), fill(item.when)
    if isinstance(item, Leaf):
        return dataclasses.replace(item, fields=tuple((k, fill(v)) for k, v in item.fields),
                                   repeat=repeat, when=when)
    if isinstance(item, Fork):
        return dataclasses.replace(item, branches=tuple(
            tuple(_fill(inner, refs, block_defaults) for inner in branch)
            for branch in item.branches), repeat=repeat, when=when)
    if isinstance(item, Call):
        return dataclasses.replace(item, args=tuple((k, fill(v)) for k, v in item.args),
                                   repeat=repeat, when=when)
    return Run(tuple(_fill(inner, refs, block_defaults) for inner in item.items), repeat, when)


def instantiate(items: Sequence[Item], args: dict[str, Any], channels: int,
                block_defaults: dict[str, dict[str, Any]]) -> tuple[Item, ...]:
    """A body with one call's arguments filled in, as :func:`structure.convert` writes it."""
    def value(v: Any) -> Any:
        if isinstance(v, Ref):
            return v.value(args)
        if isinstance(v, Cond):
            return v.value(args, channels)
        return v

    found: list[Item] = []
    for item in items:
        repeat = value(item.repeat)
        if not value(item.when) or repeat == 0:
            continue
        if isinstance(item, Leaf):
            made: Item = dataclasses.replace(item, fields=tuple(
                (k, value(v)) for k, v in item.fields), repeat=repeat, when=True)
        elif isinstance(item, Fork):
            made = dataclasses.replace(item, branches=tuple(
                instantiate(branch, args, channels, block_defaults)
                for branch in item.branches), repeat=repeat, when=True)
        elif isinstance(item, Call):
            defaults = block_defaults[item.block]
            made = dataclasses.replace(item, args=tuple(
                (k, value(v)) for k, v in item.args
                if value(v) != defaults[k] or type(value(v)) is not type(defaults[k])),
                repeat=repeat, when=True)
        else:
            inner = instantiate(item.items, args, channels, block_defaults)
            made = Run(inner, repeat)
            if repeat == 1:  # a conditional run that is there: its items, in place
                found += inner
                continue
        found.append(made)
    return tuple(found)


def unify(bodies: Sequence[tuple[Item, ...]], channels: Sequence[int], keep_names: bool,
          features: Features, block_defaults: dict[str, dict[str, Any]]) -> Template | None:
    """One body for all ``bodies`` with arguments, or None when they cannot share one."""
    unifier = Unifier(keep_names, features, block_defaults)
    try:
        body = unifier.sequence(list(bodies))
    except Mismatch:
        return None
    arguments = Arguments(features, channels)
    refs = {index: arguments.resolve(vector, role)
            for index, (vector, role) in enumerate(unifier.slots)}
    if len(arguments.args) > MAX_ARGS:
        return None
    body = tuple(_fill(item, refs, block_defaults) for item in body)
    defaults = arguments.defaults()
    values = tuple({arg.name: default if arg.vector[m] is MISSING else arg.vector[m]
                    for arg, (_, default) in zip(arguments.args, defaults, strict=True)}
                   for m in range(len(bodies)))
    if any(instantiate(body, values[m], channels[m], block_defaults) != bodies[m]
           for m in range(len(bodies))):
        return None
    return Template(body, tuple(defaults), values)
