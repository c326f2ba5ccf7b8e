"""Blocks: reusable, parameterised lists of layers, defined under ``blocks:`` (or in an
included library) and called like layers, with ``$name`` and ``$(expression)`` filled in.

Each distinct call (block and argument values) is filled in once: ResNet-152 calls one
bottleneck 36 times in a stage, and the body is read once.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from convcalc.language.base import (
    MERGES,
    RESERVED,
    BadCall,
    Scope,
    outside_block,
    plain,
    suggest,
)
from convcalc.language.expressions import FUNCTIONS, ExpressionError, evaluate, show
from convcalc.language.references import Reference, brief, names_in, references
from convcalc.language.shapes import SHAPE_NAMES, ShapeTracker
from convcalc.language.yamltree import Map, Node, Scalar, Seq
from convcalc.layers import lookup
from convcalc.model import Group
from convcalc.model import Node as ModelNode
from convcalc.problem import Where

MAX_CALLS = 32  # blocks calling blocks


@dataclass(frozen=True)
class Block:
    """A block of ``blocks:``: its arguments with their defaults, and its body."""

    name: str
    args: dict[str, Node | None]  # None: required
    body: Seq
    at: Where
    reads: tuple[str, ...] = ()  # names of its input's shape it uses (channels, height, …)
    computes: bool = False  # some default is computed: `squeeze: $(channels // 4)`


def memo_key(what: object, values: dict[str, object]) -> tuple[object, ...] | None:
    """A dictionary key for ``what`` built from ``values``, or None if a value is a list.

    Types are part of the key: ``1``, ``1.0`` and ``true`` are equal in Python but not
    in a spec.
    """
    key = (what, tuple(values.items()), tuple(map(type, values.values())))
    try:
        hash(key)
    except TypeError:
        return None
    return key


class BlockReader(ShapeTracker):
    """Reads block definitions and expands block calls; the layer lists are the builder's."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.blocks: dict[str, Block] = {}
        self.broken_blocks: set[str] = set()
        self.bodies: dict[tuple[object, ...], Seq] = {}

    def items(self, node: Node, scope: Scope) -> list[ModelNode]:
        """The layers of a list (the builder's; a block's body is one)."""
        raise NotImplementedError

    def read_blocks(self, node: Node | None) -> None:
        if node is None or not self.expect_type(node, Map, "blocks"):
            return
        assert isinstance(node, Map)
        for key, value in node.entries:
            name = str(key.value)
            if lookup(name) is not None or name in RESERVED:
                self.problem(key, "bad-block", f"block name {name!r} is taken by a layer kind "
                             "or keyword")
                continue
            if name in self.blocks:
                first = self.blocks[name].at
                self.problem(key, "duplicate-block", f"block {name!r} is already defined at "
                             f"{first.path}:{first.line}")
                continue
            block = self.block(name, key, value)
            if block is not None:
                self.blocks[name] = block

    def block(self, name: str, key: Scalar, node: Node) -> Block | None:
        if isinstance(node, Seq):
            return self.checked(Block(name, {}, node, self.where(key)))
        if not self.expect_type(node, Map, f"block {name!r}"):
            return None
        assert isinstance(node, Map)
        args = self.block_args(node.get("args"))
        body: Seq | None = None
        for body_key, value in node.entries:
            text = str(body_key.value)
            if text == "args" or (text == "parts" and node.get("split") is not None):
                continue
            if text == "layers":
                if self.expect_type(value, Seq, f"layers of block {name!r}"):
                    assert isinstance(value, Seq)
                    body = value
            elif text in MERGES:
                # a block that is one split keeps its `parts`, as a split item does
                entries = tuple((k, v) for k, v in node.entries if str(k.value) in (text, "parts")
                                and (text == "split" or k.value != "parts"))
                body = Seq((Map(entries, body_key.line, body_key.col),),
                           body_key.line, body_key.col)
            else:
                self.problem(body_key, "unknown-key", f"unknown key {text!r} in block {name!r} "
                             f"(args, layers, {', '.join(MERGES)})"
                             f"{suggest(text, ('args', 'layers', *MERGES))}")
        if body is None:
            self.problem(key, "bad-block", f"block {name!r} needs `layers` or one of "
                         f"{', '.join(MERGES)}")
            return None
        return self.checked(Block(name, args, body, self.where(key)))

    def checked(self, block: Block) -> Block:
        """The block with the shape names it reads; broken if its references are bad."""
        used: set[str] = set()
        shapes = set(SHAPE_NAMES) - set(block.args)  # a declared argument wins
        earlier: set[str] = set()  # a default may use the shape and the arguments before it
        for name, default in block.args.items():
            if default is not None and not self.check_references(default, earlier | shapes,
                                                                 used):
                self.broken_blocks.add(block.name)
            earlier.add(name)
        if not self.check_references(block.body, set(block.args) | shapes, used):
            self.broken_blocks.add(block.name)
        reads = tuple(name for name in SHAPE_NAMES if name in used and name not in block.args)
        computes = any(isinstance(node, Scalar) and isinstance(node.value, str) and
                       "$" in node.value for node in block.args.values())
        return dataclasses.replace(block, reads=reads, computes=computes)

    def block_args(self, node: Node | None) -> dict[str, Node | None]:
        if node is None:
            return {}
        if isinstance(node, Seq):  # names only: every one required
            return {str(plain(item)): None for item in node.items}
        if isinstance(node, Map):
            return {str(key.value): value for key, value in node.entries}
        self.problem(node, "wrong-type", "args must be a mapping of names to defaults, or a "
                     "list of required names")
        return {}

    def check_references(self, node: Node, known: set[str], used: set[str]) -> bool:
        """Every name in a ``$name`` or ``$(…)`` below ``node`` must be ``known`` (an argument
        or a name of the input's shape), and every function one the language has; the names
        are added to ``used``."""
        if isinstance(node, Scalar):
            return not isinstance(node.value, str) or self.check_text(node, known, used)
        children = node.items if isinstance(node, Seq) else \
            [part for entry in node.entries for part in entry]
        return all([self.check_references(child, known, used) for child in children])

    def check_text(self, node: Scalar, known: set[str], used: set[str]) -> bool:
        assert isinstance(node.value, str)
        try:
            found = list(references(node.value))
        except ExpressionError as exc:
            self.problem(node, exc.code, exc.message)
            return False
        ok = True
        for reference in found:
            variables, calls = names_in(reference.expression or "")
            for name in sorted(calls - set(FUNCTIONS)):
                what = f" ({name} is an argument)" if name in known else ""
                self.problem(node, "unknown-function", f"{name}() is not a function{what}; the "
                             f"functions are {', '.join(FUNCTIONS)}{suggest(name, [*FUNCTIONS])}")
                ok = False
            names = {reference.name} if reference.name else variables
            used |= names
            for name in sorted(names - known):
                self.problem(node, "undefined-argument", f"${name} is not an argument of this "
                             f"block{suggest(name, sorted(known))}")
                ok = False
        return ok

    # --- calls ---------------------------------------------------------------------------

    def call(self, block: Block, at: Scalar, value: Node | None, modifiers: dict[str, Node],
             scope: Scope) -> list[ModelNode]:
        if block.name in self.broken_blocks:
            return []
        if block.name in scope.calls:
            self.problem(at, "recursive-block", f"block {block.name!r} calls itself (through "
                         f"{' → '.join((*scope.calls, block.name))})")
            return []
        if len(scope.calls) >= MAX_CALLS:
            self.problem(at, "too-deep", f"blocks nest deeper than {MAX_CALLS} calls")
            return []
        if isinstance(value, Map) and "name" not in block.args and value.get("name"):
            # `name` names the call, unless the block takes an argument of that name
            name_node = value.get("name")
            assert name_node is not None
            modifiers = {**modifiers, "name": name_node}
            value = Map(tuple(e for e in value.entries if e[0].value != "name"), value.line,
                        value.col)
        if not scope.calls and isinstance(value, Map):  # written in `layers:`, not a block
            for _, given in value.entries:
                if isinstance(given, Scalar) and isinstance(given.value, str) and \
                        "$" in given.value:
                    self.problem(given, "undefined-argument", outside_block(given.value))
                    return []
        bound = self.bind(block, at, value)
        shape = self.shape_arguments(block.name, block.reads, at)
        if bound is None or shape is None:
            return []
        bound |= shape
        name = scope.name(plain(modifiers["name"]) if "name" in modifiers else None, block.name)
        called_at, caller, outer = self.where(at), self.path, self.expanding
        self.path = block.at.path  # the body's positions are in the file that defines it
        self.expanding = outer or (block.name, called_at)
        try:
            if block.computes:
                bound = self.computed_defaults(block, bound)
            body = self.block_body(block, bound)
            children = self.items(body, scope.inner(name, block.name))
        except BadCall:
            return []
        finally:
            self.path, self.expanding = caller, outer
        return [Group(block.name, tuple(children), name, called_at)]

    def bind(self, block: Block, at: Scalar, value: Node | None) -> dict[str, Node] | None:
        given: dict[str, Node] = {}
        if isinstance(value, Map):
            given = {str(key.value): node for key, node in value.entries}
            for key, _ in value.entries:
                if key.value not in block.args:
                    self.problem(key, "unknown-argument", f"block {block.name!r} has no argument "
                                 f"{key.value!r}{suggest(str(key.value), list(block.args))}")
                    return None
        elif value is not None and not (isinstance(value, Scalar) and value.value is None):
            self.problem(value, "wrong-type", f"the arguments of block {block.name!r} must be a "
                         "mapping")
            return None
        bound: dict[str, Node] = {}
        for name, default in block.args.items():
            chosen = given.get(name, default)
            if chosen is None:
                self.problem(at, "missing-argument", f"block {block.name!r} needs argument "
                             f"{name!r}")
                return None
            bound[name] = chosen
        return bound

    def computed_defaults(self, block: Block, bound: dict[str, Node]) -> dict[str, Node]:
        """The arguments with each default that computes (``squeeze: $(channels // 4)``)
        filled in from the shape and the arguments before it."""
        filled = {name: node for name, node in bound.items() if name not in block.args}
        for name in block.args:
            node = bound[name]
            if node is block.args[name] and isinstance(node, Scalar) and \
                    isinstance(node.value, str) and "$" in node.value:
                node = self.substitute(node, filled)
            filled[name] = node
        return filled

    def block_body(self, block: Block, bound: dict[str, Node]) -> Seq:
        """The body with the arguments filled in; once per block and argument values."""
        key = memo_key(block.name, {name: plain(node) for name, node in bound.items()}) \
            if all(isinstance(node, Scalar) for node in bound.values()) else None
        known = self.bodies.get(key) if key else None
        if known is not None:
            return known
        body = self.substitute(block.body, bound)
        assert isinstance(body, Seq)
        if key:
            self.bodies[key] = body
        return body

    def substitute(self, node: Node, args: dict[str, Node]) -> Node:
        """The block body with ``$name`` and ``${expression}`` replaced by the arguments."""
        if isinstance(node, Seq):
            return Seq(tuple(self.substitute(item, args) for item in node.items), node.line,
                       node.col)
        if isinstance(node, Map):
            condition = node.get("if")
            if condition is not None:  # an item left out is not filled in: its `if` is enough
                decided = self.substitute(condition, args)
                key = node.key("if")
                if isinstance(decided, Scalar) and decided.value is False and key is not None:
                    return Map(((key, decided),), node.line, node.col)
            entries = tuple((self.substitute_text(key, args), self.substitute(value, args))
                            for key, value in node.entries)
            return Map(entries, node.line, node.col)
        if not isinstance(node.value, str) or "$" not in node.value:
            return node
        text = node.value
        found = list(references(text))  # checked when the block was defined
        if len(found) == 1 and found[0].start == 0 and found[0].end == len(text):
            if found[0].name:  # a whole $name: the argument's node, with its type
                return dataclasses.replace(args[found[0].name], line=node.line, col=node.col)
            # a whole $(expression): its value, a number or true/false
            return Scalar(self.value(found[0], args, node), node.line, node.col)
        pieces, end = [], 0
        for reference in found:
            pieces += [text[end:reference.start], self.text_value(reference, args, node)]
            end = reference.end
        return Scalar("".join([*pieces, text[end:]]), node.line, node.col)

    def substitute_text(self, key: Scalar, args: dict[str, Node]) -> Scalar:
        """A mapping key stays text: ``conv1-$mid: {stride: 2}``."""
        found = self.substitute(key, args)
        return found if isinstance(found, Scalar) else Scalar(str(plain(found)), key.line,
                                                                key.col)

    def value(self, reference: Reference, args: dict[str, Node], at: Scalar) -> object:
        """The exact value of ``$(…)``; a problem and :class:`BadCall` if it has none."""
        assert reference.expression is not None
        try:
            return evaluate(reference.expression, {name: plain(value)
                                                   for name, value in args.items()})
        except ExpressionError as exc:
            shown = brief(str(at.value)[reference.start:reference.end])
            self.problem(at, exc.code, f"{shown}: {exc.message}")
            raise BadCall from None

    def text_value(self, reference: Reference, args: dict[str, Node], at: Scalar) -> str:
        """A reference written inside a text (``conv1-$(c*4)``): a name's value, or a whole
        number."""
        if reference.name:
            return str(plain(args[reference.name]))
        value = self.value(reference, args, at)
        if isinstance(value, bool) or not isinstance(value, int):
            shown = brief(str(at.value)[reference.start:reference.end])
            self.problem(at, "bad-expression", f"{shown} is {show(value)}; inside a text it "
                         "must be a whole number")
            raise BadCall
        return str(value)
