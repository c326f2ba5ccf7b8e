"""A network description of the oracle's own, and its YAML text in convcalc's language.

The network oracle (``tests/netgen.py`` draws, ``tests/nettorch.py`` builds in torch,
``tests/netcheck.py`` compares) never asks convcalc what a spec means: it writes the spec
from this description, builds the same network in torch from the same description, and
compares what convcalc says about the text with what torch measures.

The description is a small program: layer fields may hold :class:`Expr` values that are
computed with a block's arguments and the shape its call receives, as convcalc's blocks
do. Rendering writes them as ``$name`` or ``$(…)``; the torch builder evaluates them with
Python (``tests/nettorch.py``). Nothing here imports torch or convcalc.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

# Layer kinds the shorthand can write: the kind's word in a shorthand text.
SHORT_WORDS = {"conv": "conv", "depthwise": "dwconv", "separable": "sepconv",
               "conv-transpose": "conv-transpose", "maxpool": "maxpool", "avgpool": "avgpool",
               "fc": "fc"}


@dataclass(frozen=True)
class Expr:
    """A value computed where it is used: ``text`` is Python and convcalc syntax alike."""

    text: str

    def written(self) -> str:
        return f"${self.text}" if self.text.isidentifier() else f"$({self.text})"


@dataclass
class Item:
    """What every list item may carry: ``repeat`` and ``if`` (plain values or Exprs)."""

    repeat: Any = field(default=None, kw_only=True)
    cond: Any = field(default=None, kw_only=True)


@dataclass
class Leaf(Item):
    """One layer: its kind and its keys (the YAML keys of convcalc's long form)."""

    kind: str
    fields: dict[str, Any]
    short: bool = False  # write it in the papers' shorthand when the fields allow it
    alias: str | None = None  # write the kind by this alias in the long form


@dataclass
class Merge(Item):
    """``add``, ``concat``, ``mul`` or ``split`` of branches that read the same input."""

    op: str
    branches: list[list[Node]]
    parts: list[Any] | None = None  # split only: the channels of each branch
    # Branches written as one item rather than a list (add, concat, mul): such a branch is
    # left out, not made the identity, when its item's `if` is false.
    bare: set[int] = field(default_factory=set)


@dataclass
class Group(Item):
    """A ``layers:`` group."""

    items: list[Node]


@dataclass
class Call(Item):
    """A call of a block, with the arguments it gives."""

    block: str
    args: dict[str, Any]


Node = Leaf | Merge | Group | Call

class Required:
    """The default of an argument that has none; one value, kept by copies."""

    def __deepcopy__(self, memo: dict[int, Any]) -> Required:
        return self

    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED = Required()


@dataclass
class Block:
    """A named block: its arguments (name, default or REQUIRED) in order, and its body."""

    name: str
    params: list[tuple[str, Any]]
    body: list[Node] | Merge


@dataclass
class Net:
    spatial: tuple[int, ...]
    channels: int
    items: list[Node]
    blocks: dict[str, Block] = field(default_factory=dict)


# --- YAML text -------------------------------------------------------------------------

@dataclass(frozen=True)
class Flow:
    """A list or mapping written on one line (``[a, b]``, ``{k: v}``)."""

    value: list[Any] | dict[str, Any]


PLAIN = re.compile(r"^[A-Za-z$][A-Za-z0-9_$().*/+\-x ]*$")


def scalar(value: Any) -> str:
    """One value as YAML text: plain where YAML reads it back as the same string."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Fraction):
        return decimal(value)
    if isinstance(value, Expr):
        return value.written()
    if isinstance(value, str):
        if PLAIN.match(value) and value not in ("true", "false", "null", "yes", "no", "on",
                                                "off", "y", "n"):
            return value
        return json.dumps(value)
    raise TypeError(f"no YAML for {value!r}")


def decimal(value: Fraction) -> str:
    """A fraction whose decimal expansion ends (3/4 → 0.75), as convcalc reads it exactly."""
    if value.denominator == 1:
        return str(value.numerator)
    digits = 0
    while (value * 10 ** digits).denominator != 1:
        digits += 1
        if digits > 12:
            raise ValueError(f"{value} has no finite decimal")
    return f"{float(value):.{digits}f}"


def inline(value: Any) -> str:
    if isinstance(value, Flow):
        value = value.value
    if isinstance(value, list | tuple):
        return "[" + ", ".join(inline(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {inline(v)}" for k, v in value.items()) + "}"
    return scalar(value)


def simple(value: Any) -> bool:
    return not isinstance(value, list | dict) or value == [] or value == {}


def emit(value: Any, indent: int) -> list[str]:
    """Block-style YAML lines of a tree of dicts, lists, Flows and scalars."""
    pad = " " * indent
    lines: list[str] = []
    if isinstance(value, dict):
        for key, inner in value.items():
            if simple(inner):
                lines.append(f"{pad}{key}: {inline(inner)}")
            else:
                lines.append(f"{pad}{key}:")
                lines += emit(inner, indent + 2)
    elif isinstance(value, list):
        for inner in value:
            if simple(inner):
                lines.append(f"{pad}- {inline(inner)}")
            elif isinstance(inner, dict):
                body = emit(inner, indent + 2)
                lines.append(f"{pad}- {body[0].lstrip()}")
                lines += body[1:]
            else:
                lines.append(f"{pad}-")
                lines += emit(inner, indent + 2)
    else:
        lines.append(pad + scalar(value))
    return lines


def axes_text(value: Any) -> str | None:
    """A size for shorthand text (``3`` or ``1x7``), or None when shorthand cannot say it."""
    if isinstance(value, int | Expr) and not isinstance(value, bool):
        return scalar(value)
    if isinstance(value, tuple) and all(isinstance(v, int) for v in value):
        return "x".join(str(v) for v in value)
    return None


def shorthand(leaf: Leaf) -> tuple[str, dict[str, Any]] | None:
    """The shorthand text of a layer and the keys it leaves over, or None."""
    word = SHORT_WORDS.get(leaf.kind)
    if word is None:
        return None
    rest = dict(leaf.fields)
    if leaf.kind == "fc":
        text = f"fc-{scalar(rest.pop('units'))}"
    else:
        if "k" not in rest:
            return None
        k = axes_text(rest.pop("k"))
        if k is None:
            return None
        text = word + k
        if "filters" in rest:
            text += f"-{scalar(rest.pop('filters'))}"
    options = (("stride", "s"), ("pad", "p"), ("dilation", "d"), ("groups", "g"),
               ("multiplier", "m"))
    for key, letter in options:
        value = rest.get(key)
        if key == "pad" and value in ("same", "valid", "full"):
            text += f"-{rest.pop(key)}"
        elif value is not None and isinstance(value, int | Expr) and not isinstance(value, bool):
            text += f"-{letter}{scalar(rest.pop(key))}"
    if rest.get("ceil") is True:
        text += "-ceil"
        rest.pop("ceil")
    if rest.get("bias") is False:
        text += "-nobias"
        rest.pop("bias")
    return text, rest


def item_tree(node: Node) -> Any:
    """One list item as a YAML tree."""
    tree: Any
    if isinstance(node, Leaf):
        tree = leaf_tree(node)
    elif isinstance(node, Merge):
        tree = {node.op: merge_branches(node)}
        if node.parts is not None:
            tree["parts"] = Flow(list(node.parts))
    elif isinstance(node, Group):
        tree = {"layers": [item_tree(n) for n in node.items]}
    else:
        tree = {node.block: Flow(dict(node.args))} if node.args else node.block
    modifiers = {key: value for key, value in (("repeat", node.repeat), ("if", node.cond))
                 if value is not None}
    if not modifiers:
        return tree
    if isinstance(tree, str):
        tree = {tree: None}
    return {**tree, **modifiers}


def merge_branches(merge: Merge) -> list[Any]:
    return [item_tree(b[0]) if i in merge.bare and len(b) == 1 else branch_tree(b)
            for i, b in enumerate(merge.branches)]


def branch_tree(branch: list[Node]) -> Any:
    return [item_tree(n) for n in branch] if branch else []


def leaf_tree(leaf: Leaf) -> Any:
    if leaf.short:
        written = shorthand(leaf)
        if written is not None:
            text, rest = written
            return {text: Flow(rest)} if rest else text
    kind = leaf.alias or leaf.kind
    if not leaf.fields:
        return kind
    return {kind: Flow({k: flow_value(v) for k, v in leaf.fields.items()})}


def flow_value(value: Any) -> Any:
    """Per-axis sizes written ``1x7`` when a tuple, ``[1, 7]`` when a list."""
    if isinstance(value, tuple) and all(isinstance(v, int) for v in value):
        return "x".join(str(v) for v in value)
    if isinstance(value, tuple):
        return list(value)
    return value


def null_free(lines: list[str]) -> list[str]:
    """``- conv3-64: null`` is written ``- conv3-64:`` (an item that only takes modifiers)."""
    return [line[:-len(" null")] if line.endswith(": null") else line for line in lines]


def block_tree(block: Block) -> Any:
    tree: dict[str, Any] = {}
    if block.params:  # all required, or all with defaults: the two forms the language has
        if all(default is REQUIRED for _, default in block.params):
            tree["args"] = Flow([name for name, _ in block.params])
        else:
            assert all(default is not REQUIRED for _, default in block.params)
            tree["args"] = Flow(dict(block.params))
    if isinstance(block.body, Merge):
        tree[block.body.op] = merge_branches(block.body)
        if block.body.parts is not None:
            tree["parts"] = Flow(list(block.body.parts))
    else:
        tree["layers"] = [item_tree(n) for n in block.body]
    return tree


def input_text(net: Net) -> str:
    return "x".join(str(v) for v in (*net.spatial, net.channels))


def render(net: Net) -> str:
    """The spec's YAML text."""
    doc: dict[str, Any] = {"name": "oracle", "input": input_text(net)}
    if net.blocks:
        doc["blocks"] = {name: block_tree(b) for name, b in net.blocks.items()}
    doc["layers"] = [item_tree(n) for n in net.items] if net.items else []
    return "\n".join(null_free(emit(doc, 0))) + "\n"
