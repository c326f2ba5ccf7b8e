"""YAML text to a tree of values that remember their ``line:col``.

Built from the parser's event stream, not from ``yaml.load``: every value keeps its
position, duplicate keys are reported instead of silently overwritten, and hostile
documents are bounded while they stream — nesting depth, alias expansion and size are
checked before any of them can cost time or memory. Only the safe scalar types are built.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml

from convcalc.language.references import COMMA, shield

_DECIMAL = re.compile(r"[-+]?(0|[1-9][0-9_]*)")
MAX_DEPTH = 64  # nesting of sequences and mappings
MAX_NODES = 1_000_000  # values after alias expansion (the "billion laughs" bound)

try:  # libyaml's parser when the wheel has it: about 20x faster
    _Loader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - pure-Python PyYAML
    _Loader = yaml.SafeLoader


@dataclass(frozen=True, eq=False)
class Scalar:
    """A YAML scalar: text, number, boolean or null, with its position."""

    value: object  # str, int, float, bool or None
    line: int  # 1-based
    col: int  # 1-based
    size: int = 1


@dataclass(frozen=True, eq=False)
class Seq:
    """A YAML sequence and its position."""

    items: tuple[Node, ...]
    line: int
    col: int
    size: int = 1  # values below, aliases expanded


@dataclass(frozen=True, eq=False)
class Map:
    """A YAML mapping in document order; ``index`` finds a value by key text."""

    entries: tuple[tuple[Scalar, Node], ...]
    line: int
    col: int
    size: int = 1
    index: dict[str, Node] = field(default_factory=dict, repr=False)

    def get(self, key: str) -> Node | None:
        return self.index.get(key)

    def key(self, key: str) -> Scalar | None:
        return next((k for k, _ in self.entries if k.value == key), None)


Node = Scalar | Seq | Map


class YamlError(Exception):
    """The document cannot be read at all; ``code`` is the problem code."""

    def __init__(self, code: str, message: str, line: int = 1, col: int = 1) -> None:
        super().__init__(message)
        self.code, self.message, self.line, self.col = code, message, line, col


@dataclass
class _Open:
    """A collection being built while its events stream in."""

    kind: str  # "seq" or "map"
    anchor: str | None
    line: int
    col: int
    items: list[Node] = field(default_factory=list)


@dataclass
class Duplicate:
    """A key given twice in one mapping: the first value is kept."""

    key: str
    line: int
    col: int
    first_line: int


class _Builder:
    def __init__(self) -> None:
        self.anchors: dict[str, Node] = {}
        self.stack: list[_Open] = []
        self.duplicates: list[Duplicate] = []
        self.resolver = yaml.resolver.Resolver()
        self.constructor = yaml.constructor.SafeConstructor()
        self.root: Node | None = None

    def scalar(self, event: yaml.ScalarEvent) -> Scalar:
        line, col = _at(event.start_mark)
        if COMMA in event.value:  # a comma inside $(…), shielded from YAML's flow lists
            event.value = event.value.replace(COMMA, ",")
        tag = event.tag
        implicit = tag is None or tag == "!"
        if implicit:
            tag = self.resolver.resolve(  # type: ignore[no-untyped-call]
                yaml.ScalarNode, event.value, event.implicit)
        assert tag is not None
        if tag in ("tag:yaml.org,2002:str", "tag:yaml.org,2002:merge") or (
                implicit and tag == "tag:yaml.org,2002:int" and
                not _DECIMAL.fullmatch(event.value)):
            # YAML 1.1 reads 0x3 as 3 and 1:30 as 90: a spec means the sizes 0x3 and 1:30.
            # A merge key (<<) stays the text it is: the spec language has no merges.
            return Scalar(event.value, line, col)
        construct = self.constructor.yaml_constructors.get(tag)
        if construct is None:
            raise YamlError("yaml-tag", f"unsupported YAML tag {tag}", line, col)
        try:
            value = construct(self.constructor, yaml.ScalarNode(tag, event.value))
        except (yaml.YAMLError, ValueError) as exc:
            raise YamlError("yaml-syntax", f"bad {tag.rsplit(':', 1)[-1]} value: {exc}",
                            line, col) from None
        return Scalar(value, line, col)

    def add(self, node: Node, anchor: str | None) -> None:
        if node.size > MAX_NODES:
            raise YamlError("too-large", f"the document expands to more than {MAX_NODES:,} "
                            "values (aliases repeating aliases?)", node.line, node.col)
        if anchor:
            self.anchors[anchor] = node
        if self.stack:
            self.stack[-1].items.append(node)
        else:
            self.root = node

    def close(self) -> None:
        opened = self.stack.pop()
        size = 1 + sum(item.size for item in opened.items)
        if opened.kind == "seq":
            self.add(Seq(tuple(opened.items), opened.line, opened.col, size), opened.anchor)
            return
        keys, values = opened.items[0::2], opened.items[1::2]
        entries: list[tuple[Scalar, Node]] = []
        index: dict[str, Node] = {}
        first: dict[str, Scalar] = {}
        for key, value in zip(keys, values, strict=True):
            if not isinstance(key, Scalar) or isinstance(key.value, list | dict):
                raise YamlError("wrong-type", "a key must be plain text", key.line, key.col)
            name = "null" if key.value is None else str(key.value)
            text_key = Scalar(name, key.line, key.col)
            if name in index:
                self.duplicates.append(Duplicate(name, key.line, key.col, first[name].line))
                continue
            first[name] = text_key
            index[name] = value
            entries.append((text_key, value))
        self.add(Map(tuple(entries), opened.line, opened.col, size, index), opened.anchor)


def _at(mark: Any) -> tuple[int, int]:
    """1-based (line, col) of a parser mark, (1, 1) when there is none."""
    return (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)


def _events(text: str) -> Iterator[Any]:
    return iter(yaml.parse(text, Loader=_Loader))


def parse(text: str) -> tuple[Node | None, list[Duplicate]]:
    """The located tree of a one-document YAML text (None when it is empty).

    Raises :class:`YamlError` for syntax errors, unsupported tags, nesting deeper than
    ``MAX_DEPTH`` and alias expansion beyond ``MAX_NODES``.
    """
    builder = _Builder()
    documents = 0
    try:
        for event in _events(shield(text)):
            if isinstance(event, yaml.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    raise YamlError("yaml-syntax", "a spec is one YAML document; found a "
                                    "second", *_at(event.start_mark))
            elif isinstance(event, yaml.ScalarEvent):
                builder.add(builder.scalar(event), event.anchor)
            elif isinstance(event, yaml.SequenceStartEvent | yaml.MappingStartEvent):
                if len(builder.stack) >= MAX_DEPTH:
                    raise YamlError("too-deep", f"nesting deeper than {MAX_DEPTH} levels",
                                    *_at(event.start_mark))
                kind = "seq" if isinstance(event, yaml.SequenceStartEvent) else "map"
                if event.tag not in (None, "!", f"tag:yaml.org,2002:{kind}"):
                    raise YamlError("yaml-tag", f"unsupported YAML tag {event.tag}",
                                    *_at(event.start_mark))
                builder.stack.append(_Open(kind, event.anchor, *_at(event.start_mark)))
            elif isinstance(event, yaml.SequenceEndEvent | yaml.MappingEndEvent):
                builder.close()
            elif isinstance(event, yaml.AliasEvent):
                target = builder.anchors.get(event.anchor or "")
                if target is None:  # pragma: no cover - the parser rejects unknown aliases
                    raise YamlError("yaml-syntax", f"unknown alias *{event.anchor}")
                builder.add(target, None)
    except yaml.MarkedYAMLError as exc:
        line, col = _at(exc.problem_mark or exc.context_mark)
        problem = exc.problem or exc.context or "invalid YAML"
        raise YamlError("yaml-syntax", f"YAML syntax: {problem}", line, col) from None
    except yaml.YAMLError as exc:
        raise YamlError("yaml-syntax", f"YAML: {exc}") from None
    return builder.root, builder.duplicates
