"""YAML text to a tree of values that remember their ``line:col``.

Built from the parser's event stream, not from ``yaml.load``: every value keeps its
position, duplicate keys are reported instead of silently overwritten, and hostile
documents are bounded while they stream — nesting depth, alias expansion and size are
checked before any of them can cost time or memory. Only the safe scalar types are built.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import yaml

from convcalc.language.references import COMMA, shield
from convcalc.units import NumberTooLong, check_digits, shorten

_DECIMAL = re.compile(r"[-+]?(0|[1-9][0-9_]*)")
MAX_DEPTH = 64  # nesting of sequences and mappings
# Values that aliases add (the "billion laughs" bound). The document itself is bounded by the
# size of its file (8 MiB); what aliases repeat is not, so it is bounded on its own.
MAX_ALIASED = 1_000_000

# The scalar types a spec may hold, by tag, with PyYAML's safe constructors.
_SCALARS: dict[str, Any] = {
    name: yaml.constructor.SafeConstructor.yaml_constructors[f"tag:yaml.org,2002:{name}"]
    for name in ("int", "float", "bool", "null")}

try:  # libyaml's parser when the wheel has it: about 20x faster
    _Loader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - pure-Python PyYAML
    _Loader = yaml.SafeLoader

_STR = "tag:yaml.org,2002:str"


# The located values are slotted dataclasses, compared and hashed by identity, and not
# frozen: nothing writes to them after the loop below makes them, and a frozen dataclass's
# __init__ (three object.__setattr__ calls) costs 3.4x a plain one's: 0.2 s of reading a
# 100,000-layer long-form spec, whose 900,000 events make 700,000 of them.


@dataclass(eq=False, slots=True)
class Scalar:
    """A YAML scalar: text, number, boolean or null, with its position."""

    value: object  # str, int, float, bool or None
    line: int  # 1-based
    col: int  # 1-based


@dataclass(eq=False, slots=True)
class Seq:
    """A YAML sequence and its position."""

    items: tuple[Node, ...]
    line: int
    col: int


@dataclass(eq=False, slots=True)
class Map:
    """A YAML mapping in document order (duplicate keys already dropped).

    No index by key: a mapping is read in order once, and looked up by key a few times at
    most, so a dictionary per mapping would cost more than it saves.
    """

    entries: tuple[tuple[Scalar, Node], ...]
    line: int
    col: int

    def get(self, key: str) -> Node | None:
        return next((value for k, value in self.entries if k.value == key), None)

    def key(self, key: str) -> Scalar | None:
        return next((k for k, _ in self.entries if k.value == key), None)


Node = Scalar | Seq | Map


class YamlError(Exception):
    """The document cannot be read at all; ``code`` is the problem code."""

    def __init__(self, code: str, message: str, line: int = 1, col: int = 1) -> None:
        super().__init__(message)
        self.code, self.message, self.line, self.col = code, message, line, col


@dataclass
class Duplicate:
    """A key given twice in one mapping: the first value is kept."""

    key: str
    line: int
    col: int
    first_line: int


class _Builder:
    """What building a tree keeps besides the tree: anchors, duplicates, resolved scalars.

    The tree itself is built in ``parse``'s loop, the hot path of reading a large spec.
    """

    def __init__(self) -> None:
        self.anchors: dict[str, tuple[Node, int]] = {}  # by name: the node and its size
        self.duplicates: list[Duplicate] = []
        self.resolver = yaml.resolver.Resolver()
        self.constructor = yaml.constructor.SafeConstructor()
        self.aliased = 0  # values that aliases added
        # A spec repeats its words and numbers (conv, filters, 64): each distinct scalar is
        # resolved once. Keyed by its text when plain, else by (tag, implicit, text); bounded
        # by the document.
        self.resolved: dict[object, object] = {}

    def resolve(self, text: str, tag: str | None, implicit: tuple[bool, bool], line: int,
                col: int) -> object:
        """The value of a scalar: a number, a boolean, None, or its text."""
        if COMMA in text:  # a comma inside $(…), shielded from YAML's flow lists
            text = text.replace(COMMA, ",")
        implicitly = tag is None or tag == "!"
        if implicitly:
            tag = self.resolver.resolve(  # type: ignore[no-untyped-call]
                yaml.ScalarNode, text, implicit)
        assert tag is not None
        if tag in (_STR, "tag:yaml.org,2002:merge") or (implicitly and (
                tag == "tag:yaml.org,2002:timestamp" or
                (tag == "tag:yaml.org,2002:int" and not _DECIMAL.fullmatch(text)))):
            # YAML 1.1 reads 0x3 as 3 and 1:30 as 90: a spec means the sizes 0x3 and 1:30.
            # `name: 2020-01-01` is a name, not a date. A merge key (<<) stays the text it
            # is: the spec language has no merges.
            return text
        name = tag.removeprefix("tag:yaml.org,2002:")
        if name not in _SCALARS:  # dates, binary, sets, Python objects: no spec value is one
            raise YamlError("yaml-tag", f"unsupported YAML tag {_shown_tag(tag)}", line, col)
        if name == "int":
            try:  # before Python's own 4,300-digit limit, and its advice to raise it
                check_digits(text.lstrip("+-").replace("_", ""))
            except NumberTooLong as exc:
                raise YamlError("too-large", str(exc), line, col) from None
        try:
            return _SCALARS[name](self.constructor, yaml.ScalarNode(tag, text))
        except (yaml.YAMLError, ValueError, LookupError, TypeError):  # `!!int ""`, `!!bool 3`
            raise YamlError("yaml-syntax", f"{shorten(text)} is not a YAML {name}",
                            line, col) from None

    def plain(self, text: str, line: int, col: int) -> object:
        """The value of a plain scalar (no quotes, no tag): it depends on its text alone."""
        value = self.resolved.get(text, self)
        if value is self:
            value = self.resolved[text] = self.resolve(text, None, (True, False), line, col)
        return value

    def alias(self, name: str | None, line: int, col: int) -> tuple[Node, int]:
        """An anchored value and its size, counted against ``MAX_ALIASED``."""
        found = self.anchors.get(name or "")
        if found is None:  # pragma: no cover - the parser rejects unknown aliases
            raise YamlError("yaml-syntax", f"unknown alias *{name}", line, col)
        self.aliased += found[1]
        if self.aliased > MAX_ALIASED:
            raise YamlError("too-large", f"aliases expand to more than {MAX_ALIASED:,} values "
                            "(aliases repeating aliases?)", line, col)
        return found

    def mapping(self, items: list[Node], line: int, col: int) -> Map:
        """A mapping of its keys and values in turn (one text key: ``parse`` makes it)."""
        pairs = iter(items)  # a mapping's events come in pairs: key, value
        entries: tuple[tuple[Any, Node], ...] = tuple(zip(pairs, pairs, strict=False))
        texts = {key.value for key, _ in entries
                 if type(key) is Scalar and type(key.value) is str}
        if len(texts) == len(entries):  # distinct text keys, the usual case
            return Map(entries, line, col)
        return Map(self.entries(items[0::2], items[1::2]), line, col)

    def entries(self, keys: list[Node], values: list[Node]) -> tuple[tuple[Scalar, Node], ...]:
        """A mapping's entries with its keys as text; a key given twice is kept once."""
        entries: list[tuple[Scalar, Node]] = []
        first: dict[str, Scalar] = {}
        for key, value in zip(keys, values, strict=True):
            if not isinstance(key, Scalar):
                raise YamlError("wrong-type", "a key must be plain text", key.line, key.col)
            name = key.value
            if not isinstance(name, str):  # a key is text: `1:`, `true:` and `null:` too
                name = "null" if name is None else str(name)
                key = Scalar(name, key.line, key.col)
            if name in first:
                self.duplicates.append(Duplicate(name, key.line, key.col, first[name].line))
                continue
            first[name] = key
            entries.append((key, value))
        return tuple(entries)


