"""The spec language: a located YAML tree to a :class:`~convcalc.model.Model`.

This module reads the document (its top-level keys, includes, defaults and claims) and its
layer lists (items, repeats, layers in long form and shorthand). Merges and conditions are
``merges``', blocks ``blocks``', the shapes carried while building ``shapes``', shorthand
``shorthand``'s and expressions ``expressions``'. Every problem is
collected with its position; building goes on past each one so a file shows all its
problems at once. The README's "Spec language" section is the grammar implemented here.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from typing import Any

from convcalc.language.base import (
    KIND_CUTOFF,
    MAX_LAYERS,
    MERGES,
    MODIFIERS,
    Opener,
    Scope,
    TooLarge,
    outside_block,
    plain,
    suggest,
)
from convcalc.language.blocks import memo_key
from convcalc.language.merges import MergeReader
from convcalc.language.shorthand import ShorthandError, parse_shorthand, shorthand_hint
from convcalc.language.yamltree import Map, Node, Scalar, Seq
from convcalc.layers import ALIASES, KINDS, NAME_OF, lookup
from convcalc.layers.fields import FieldError, construct
from convcalc.model import NO_PLACES, Claim, LayerNode, Model, Waiver
from convcalc.model import Node as ModelNode
from convcalc.problem import ERROR, WARNING, Where
from convcalc.shape import Shape
from convcalc.units import NumberTooLong, parse_quantity

TOP_KEYS = ("name", "source", "description", "torchvision", "include", "input", "rules",
            "defaults", "expect", "budget", "blocks", "layers")
LIBRARY_KEYS = ("name", "source", "description", "include", "blocks")
MAX_INCLUDES = 64
EXPECT_KEYS = ("params", "trainable", "trainable_params", "non_trainable",
               "non_trainable_params", "macs", "flops", "activations", "output")
BUDGET_KEYS = ("params", "macs", "activations", "memory")
WAIVABLE = ("harmless", "lossy")
MAX_REPEAT = 10_000
# `defaults: {conv: …}` reaches conv layers only, not these, which frameworks build from
# the same convolution (torch's Conv2d with groups): a default of conv's that they keep
# their own value of is worth a warning. (Transposed and locally connected layers are
# layer types of their own everywhere, and their keys mean other things.)
CONV_FAMILY = ("depthwise", "separable")
OWN_KEYS = ("name", "allow", "reason")  # a layer's own keys, not its kind's fields


class Builder(MergeReader):
    def __init__(self, path: str, opener: Opener | None = None,
                 input: Shape | None = None) -> None:
        super().__init__(path)
        self.opener = opener
        self.given_input = input  # replaces the spec's own `input`
        self.root = path  # the spec being read (self.path is an included file's, meanwhile)
        self.included: set[str] = set()  # real paths
        self.library = False  # the file has blocks only: it is included, not analysed
        self.defaults: dict[str, list[tuple[str, object, Where]]] = {}
        self.defaults_at: dict[str, Where] = {}
        # conv's defaults reach conv layers only: the other convolutions they miss, by kind
        # (the keys missed, how many layers)
        self.unreached: dict[str, tuple[set[str], int]] = {}
        self.layer_count = 0
        # Repeated blocks are read once: the same shorthand, the same keys and the same block
        # call with the same arguments give the same (immutable) result every time.
        self.shorthands: dict[str, tuple[type[Any], dict[str, object]] | None] = {}
        self.made: dict[object, Any] = {}  # layers by their keys and by themselves
        # what each item of a block's body made, by its located key and value
        self.items_made: dict[tuple[Node, Node | None], Any] = {}

    # --- the document ----------------------------------------------------------------------

    def model(self, root: Node | None, stem: str) -> Model | None:
        if root is None or not isinstance(root, Map):
            self.problem(root or Where(self.path, 1, 1), "wrong-type",
                         "a spec is a mapping with at least `input` and `layers`")
            return None
        self.unknown_keys(root, TOP_KEYS, "top-level key")
        self.read_includes(root.get("include"))
        self.read_blocks(root.get("blocks"))
        if root.get("blocks") is not None and all(k.value in LIBRARY_KEYS for k, _ in
                                                  root.entries):
            self.library = True
            return None
        shape = self.input(root)
        rules = self.rules(root.get("rules"))
        # Shapes are carried only when some block reads one: other specs build as fast as
        # before there were shapes to read.
        self.x = shape if any(block.reads for block in self.blocks.values()) else None
        self.read_defaults(root.get("defaults"))
        layers: list[ModelNode] = []
        body = root.get("layers")
        if body is None:
            self.problem(root, "missing-layers", "the spec has no `layers` list")
        else:
            try:
                layers = self.items(body, Scope())
            except TooLarge as exc:
                self.problem(exc.at or body, "too-large", f"the model expands to more than "
                             f"{MAX_LAYERS:,} layers")
        self.report_unreached()
        expect = self.claims(root.get("expect"), EXPECT_KEYS, "expect")
        budget = self.claims(root.get("budget"), BUDGET_KEYS, "budget")
        torchvision = self.torchvision(root.get("torchvision"))
        if shape is None or any(p.level == ERROR for p in self.problems):
            return None
        name_node, source_node = root.get("name"), root.get("source")
        input_node = root.get("input")
        assert input_node is not None
        return Model(name=str(plain(name_node)) if name_node else stem,
                     source=str(plain(source_node)) if source_node else "",
                     path=self.path, input=shape, input_at=self.where(input_node),
                     layers=tuple(layers), expect=expect, budget=budget,
                     torchvision=torchvision, rules=rules)

    def torchvision(self, node: Node | None) -> str:
        """The torchvision model a spec reproduces (``torchvision: resnet50``), or ""."""
        if node is None:
            return ""
        if not (isinstance(node, Scalar) and isinstance(node.value, str) and
                node.value.isascii() and node.value.isidentifier()):
            self.problem(node, "wrong-type", "torchvision: must name a model as "
                         "torchvision.models.get_model takes it, e.g. resnet50")
            return ""
        return node.value

    def rules(self, node: Node | None) -> str | None:
        """``rules: caffe``: the framework whose rules the spec's sizes follow."""
        if node is None:
            return None
        from convcalc.rules import RULES

        value = plain(node)
        if isinstance(value, str) and value.strip().lower() in RULES:
            return value.strip().lower()
        self.problem(node, "unknown-rules", f"rules must be one of {', '.join(RULES)}, got "
                     f"{value!r}")
        return None

    def input(self, root: Map) -> Shape | None:
        node = root.get("input")
        if node is None:
            self.problem(root, "missing-input", "the spec has no `input` shape (e.g. "
                         "input: 224x224x3)")
            return None
        return self.given_input or self.shape(node, "input")

    def shape(self, node: Node, what: str) -> Shape | None:
        value = plain(node)
        try:
            if isinstance(value, str):
                return Shape.parse(value)
            if isinstance(value, int) and not isinstance(value, bool):
                return Shape.of([value])
            if isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool)
                                               for v in value):
                return Shape.of(value)
        except ValueError as exc:
            code = "too-large" if isinstance(exc, NumberTooLong) else "wrong-type"
            self.problem(node, code, f"{what}: {exc}")
            return None
        self.problem(node, "wrong-type", f"{what} must be a shape like 224x224x3, got {value!r}")
        return None

    def read_defaults(self, node: Node | None) -> None:
        if node is None or not self.expect_type(node, Map, "defaults"):
            return
        assert isinstance(node, Map)
        for key, value in node.entries:
            kind = lookup(str(key.value))
            if kind is None:
                self.problem(key, "unknown-layer", f"defaults for unknown layer kind "
                             f"{key.value!r}"
                             f"{suggest(str(key.value), [*KINDS, *ALIASES], KIND_CUTOFF)}")
            elif self.expect_type(value, Map, f"defaults of {key.value}"):
                assert isinstance(value, Map)
                self.defaults[NAME_OF[kind]] = [(str(k.value), plain(v), self.where(v))
                                                for k, v in value.entries]
                self.defaults_at[NAME_OF[kind]] = self.where(key)

    def unreached_defaults(self, kind: type[Any], raw: dict[str, object]) -> None:
        """Note the keys of conv's defaults that a depthwise or separable convolution has, but
        takes its own default for: `defaults` reach one kind each."""
        name = NAME_OF[kind]
        if name not in CONV_FAMILY or "conv" not in self.defaults:
            return
        missed = {key for key, _, _ in self.defaults["conv"]
                  if key not in raw and key in {f.name for f in dataclasses.fields(kind)}}
        if missed:
            keys, count = self.unreached.get(name, (set(), 0))
            self.unreached[name] = keys | missed, count + 1

    def report_unreached(self) -> None:
        for name, (keys, count) in self.unreached.items():
            listed = ", ".join(sorted(keys))
            self.problem(self.defaults_at["conv"], "defaults-not-applied", f"the defaults of "
                         f"conv ({listed}) do not reach the {count:,} {name} layer(s), which "
                         f"keep their own; give {name} defaults of its own", WARNING)

    def read_includes(self, node: Node | None) -> None:
        """Blocks from other files: ``include: [resnet-blocks.yaml]`` (or a bundled name)."""
        if node is None:
            return
        entries = node.items if isinstance(node, Seq) else (node,)
        for entry in entries:
            if not isinstance(entry, Scalar) or not isinstance(entry.value, str):
                self.problem(entry, "wrong-type", "include takes file names")
                continue
            self.include(entry)

    def include(self, entry: Scalar) -> None:
        from convcalc.language.yamltree import YamlError, parse

        if self.opener is None:
            self.problem(entry, "bad-include", "include is not available for a spec given as "
                         "text")
            return
        try:
            path, real, text = self.opener(str(entry.value), self.path)
        except (OSError, ValueError) as exc:
            self.problem(entry, "bad-include", f"cannot include {entry.value!r}: {exc}")
            return
        if real == self.real_path(self.root):
            self.problem(entry, "bad-include", f"{entry.value!r} is this spec itself: a spec "
                         "includes block libraries, not itself")
            return
        if real in self.included:
            return  # already read: including one library twice (or in a cycle) is harmless
        if len(self.included) >= MAX_INCLUDES:
            self.problem(entry, "too-large", f"more than {MAX_INCLUDES} included files")
            return
        self.included.add(real)
        including, self.path = self.path, path
        try:
            root, duplicates = parse(text)
            self.duplicates(duplicates)
            if not isinstance(root, Map) or root.get("blocks") is None:
                self.problem(root or Where(path, 1, 1), "bad-include", "an included file is "
                             "a block library: a mapping with `blocks`")
                return
            self.unknown_keys(root, LIBRARY_KEYS, "key of a block library")
            self.read_includes(root.get("include"))
            self.read_blocks(root.get("blocks"))
        except YamlError as exc:
            self.problem(Where(path, exc.line, exc.col), exc.code, exc.message)
        finally:
            self.path = including

    @staticmethod
    def real_path(path: str) -> str:
        return os.path.realpath(path)

    def claims(self, node: Node | None, keys: tuple[str, ...], what: str) -> tuple[Claim, ...]:
        if node is None or not self.expect_type(node, Map, what):
            return ()
        assert isinstance(node, Map)
        claims = []
        for key, value in node.entries:
            name = str(key.value)
            if name not in keys:
                self.problem(key, "unknown-key", f"unknown {what} key {name!r} "
                             f"({', '.join(keys)}){suggest(name, keys)}")
            elif name == "output":
                shape = self.shape(value, f"{what}.output")
                if shape is not None:
                    claims.append(Claim(name, shape, self.where(value)))
            else:
                raw = plain(value)
                try:
                    number = raw if isinstance(raw, int) and not isinstance(raw, bool) \
                        else parse_quantity(str(raw))
                    claims.append(Claim(name, number, self.where(value)))
                except ValueError as exc:
                    code = "too-large" if isinstance(exc, NumberTooLong) else "wrong-type"
                    self.problem(value, code, f"{what}.{name}: {exc}")
        return tuple(claims)

    # --- layer lists -----------------------------------------------------------------------

    def items(self, node: Node, scope: Scope) -> list[ModelNode]:
        if not self.expect_type(node, Seq, "layers"):
            return []
        assert isinstance(node, Seq)
        built: list[ModelNode] = []
        for item in node.items:
            built += self.item(item, scope)
        return built

    def item(self, node: Node, scope: Scope) -> list[ModelNode]:
        if isinstance(node, Scalar):
            if not isinstance(node.value, str):
                self.problem(node, "wrong-type", f"a layer is a name like conv3-64 or a "
                             f"mapping, got {node.value!r}")
                return []
            return self.word(node.value, node, None, {}, scope)
        if isinstance(node, Seq):
            self.problem(node, "wrong-type", "a list is not a layer: write `- layers: [...]` "
                         "with `repeat`, or a merge (`add:`, `concat:`)")
            return []
        entries = node.entries
        if len(entries) == 1 and entries[0][0].value not in MODIFIERS:  # `- conv: {k: 3}`
            key, value = entries[0]
            return self.head(str(key.value), key, value, {}, scope)
        modifiers = {str(k.value): v for k, v in entries if k.value in MODIFIERS}
        if "if" in modifiers and not self.holds(modifiers["if"]):
            return []  # left out: its keys are not even read
        heads = [(k, v) for k, v in node.entries if k.value not in MODIFIERS]
        if len(heads) != 1:
            found = ", ".join(str(k.value) for k, _ in heads) or "none"
            self.problem(node, "bad-layer", f"a layer item has exactly one kind, block or merge "
                         f"key; found {found}")
            return []
        (key, value), = heads
        if "parts" in modifiers and key.value != "split":
            self.problem(modifiers["parts"], "unknown-key", "`parts` goes with split")
        repeat = self.repeat(modifiers.get("repeat"))
        if repeat == 0:  # zero copies: a stage of `repeat: $(n - 1)` when n is 1
            return []
        before = self.layer_count
        built = self.head(str(key.value), key, value, modifiers, scope)
        # Every copy is as large as the first: refuse an explosion before building it.
        if before + (self.layer_count - before) * repeat > MAX_LAYERS:
            raise TooLarge(self.where(modifiers.get("repeat") or key))
        for _ in range(repeat - 1):
            built += self.head(str(key.value), key, value, modifiers, scope)
        return built

    def repeat(self, node: Node | None) -> int:
        if node is None:
            return 1
        value = plain(node)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            self.problem(node, "wrong-type", f"repeat must be a whole number, 0 or more, got "
                         f"{value!r}")
            return 1
        if value > MAX_REPEAT:
            self.problem(node, "too-large", f"repeat {value:,} is above the limit of "
                         f"{MAX_REPEAT:,}")
            return 1
        return value

    def head(self, key: str, at: Scalar, value: Node, modifiers: dict[str, Node],
             scope: Scope) -> list[ModelNode]:
        if key in MERGES and (key not in self.blocks or isinstance(value, Seq)):
            return self.merge(key, at, value, modifiers, scope)
        if key == "layers":
            return self.items(value, scope)
        return self.word(key, at, value, modifiers, scope)

    def word(self, text: str, at: Scalar, value: Node | None, modifiers: dict[str, Node],
             scope: Scope) -> list[ModelNode]:
        if "$" in text:
            self.problem(at, "undefined-argument", outside_block(text))
            return []
        if text in self.blocks:
            return self.call(self.blocks[text], at, value, modifiers, scope)
        kind = lookup(text)
        base: dict[str, object] = {}
        if kind is None:
            try:
                parsed = self.shorthand(text)
            except ShorthandError as exc:
                self.problem(at, exc.code, f"{text!r}: {exc}{shorthand_hint(text)}")
                return []
            if parsed is None:
                self.problem(at, "unknown-layer", f"unknown layer or block {text!r}"
                             f"{self.did_you_mean(text)}")
                return []
            kind, base = parsed
        made = self.layer(kind, at, value, base, modifiers, scope)
        return [] if made is None else [made]

    def did_you_mean(self, text: str) -> str:
        """A hint for a misspelt name, shorthand (``cnov3-64``) included."""
        return shorthand_hint(text) or \
            suggest(text, [*KINDS, *ALIASES, *self.blocks], KIND_CUTOFF)

    def shorthand(self, text: str) -> tuple[type[Any], dict[str, object]] | None:
        """``conv3-64-s2`` as (Conv, {k: 3, filters: 64, stride: 2}), or None; once a text."""
        if text not in self.shorthands:
            self.shorthands[text] = parse_shorthand(text)
        return self.shorthands[text]

    def layer(self, kind: type[Any], at: Scalar, value: Node | None,
              base: dict[str, object], modifiers: dict[str, Node],
              scope: Scope) -> LayerNode | None:
        # A block's body serves every call with the same arguments: its items are the same
        # located values each time, and make the same layer.
        made = self.item_made(at, value) if self.expanding else None
        if made is None:
            made = self.make(kind, at, value, base, not scope.calls)
            if made is None:
                return None
            if self.expanding:
                self.items_made[at, value] = made
        layer, spot, places, written = made
        own = {**modifiers, **written} if written else modifiers
        self.layer_count += 1
        if self.layer_count > MAX_LAYERS:
            raise TooLarge
        registry_name = NAME_OF[kind]
        name_node = own.get("name") if own else None
        name = scope.name(plain(name_node) if name_node else None, registry_name)
        waiver = self.waiver(own.get("allow"), own.get("reason"), at) if own else None
        node = LayerNode(layer, registry_name, name, spot, places, waiver)
        self.advance(node)
        return node

    def item_made(self, at: Scalar, value: Node | None
                  ) -> tuple[Any, Where, Mapping[str, Where], dict[str, Node]] | None:
        """What an item of a block's body made when an earlier call read it."""
        return self.items_made.get((at, value))

    def make(self, kind: type[Any], at: Scalar, value: Node | None, base: dict[str, object],
             outside: bool) -> tuple[Any, Where, Mapping[str, Where], dict[str, Node]] | None:
        """The layer an item makes, where it and its keys were written, and its own keys
        (name, allow, reason); None when it has problems (reported). ``outside`` a block's
        body, a ``$`` in a value is a problem: arguments are filled in only there."""
        registry_name = NAME_OF[kind]
        path = self.path
        raw: dict[str, object] = {}
        # Where each key was written; a key missing here was written at the layer itself.
        places: dict[str, Where] = {}
        written: dict[str, Node] = {}
        for key_name, default, spot in self.defaults.get(registry_name, ()):
            raw[key_name], places[key_name] = default, spot
        for key_name, field_value in base.items():
            raw[key_name] = field_value
            places.pop(key_name, None)
        if type(value) is Map:
            for key, node in value.entries:
                key_name = str(key.value)
                if key_name in OWN_KEYS:
                    written[key_name] = node
                elif outside and type(node) is Scalar and type(node.value) is str and \
                        "$" in node.value:
                    self.problem(node, "undefined-argument", outside_block(node.value))
                    return None
                else:
                    raw[key_name] = node.value if type(node) is Scalar else plain(node)
                    places[key_name] = Where(path, node.line, node.col)
        elif isinstance(value, Scalar) and value.value is not None:
            if kind.count_field is None:
                self.problem(value, "wrong-type", f"{registry_name} takes a mapping of keys")
                return None
            raw[kind.count_field], places[kind.count_field] = value.value, self.where(value)
        elif value is not None and not isinstance(value, Scalar):
            self.problem(value, "wrong-type", f"the keys of {registry_name} must be a mapping")
            return None
        if "conv" in self.defaults:
            self.unreached_defaults(kind, raw)
        memo = memo_key(kind, raw)
        layer = self.made.get(memo) if memo else None
        errors: list[FieldError] = []
        if layer is None:
            layer, errors = construct(kind, raw)
            if layer is not None:
                layer = self.made.setdefault(layer, layer)  # equal layers: one object
                if memo:
                    self.made[memo] = layer
        for error in errors:
            spot = places.get(error.field, self.where(at))
            if error.code == "unknown-key" and isinstance(value, Map):
                key_node = value.key(error.field)
                spot = self.where(key_node) if key_node else spot
            names = [f.name for f in dataclasses.fields(kind)]
            hint = suggest(error.field, names) if error.code == "unknown-key" else ""
            self.problem(spot, error.code, f"{registry_name}: {error.message}{hint}")
        if layer is None:
            return None
        return layer, Where(path, at.line, at.col), places or NO_PLACES, written

    def waiver(self, allow: Node | None, reason: Node | None, at: Scalar) -> Waiver | None:
        if allow is None:
            if reason is not None:
                self.problem(reason, "unknown-key", "`reason` goes with `allow`")
            return None
        status = plain(allow)
        if status not in WAIVABLE:
            self.problem(allow, "wrong-type", f"allow must be one of {', '.join(WAIVABLE)}, got "
                         f"{status!r}")
            return None
        if reason is None:
            self.problem(allow, "waiver-without-reason", f"allow: {status} should give a "
                         "`reason`", WARNING)
        return Waiver(str(status), str(plain(reason)) if reason else "", self.where(allow))
