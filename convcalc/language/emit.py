"""A :class:`~convcalc.language.written.Document` as spec text: YAML written by hand, so that
the layout is the README's (shorthand, short flow lists, one item a line) and every text
that came from a model is quoted where YAML could read it otherwise.

Each layer is written in shorthand when the reader's own shorthand parser gives the layer
back (``conv3-64-s2-p1``), else in the long form; the check is made for every value a block
argument can take, so a shorthand with ``$mid`` in it is exact for every call.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Sequence
from functools import cache
from typing import Any

from convcalc.language.written import (
    Block,
    Call,
    Cond,
    Document,
    Fork,
    Item,
    Leaf,
    Ref,
    Run,
    kind_fields,
)
from convcalc.layers import KINDS, lookup
from convcalc.layers.fields import construct
from convcalc.shape import Shape

WIDTH = 100  # a flow list wraps at this width
MAX_WRAPPED = 3  # a flow list longer than this many lines is written one item a line
_PLAIN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-/+]*")
_OPTIONS = (("stride", "s"), ("dilation", "d"), ("groups", "g"), ("multiplier", "m"))
_PAD_WORDS = ("same", "valid", "full")
_DIGITS = re.compile(r"\d+")
_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


# --- scalars --------------------------------------------------------------------------------


@cache
def _reads_as_text(text: str) -> bool:
    """Whether YAML reads ``text`` unquoted as that very text (not a number, bool or null)."""
    import yaml

    tag = yaml.resolver.Resolver().resolve(yaml.ScalarNode, text, (True, False))  # type: ignore[no-untyped-call]
    return bool(tag == "tag:yaml.org,2002:str")


def _printable(char: str) -> bool:
    """Characters YAML allows unescaped in a double-quoted scalar on one line."""
    code = ord(char)
    return (0x20 <= code <= 0x7E or 0xA0 <= code <= 0xD7FF or 0xE000 <= code <= 0xFFFD
            or 0x10000 <= code <= 0x10FFFF) and char not in "\u2028\u2029\ufeff"


def quoted(text: str) -> str:
    """``text`` as a YAML double-quoted scalar: every character YAML could misread escaped."""
    out = []
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif char in _SHORT_ESCAPES:
            out.append(_SHORT_ESCAPES[char])
        elif _printable(char):
            out.append(char)
        elif ord(char) <= 0xFF:
            out.append(f"\\x{ord(char):02x}")
        elif ord(char) <= 0xFFFF:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    return '"' + "".join(out) + '"'


def text_scalar(text: str) -> str:
    """Text from a model (a name, a source): plain when YAML reads it back unchanged."""
    return text if _PLAIN.fullmatch(text) and _reads_as_text(text) else quoted(text)


def value_text(value: Any) -> str:
    """A layer field's canonical value, a block argument or a claim, as YAML."""
    if isinstance(value, Ref | Cond):
        return value.text()
    if isinstance(value, Shape):
        return str(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return ".nan" if math.isnan(value) else ".inf" if value > 0 else "-.inf"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return text_scalar(value)
    if isinstance(value, tuple) and value and all(isinstance(v, tuple) for v in value):
        return _pads_text(value)
    if isinstance(value, tuple) and value and all(type(v) is int for v in value):
        return "x".join(map(str, value))
    raise ValueError(f"no YAML form for {value!r}")  # pragma: no cover - a new field type


def _pads_text(pads: tuple[tuple[int, int], ...]) -> str:
    if all(before == after for before, after in pads):
        return "x".join(str(before) for before, _ in pads)
    return "[" + ", ".join(f"[{before}, {after}]" for before, after in pads) + "]"


def flow_map(entries: Sequence[tuple[str, str]]) -> str:
    return "{" + ", ".join(f"{key}: {text}" for key, text in entries) + "}"


# --- layers ---------------------------------------------------------------------------------

Show = Callable[[Any], str]  # how a value is printed: as written, or one call's value


def _shorthand_part(value: Any, show: Show) -> str | None:
    """A value as a shorthand token (``3``, ``1x7``, ``$mid``), or None when it has none."""
    if isinstance(value, Ref):
        return show(value)
    if isinstance(value, tuple) and value and all(type(v) is int for v in value):
        return "x".join(map(str, value))
    if type(value) is int:
        return str(value)
    return None


def _pad_token(value: Any, show: Show) -> str | None:
    if isinstance(value, str):
        return value if value in _PAD_WORDS else None
    if isinstance(value, Ref):
        return "p" + show(value)
    if isinstance(value, tuple) and all(isinstance(p, tuple) and p[0] == p[1] for p in value):
        return "p" + "x".join(str(before) for before, _ in value)
    return None


def _layer_parts(leaf: Leaf, base: dict[str, Any], show: Show,
                 short: bool) -> tuple[str, list[tuple[str, str]]]:
    """The item key (shorthand or kind) and the keys written after it."""
    cls = KINDS[leaf.kind]
    needed = {key: value for key, value in leaf.fields
              if key not in base or isinstance(value, Ref) or base[key] != value}
    keys: list[tuple[str, str]] = []
    if not short:
        return leaf.kind, [(key, show(value)) for key, value in needed.items()]
    head = leaf.kind
    for slot, glue in ((cls.kernel_field, ""), (cls.count_field, "-")):
        if slot in needed and (token := _shorthand_part(needed[slot], show)) is not None:
            head += glue + token
            del needed[slot]
    for key, letter in _OPTIONS:
        if key in needed:
            token = _shorthand_part(needed[key], show)
            if token is not None:
                head += f"-{letter}{token}"
                del needed[key]
    if "pad" in needed and (token := _pad_token(needed["pad"], show)) is not None:
        head, _ = head + "-" + token, needed.pop("pad")
    if needed.get("ceil") is True:
        head, _ = head + "-ceil", needed.pop("ceil")
    if needed.get("bias") is False:
        head, _ = head + "-nobias", needed.pop("bias")
    keys += [(key, show(value)) for key, value in needed.items()]
    return head, keys


def _reads_back(leaf: Leaf, head: str, keys: list[tuple[str, str]],
                defaults: dict[str, Any]) -> bool:
    """Whether the reader builds exactly ``leaf``'s layer from this text (no Refs left)."""
    from convcalc.language.base import plain
    from convcalc.language.shorthand import read_shorthand
    from convcalc.language.yamltree import YamlError, parse

    kind = lookup(head)  # as the reader does: a kind's name first, then shorthand
    parsed = (kind, {}) if kind is not None else read_shorthand(head)
    if parsed is None or parsed[0] is not KINDS[leaf.kind]:
        return False
    raw = {**defaults, **parsed[1]}
    try:
        for key, text in keys:
            root, _ = parse(f"x: {text}")
            assert root is not None and not isinstance(root, list)
            raw[key] = plain(root)["x"]
    except (YamlError, TypeError):
        return False
    layer, errors = construct(KINDS[leaf.kind], raw)
    return not errors and layer == KINDS[leaf.kind](**dict(leaf.fields))


class LayerWriter:
    """Writes layers against the spec's ``defaults``, choosing shorthand where it is exact."""

    def __init__(self, defaults: dict[str, dict[str, Any]]) -> None:
        self.defaults = defaults
        self.bases: dict[str, dict[str, Any]] = {}
        self.checked: dict[tuple[object, ...], bool] = {}
        self.written: dict[Leaf, tuple[str, list[tuple[str, str]]]] = {}

    def base(self, kind: str) -> dict[str, Any]:
        """A kind's field values when a layer says nothing: its own, then the spec's."""
        if kind not in self.bases:
            own = {f.name: f.default for f in kind_fields(KINDS[kind])
                   if f.default is not dataclasses.MISSING}
            self.bases[kind] = {**own, **self.defaults.get(kind, {})}
        return self.bases[kind]

    def parts(self, leaf: Leaf, instances: Sequence[tuple[Leaf, Show]] = ()) -> tuple[
            str, list[tuple[str, str]]]:
        """The item key and keys of ``leaf``; ``instances`` are the concrete layers a block's
        layer stands for, each with the printer of its call's values."""
        if not instances and leaf in self.written:
            return self.written[leaf]
        base = self.base(leaf.kind)
        head, keys = _layer_parts(leaf, base, value_text, True)
        if instances:
            short = all(self.reads_back(concrete, *_layer_parts(leaf, base, show, True))
                        for concrete, show in instances)
        else:
            short = self.reads_back(leaf, head, keys)
        found = (head, keys) if short else _layer_parts(leaf, base, value_text, False)
        if not instances:
            self.written[leaf] = found
        return found

    def reads_back(self, leaf: Leaf, head: str, keys: list[tuple[str, str]]) -> bool:
        """``_reads_back``, once per form of text: the numbers in a shorthand or a key do not
        change how it reads (``conv3-64-s2`` reads as ``conv3-128-s2`` does), and a model
        repeats its forms (the whole text is read back once more in the end)."""
        key = (leaf.kind, _DIGITS.sub("9", head), tuple((k, _DIGITS.sub("9", text))
                                                      for k, text in keys))
        if key not in self.checked:
            self.checked[key] = _reads_back(leaf, head, keys,
                                            self.defaults.get(leaf.kind, {}))
        return self.checked[key]




# --- items ----------------------------------------------------------------------------------

Members = dict[str, list[dict[str, Any]]]  # a block's calls: every argument's value in each


def _showing(args: dict[str, Any]) -> Show:
    return lambda value: value_text(value.value(args) if isinstance(value, Ref) else value)


def _concrete(leaf: Leaf, args: dict[str, Any]) -> Leaf:
    return dataclasses.replace(leaf, fields=tuple(
        (key, value.value(args) if isinstance(value, Ref) else value)
        for key, value in leaf.fields))


class Emitter:
    """Prints a document; ``members`` gives each block's calls, to check its shorthand."""

    def __init__(self, document: Document, members: Members) -> None:
        self.document = document
        self.members = members
        self.layers = LayerWriter({kind: dict(values) for kind, values in document.defaults})
        self.calls: list[dict[str, Any]] = []  # the calls of the block being printed

    def text(self) -> str:
        doc = self.document
        # a note is the caller's text (a file name may hold anything): escaped, one line
        lines = [f"# {quoted(note)[1:-1]}".rstrip() for note in doc.notes]
        lines.append(f"name: {text_scalar(doc.name)}")
        if doc.source:
            lines.append(f"source: {text_scalar(doc.source)}")
        if doc.rules:
            lines.append(f"rules: {doc.rules}")
        lines.append(f"input: {doc.input}")
        if doc.defaults:
            lines.append("defaults:")
            lines += [f"  {kind}: {flow_map([(k, value_text(v)) for k, v in values])}"
                      for kind, values in doc.defaults]
        for key, claims in (("expect", doc.expect), ("budget", doc.budget)):
            if claims:
                lines.append(f"{key}:")
                lines += [f"  {name}: {value_text(value)}" for name, value in claims]
        if doc.blocks:
            lines.append("blocks:")
            for block in doc.blocks:
                lines += self.block(block)
        self.calls = []
        lines += self.sequence("layers", doc.layers, 0)
        return "\n".join(lines) + "\n"

    def block(self, block: Block) -> list[str]:
        self.calls = self.members.get(block.name, [])
        lines = [f"  {block.name}:"]
        if block.args:
            lines.append("    args: " + flow_map([(name, value_text(default))
                                                  for name, default in block.args]))
        return lines + self.sequence("layers", block.body, 4)

    def sequence(self, key: str, items: tuple[Item, ...], indent: int) -> list[str]:
        """``key: [a, b]`` when it is short (never the spec's own list), else ``key:`` and
        one item a line."""
        pad = " " * indent
        texts = self.flow(items) if indent else None
        lines = wrapped(f"{pad}{key}: ", texts) if texts is not None else None
        if lines is not None:
            return lines
        lines = [f"{pad}{key}:"]
        for item in items:
            lines += self.item(item, indent + 2)
        return lines

    def flow(self, items: tuple[Item, ...]) -> list[str] | None:
        """The items as flow values, if each has one."""
        texts = [self.inline(item) for item in items]
        return None if None in texts else [text for text in texts if text is not None]

    def inline(self, item: Item) -> str | None:
        """An item as one flow value: ``conv3-64``, ``c: {out: 64}``, and with modifiers
        ``{layers: [relu], repeat: 2}``; a merge is never one."""
        if isinstance(item, Fork):
            return None
        if isinstance(item, Run) or item.repeat != 1 or item.when is not True:
            inner = item.items if isinstance(item, Run) else (
                dataclasses.replace(item, repeat=1, when=True),)
            texts = self.flow(inner)
            if texts is None:
                return None
            return flow_map([("layers", "[" + ", ".join(texts) + "]"), *self.modifiers(item)])
        head, keys = self.head(item)
        return f"{head}: {flow_map(keys)}" if keys else head

    def head(self, item: Leaf | Call) -> tuple[str, list[tuple[str, str]]]:
        if isinstance(item, Call):
            keys = [(name, value_text(value)) for name, value in item.args]
            head = item.block
        else:
            head, found = self.layers.parts(item, [(_concrete(item, args), _showing(args))
                                                  for args in self.calls])
            keys = list(found)  # the writer's list is shared by equal layers
            if item.waiver is not None:
                keys += [("allow", text_scalar(item.waiver[0])),
                         ("reason", text_scalar(item.waiver[1]))]
        if item.name is not None:
            keys.append(("name", text_scalar(item.name)))
        return head, keys

    def modifiers(self, item: Item) -> list[tuple[str, str]]:
        found = []
        if isinstance(item, Fork) and item.parts is not None:
            found.append(("parts", "[" + ", ".join(map(str, item.parts)) + "]"))
        if isinstance(item, Fork) and item.name is not None:
            found.append(("name", text_scalar(item.name)))
        if item.repeat != 1:
            found.append(("repeat", value_text(item.repeat)))
        if item.when is not True:
            found.append(("if", value_text(item.when)))
        return found

    def item(self, item: Item, indent: int) -> list[str]:
        """An item of a block-style list: ``- `` at ``indent``, its keys below it."""
        pad = " " * indent
        modifiers = [f"{pad}  {key}: {text}" for key, text in self.modifiers(item)]
        if isinstance(item, Run):
            body = self.sequence("layers", item.items, indent + 2)
            if modifiers:
                return [f"{pad}- {modifiers[0].strip()}", *modifiers[1:], *body]
            return [f"{pad}- {body[0].strip()}", *body[1:]]
        if isinstance(item, Fork):
            return self.fork(item, indent) + modifiers
        head, keys = self.head(item)
        if modifiers and not keys:  # `- repeat: 2` over `layers: [relu]`, as the README does
            return self.item(Run((dataclasses.replace(item, repeat=1, when=True),),
                                 item.repeat, item.when), indent)
        first = f"{pad}- {head}: {flow_map(keys)}" if keys else f"{pad}- {head}"
        return [first, *modifiers]

    def fork(self, fork: Fork, indent: int) -> list[str]:
        pad = " " * indent
        flows = [self.flow(branch) for branch in fork.branches]
        if all(texts is not None for texts in flows):
            text = "[" + ", ".join("[" + ", ".join(texts) + "]" for texts in flows
                                   if texts is not None) + "]"
            if indent + len(fork.op) + 4 + len(text) <= WIDTH:
                return [f"{pad}- {fork.op}: {text}"]
        lines = [f"{pad}- {fork.op}:"]
        for branch, texts in zip(fork.branches, flows, strict=True):
            flow = wrapped(f"{pad}    - ", texts) if texts is not None else None
            if flow is not None:
                lines += flow
            else:
                body = self.sequence("layers", branch, indent + 6)
                lines.append(f"{pad}    - {body[0].strip()}")
                lines += body[1:]
        return lines


def wrapped(prefix: str, texts: list[str]) -> list[str] | None:
    """``prefix[a, b, c]``, wrapped after a comma to stay within WIDTH (the next lines start
    under the first item), or None when that takes more than MAX_WRAPPED lines."""
    lines = [prefix + "["]
    indent = " " * len(lines[0])
    for number, text in enumerate(texts):
        piece = text + ("]" if number == len(texts) - 1 else ",")
        if len(lines[-1]) + 1 + len(piece) > WIDTH and lines[-1].strip() not in ("", "["):
            lines.append(indent)
        lines[-1] += ("" if lines[-1].endswith(("[", " ")) else " ") + piece
    if not texts:
        lines[-1] += "]"
    if len(lines) > 1 and len(texts) < 4:  # a few long items read better one a line
        return None
    if len(lines) > MAX_WRAPPED or any(len(line) > WIDTH for line in lines):
        return None
    return lines