def plain_values() -> Callable[[str, int, int], object]:
    """A plain scalar's value from its text (and its line and column, for a problem), as
    the reader makes it; each distinct text is resolved once."""
    return _Builder().plain


def _shown_tag(tag: str) -> str:
    """A tag as a message quotes it: ``!!timestamp`` for YAML's own, cut short."""
    short = "!!" + tag.removeprefix("tag:yaml.org,2002:") if tag.startswith("tag:yaml.org,") \
        else tag
    return short if len(short) <= 60 else short[:60] + "…"


def _at(mark: Any) -> tuple[int, int]:
    """1-based (line, col) of a parser mark, (1, 1) when there is none."""
    return (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)


def parse(text: str) -> tuple[Node | None, list[Duplicate]]:
    """The located tree of a one-document YAML text (None when it is empty).

    Raises :class:`YamlError` for syntax errors, unsupported tags, nesting deeper than
    ``MAX_DEPTH`` and what aliases repeat beyond ``MAX_ALIASED``.
    """
    text = shield(text)
    if text.count("\n") > _LONG:  # a long text may repeat its lines: each is read once
        from convcalc.language.samelines import read_shortened

        read = read_shortened(text, _read)
        if read is not None:
            return read
    return _read(text)


_LONG = 512  # lines: below this, looking for repeated lines costs more than it can save


def _read(text: str) -> tuple[Node | None, list[Duplicate]]:
    """``parse`` of a text already shielded."""
    builder = _Builder()
    resolved = builder.resolved
    # the collections being built: (mapping?, anchor, line, col, values before it, where it
    # goes when it closes, its items so far)
    stack: list[tuple[bool, str | None, int, int, int, list[Node], list[Node]]] = []
    roots: list[Node] = []
    top = roots  # where the next finished value goes
    values = 0  # values so far, aliases expanded: an anchored collection's size
    documents = 0
    tags = {True: "tag:yaml.org,2002:map", False: "tag:yaml.org,2002:seq"}
    # the event types, looked up once rather than per event
    scalar, alias = yaml.ScalarEvent, yaml.AliasEvent
    map_start, seq_start = yaml.MappingStartEvent, yaml.SequenceStartEvent
    map_end, seq_end = yaml.MappingEndEvent, yaml.SequenceEndEvent
    node: Node
    loader = _Loader(text)
    try:
        # each event straight from the parser, up to the None after the stream's end (no
        # generator, no check_event: this is the hot loop of reading a large spec)
        for event in iter(loader.get_event, None):
            kind = type(event)
            if kind is scalar:
                mark = event.start_mark  # both parsers mark every event
                line, col = mark.line + 1, mark.column + 1
                # a plain scalar's value depends on its text alone (the usual scalar)
                key = event.value if event.style is None and event.tag is None else \
                    (event.tag, event.implicit, event.value)
                value = resolved.get(key, builder)
                if value is builder:  # once per distinct scalar: its text is shared too
                    value = resolved[key] = builder.resolve(event.value, event.tag,
                                                            event.implicit, line, col)
                node = Scalar(value, line, col)
                values += 1
                if event.anchor:
                    builder.anchors[event.anchor] = (node, 1)
                top.append(node)
            elif kind is map_start or kind is seq_start:
                mark = event.start_mark
                line, col = mark.line + 1, mark.column + 1
                if len(stack) >= MAX_DEPTH:
                    raise YamlError("too-deep", f"nesting deeper than {MAX_DEPTH} levels",
                                    line, col)
                mapping = kind is map_start
                tag = event.tag
                if tag is not None and tag != "!" and tag != tags[mapping]:
                    raise YamlError("yaml-tag", f"unsupported YAML tag {_shown_tag(tag)}",
                                    line, col)
                values += 1
                items: list[Node] = []
                stack.append((mapping, event.anchor, line, col, values, top, items))
                top = items
            elif kind is map_end or kind is seq_end:
                mapping, anchor, line, col, start, top, items = stack.pop()
                if not mapping:
                    node = Seq(tuple(items), line, col)
                elif len(items) == 2 and type(items[0]) is Scalar and \
                        type(items[0].value) is str:  # the usual mapping, `conv: {...}`
                    node = Map(((items[0], items[1]),), line, col)
                else:
                    node = builder.mapping(items, line, col)
                if anchor:
                    builder.anchors[anchor] = (node, values - start + 1)
                top.append(node)
            elif kind is alias:
                node, size = builder.alias(event.anchor, *_at(event.start_mark))
                values += size
                top.append(node)
            elif kind is yaml.DocumentStartEvent:
                documents += 1
                if documents > 1:
                    raise YamlError("yaml-syntax", "a spec is one YAML document; found a "
                                    "second", *_at(event.start_mark))
    except yaml.MarkedYAMLError as exc:
        line, col = _at(exc.problem_mark or exc.context_mark)
        problem = exc.problem or exc.context or "invalid YAML"
        if "nesting" in problem:
            # The libyaml in recent PyYAML wheels (6.0.4 here) refuses flow collections
            # nested past about 1,000 levels while it scans ahead, before the first event
            # reaches the bound above; older ones do not. Either way it is deeper than ours.
            raise YamlError("too-deep", f"nesting deeper than {MAX_DEPTH} levels", line,
                            col) from None
        raise YamlError("yaml-syntax", f"YAML syntax: {problem}", line, col) from None
    except yaml.YAMLError as exc:
        raise YamlError("yaml-syntax", f"YAML: {exc}") from None
    finally:
        loader.dispose()
    return (roots[0] if roots else None), builder.duplicates
