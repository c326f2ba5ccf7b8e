"""The spec language: a located YAML tree to a :class:`~convcalc.model.Model`.

Every problem is collected with its position; building goes on past each one so a file
shows all its problems at once. See the README's "Spec language" section for the
grammar this module implements.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from convcalc.layers import ALIASES, KINDS, NAME_OF, lookup
from convcalc.layers.fields import FieldError, construct
from convcalc.model import Claim, Group, LayerNode, Merge, Model, Waiver
from convcalc.model import Node as ModelNode
from convcalc.problem import ERROR, WARNING, Problem, Where
from convcalc.shape import Shape
from convcalc.spec.yamltree import Duplicate, Map, Node, Scalar, Seq
from convcalc.units import parse_quantity

TOP_KEYS = ("name", "source", "description", "include", "input", "defaults", "expect", "budget",
            "blocks", "layers")
LIBRARY_KEYS = ("name", "source", "description", "include", "blocks")
MAX_INCLUDES = 64
EXPECT_KEYS = ("params", "trainable", "trainable_params", "non_trainable",
               "non_trainable_params", "macs", "flops", "activations", "output")
BUDGET_KEYS = ("params", "macs", "activations", "memory")
MERGES = ("concat", "add", "mul")
MODIFIERS = ("repeat", "name", "allow", "reason")
WAIVABLE = ("harmless", "lossy")
MAX_REPEAT = 10_000
MAX_LAYERS = 250_000  # expanded layers in one model
MAX_CALLS = 32  # blocks calling blocks

# conv3-64, conv1x7-192-s2-p0x3, maxpool3-s2-ceil, fc-4096, dwconv3-s2
_SHORTHAND = re.compile(r"(?P<kind>[a-z]+(?:-[a-z]+)*?)(?P<k>\d+(?:x\d+)*)?(?:-(?P<count>\d+))?"
                        r"(?P<opts>(?:-[a-z]+(?:\d+(?:,\d+)?(?:x\d+(?:,\d+)?)*)?)*)")
_OPTION = re.compile(r"-([a-z]+?)(\d[\d,x]*)?(?=-|$)")
_LETTERS = {"s": "stride", "p": "pad", "d": "dilation", "g": "groups", "m": "multiplier"}
_WORDS: dict[str, tuple[str, object]] = {
    "same": ("pad", "same"), "valid": ("pad", "valid"), "full": ("pad", "full"),
    "ceil": ("ceil", True), "nobias": ("bias", False),
}
# $name, ${expression} or $(expression): the parenthesised form needs no quotes in [...]
_REFERENCE = re.compile(r"\$(?:\{(?P<braced>[^}]*)\}|\((?P<expr>[^()]*(?:\([^()]*\)[^()]*)*)\)"
                        r"|(?P<name>[A-Za-z_]\w*))")


class _TooLarge(Exception):
    """The model expands past MAX_LAYERS: stop building at once."""

    def __init__(self, at: Where | None = None) -> None:
        super().__init__()
        self.at = at


class _BadCall(Exception):
    """A block call cannot be expanded (already reported): skip it."""


def plain(node: Node) -> Any:
    """The Python value of a located node (lists and dicts for collections)."""
    if isinstance(node, Scalar):
        return node.value
    if isinstance(node, Seq):
        return [plain(item) for item in node.items]
    return {key.value: plain(value) for key, value in node.entries}


def suggest(word: str, choices: list[str] | tuple[str, ...]) -> str:
    import difflib  # only when something is misspelt

    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


@dataclass(frozen=True)
class Block:
    """A block of ``blocks:``: its arguments with their defaults, and its body."""

    name: str
    args: dict[str, Node | None]  # None: required
    body: Seq
    at: Where


@dataclass
class _Scope:
    """Names are generated per list: conv1, conv2, maxpool1, bottleneck1, add1."""

    prefix: str = ""
    calls: tuple[str, ...] = ()
    counters: dict[str, int] = field(default_factory=dict)

    def name(self, explicit: object, stem: str) -> str:
        if isinstance(explicit, str | int) and not isinstance(explicit, bool):
            return f"{self.prefix}{explicit}"
        self.counters[stem] = self.counters.get(stem, 0) + 1
        return f"{self.prefix}{stem}{self.counters[stem]}"

    def inner(self, name: str, call: str | None = None) -> _Scope:
        return _Scope(f"{name}.", (*self.calls, call) if call else self.calls)


# (what `include` names, the file that names it) -> (the included file's path, its text)
Opener = Callable[[str, str], tuple[str, str]]


class Builder:
    def __init__(self, path: str, opener: Opener | None = None) -> None:
        self.path = path  # the file being read now: an included one while its blocks are
        self.opener = opener
        self.included: set[str] = set()
        self.library = False  # the file has blocks only: it is included, not analysed
        self.problems: list[Problem] = []
        self.defaults: dict[str, list[tuple[str, object, Where]]] = {}
        self.blocks: dict[str, Block] = {}
        self.broken_blocks: set[str] = set()
        self.blamed: set[tuple[Where, str]] = set()
        self.layer_count = 0
        # Repeated blocks are read once: the same shorthand, the same keys and the same block
        # call with the same arguments give the same (immutable) result every time.
        self.shorthands: dict[str, tuple[type[Any], dict[str, object]] | None] = {}
        self.made: dict[object, Any] = {}  # layers by their keys and by themselves
        self.bodies: dict[tuple[object, ...], Seq] = {}
        # The outermost block call being expanded: a problem in a block's body names it, so
        # that the line of the spec that led there is known (the body may serve 36 calls).
        self.expanding: tuple[str, Where] | None = None

    # --- problems --------------------------------------------------------------------------

    def where(self, node: Node | Scalar) -> Where:
        """The position of a node of the file being read now."""
        return Where(self.path, node.line, node.col)

    def problem(self, at: Node | Scalar | Where, code: str, message: str,
                level: str = ERROR) -> None:
        """Record a problem; an error is recorded once, however many layers or calls reach it
        (a bad default, a bad line of a block called 36 times)."""
        spot = at if isinstance(at, Where) else self.where(at)
        if level == ERROR and (spot, message) in self.blamed:
            return
        if level == ERROR:
            self.blamed.add((spot, message))
        if self.expanding is not None:
            block, called_at = self.expanding
            place = f"line {called_at.line}" if called_at.path == spot.path else \
                f"{called_at.path}:{called_at.line}"
            message += f" (via block {block!r}, called on {place})"
        self.problems.append(Problem(spot.path, spot.line, spot.col, level, code, message))

    def duplicates(self, found: list[Duplicate]) -> None:
        """Keys given twice in the file being read (the first value was kept)."""
        for duplicate in found:
            self.problem(Where(self.path, duplicate.line, duplicate.col), "duplicate-key",
                         f"duplicate key {duplicate.key!r} (first given on line "
                         f"{duplicate.first_line})")

    def unknown_keys(self, node: Map, allowed: tuple[str, ...], what: str) -> None:
        for key, _ in node.entries:
            if key.value not in allowed:
                self.problem(key, "unknown-key", f"unknown {what} {key.value!r}"
                             f"{suggest(str(key.value), allowed)}")

    def expect_type(self, node: Node, kind: type[Seq] | type[Map], what: str) -> bool:
        if isinstance(node, kind):
            return True
        self.problem(node, "wrong-type", f"{what} must be a "
                     f"{'list' if kind is Seq else 'mapping'}")
        return False

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
        self.read_defaults(root.get("defaults"))
        layers: list[ModelNode] = []
        body = root.get("layers")
        if body is None:
            self.problem(root, "missing-layers", "the spec has no `layers` list")
        else:
            try:
                layers = self.items(body, _Scope())
            except _TooLarge as exc:
                self.problem(exc.at or body, "too-large", f"the model expands to more than "
                             f"{MAX_LAYERS:,} layers")
        expect = self.claims(root.get("expect"), EXPECT_KEYS, "expect")
        budget = self.claims(root.get("budget"), BUDGET_KEYS, "budget")
        if shape is None or any(p.level == ERROR for p in self.problems):
            return None
        name_node, source_node = root.get("name"), root.get("source")
        input_node = root.get("input")
        assert input_node is not None
        return Model(name=str(plain(name_node)) if name_node else stem,
                     source=str(plain(source_node)) if source_node else "",
                     path=self.path, input=shape, input_at=self.where(input_node),
                     layers=tuple(layers), expect=expect, budget=budget)

    def input(self, root: Map) -> Shape | None:
        node = root.get("input")
        if node is None:
            self.problem(root, "missing-input", "the spec has no `input` shape (e.g. "
                         "input: 224x224x3)")
            return None
        shape = self.shape(node, "input")
        return shape

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
            self.problem(node, "wrong-type", f"{what}: {exc}")
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
                             f"{key.value!r}{suggest(str(key.value), [*KINDS, *ALIASES])}")
            elif self.expect_type(value, Map, f"defaults of {key.value}"):
                assert isinstance(value, Map)
                self.defaults[NAME_OF[kind]] = [(str(k.value), plain(v), self.where(v))
                                                for k, v in value.entries]

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
        from convcalc.spec.yamltree import YamlError, parse

        if self.opener is None:
            self.problem(entry, "bad-include", "include is not available for a spec given as "
                         "text")
            return
        try:
            path, text = self.opener(str(entry.value), self.path)
        except (OSError, ValueError) as exc:
            self.problem(entry, "bad-include", f"cannot include {entry.value!r}: {exc}")
            return
        if path in self.included:
            return  # already read: including one library twice is harmless
        if len(self.included) >= MAX_INCLUDES:
            self.problem(entry, "too-large", f"more than {MAX_INCLUDES} included files")
            return
        self.included.add(path)
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

    def read_blocks(self, node: Node | None) -> None:
        if node is None or not self.expect_type(node, Map, "blocks"):
            return
        assert isinstance(node, Map)
        for key, value in node.entries:
            name = str(key.value)
            if lookup(name) is not None or name in MERGES or name in MODIFIERS:
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
            return Block(name, {}, node, self.where(key))
        if not self.expect_type(node, Map, f"block {name!r}"):
            return None
        assert isinstance(node, Map)
        args = self.block_args(node.get("args"))
        body: Seq | None = None
        for body_key, value in node.entries:
            text = str(body_key.value)
            if text == "args":
                continue
            if text == "layers":
                if self.expect_type(value, Seq, f"layers of block {name!r}"):
                    assert isinstance(value, Seq)
                    body = value
            elif text in MERGES:
                body = Seq((Map(((body_key, value),), body_key.line, body_key.col,
                                index={text: value}),), body_key.line, body_key.col)
            else:
                self.problem(body_key, "unknown-key", f"unknown key {text!r} in block {name!r} "
                             f"(args, layers, {', '.join(MERGES)})"
                             f"{suggest(text, ('args', 'layers', *MERGES))}")
        if body is None:
            self.problem(key, "bad-block", f"block {name!r} needs `layers` or one of "
                         f"{', '.join(MERGES)}")
            return None
        if not self.check_references(body, args):
            self.broken_blocks.add(name)
        return Block(name, args, body, self.where(key))

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

    def check_references(self, node: Node, args: dict[str, Node | None]) -> bool:
        """Every ``$name`` in a block body must be one of its arguments."""
        ok = True
        if isinstance(node, Scalar):
            if isinstance(node.value, str):
                for match in _REFERENCE.finditer(node.value):
                    names = ([match["name"]] if match["name"] else
                             re.findall(r"[A-Za-z_]\w*", _expression(match)))
                    for name in names:
                        if name not in args:
                            self.problem(node, "undefined-argument", f"${name} is not an "
                                         f"argument of this block{suggest(name, list(args))}")
                            ok = False
            return ok
        children = node.items if isinstance(node, Seq) else \
            [part for entry in node.entries for part in entry]
        return all([self.check_references(child, args) for child in children])

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
                    self.problem(value, "wrong-type", f"{what}.{name}: {exc}")
        return tuple(claims)

    # --- layer lists -----------------------------------------------------------------------

    def items(self, node: Node, scope: _Scope) -> list[ModelNode]:
        if not self.expect_type(node, Seq, "layers"):
            return []
        assert isinstance(node, Seq)
        built: list[ModelNode] = []
        for item in node.items:
            built += self.item(item, scope)
        return built

    def item(self, node: Node, scope: _Scope) -> list[ModelNode]:
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
        modifiers = {str(k.value): v for k, v in node.entries if k.value in MODIFIERS}
        heads = [(k, v) for k, v in node.entries if k.value not in MODIFIERS]
        if len(heads) != 1:
            found = ", ".join(str(k.value) for k, _ in heads) or "none"
            self.problem(node, "bad-layer", f"a layer item has exactly one kind, block or merge "
                         f"key; found {found}")
            return []
        (key, value), = heads
        repeat = self.repeat(modifiers.get("repeat"))
        before = self.layer_count
        built = self.head(str(key.value), key, value, modifiers, scope)
        # Every copy is as large as the first: refuse an explosion before building it.
        if before + (self.layer_count - before) * repeat > MAX_LAYERS:
            raise _TooLarge(self.where(modifiers.get("repeat") or key))
        for _ in range(repeat - 1):
            built += self.head(str(key.value), key, value, modifiers, scope)
        return built

    def repeat(self, node: Node | None) -> int:
        if node is None:
            return 1
        value = plain(node)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            self.problem(node, "wrong-type", f"repeat must be a positive integer, got {value!r}")
            return 1
        if value > MAX_REPEAT:
            self.problem(node, "too-large", f"repeat {value:,} is above the limit of "
                         f"{MAX_REPEAT:,}")
            return 1
        return value

    def head(self, key: str, at: Scalar, value: Node, modifiers: dict[str, Node],
             scope: _Scope) -> list[ModelNode]:
        if key in MERGES:
            return self.merge(key, at, value, modifiers, scope)
        if key == "layers":
            return self.items(value, scope)
        return self.word(key, at, value, modifiers, scope)

    def merge(self, op: str, at: Scalar, value: Node, modifiers: dict[str, Node],
              scope: _Scope) -> list[ModelNode]:
        if not self.expect_type(value, Seq, f"the branches of {op}"):
            return []
        assert isinstance(value, Seq)
        name = scope.name(plain(modifiers["name"]) if "name" in modifiers else None, op)
        branches = []
        for number, branch in enumerate(value.items, 1):
            inner = scope.inner(f"{name}.b{number}")
            layers = self.items(branch, inner) if isinstance(branch, Seq) else \
                self.item(branch, inner)
            branches.append(tuple(layers))
        if not branches:
            self.problem(value, "bad-layer", f"{op} needs at least one branch")
            return []
        return [Merge(op, tuple(branches), name, self.where(at))]

    def word(self, text: str, at: Scalar, value: Node | None, modifiers: dict[str, Node],
             scope: _Scope) -> list[ModelNode]:
        if "$" in text:
            self.problem(at, "undefined-argument", f"{text!r} uses an argument outside a block")
            return []
        if text in self.blocks:
            return self.call(self.blocks[text], at, value, modifiers, scope)
        kind = lookup(text)
        base: dict[str, object] = {}
        if kind is None:
            parsed = self.shorthand(text)
            if parsed is None:
                self.problem(at, "unknown-layer", f"unknown layer or block {text!r}"
                             f"{self.did_you_mean(text)}")
                return []
            kind, base = parsed
        return [node for node in [self.layer(kind, at, value, base, modifiers, scope)]
                if node is not None]

    def did_you_mean(self, text: str) -> str:
        """A hint for a misspelt name, shorthand (``cnov3-64``) included."""
        import difflib

        hint = suggest(text, [*KINDS, *ALIASES, *self.blocks])
        match = _SHORTHAND.fullmatch(text)
        if hint or match is None:
            return hint
        close = difflib.get_close_matches(match["kind"], [*KINDS, *ALIASES], n=1, cutoff=0.6)
        return f" (did you mean {close[0] + text[len(match['kind']):]!r}?)" if close else ""

    def shorthand(self, text: str) -> tuple[type[Any], dict[str, object]] | None:
        """``conv3-64-s2`` as (Conv, {k: 3, filters: 64, stride: 2}), or None."""
        if text not in self.shorthands:
            self.shorthands[text] = self.read_shorthand(text)
        return self.shorthands[text]

    def read_shorthand(self, text: str) -> tuple[type[Any], dict[str, object]] | None:
        match = _SHORTHAND.fullmatch(text)
        kind = lookup(match["kind"]) if match else None
        if match is None or kind is None:
            return None
        fields: dict[str, object] = {}
        number_field = kind.kernel_field or kind.count_field
        if match["k"]:
            if number_field is None:
                return None
            fields[number_field] = match["k"]
        if match["count"]:
            if kind.count_field is None or kind.count_field in fields:
                return None
            fields[kind.count_field] = match["count"]
        for word, number in _OPTION.findall(match["opts"] or ""):
            if number and word in _LETTERS:
                fields[_LETTERS[word]] = number
            elif not number and word in _WORDS:
                key, flag = _WORDS[word]
                fields[key] = flag
            else:
                return None
        return kind, fields

    def layer(self, kind: type[Any], at: Scalar, value: Node | None,
              base: dict[str, object], modifiers: dict[str, Node],
              scope: _Scope) -> LayerNode | None:
        registry_name = NAME_OF[kind]
        raw: dict[str, object] = {}
        places: dict[str, Where] = {}
        own: dict[str, Node] = dict(modifiers)
        for key_name, default, spot in self.defaults.get(registry_name, ()):
            raw[key_name], places[key_name] = default, spot
        for key_name, field_value in base.items():
            raw[key_name], places[key_name] = field_value, self.where(at)
        if isinstance(value, Map):
            for key, node in value.entries:
                if key.value in ("name", "allow", "reason"):
                    own[str(key.value)] = node
                else:
                    raw[str(key.value)], places[str(key.value)] = plain(node), self.where(node)
        elif isinstance(value, Scalar) and value.value is not None:
            if kind.count_field is None:
                self.problem(value, "wrong-type", f"{registry_name} takes a mapping of keys")
                return None
            raw[kind.count_field], places[kind.count_field] = value.value, self.where(value)
        elif value is not None and not isinstance(value, Scalar):
            self.problem(value, "wrong-type", f"the keys of {registry_name} must be a mapping")
            return None
        memo = _memo_key(kind, raw)
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
        self.layer_count += 1
        if self.layer_count > MAX_LAYERS:
            raise _TooLarge
        name_node = own.get("name")
        name = scope.name(plain(name_node) if name_node else None, registry_name)
        return LayerNode(layer, registry_name, name, self.where(at), places,
                         self.waiver(own.get("allow"), own.get("reason"), at))

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

    # --- blocks ----------------------------------------------------------------------------

    def call(self, block: Block, at: Scalar, value: Node | None, modifiers: dict[str, Node],
             scope: _Scope) -> list[ModelNode]:
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
                        value.col, value.size, {k: v for k, v in value.index.items()
                                                if k != "name"})
        if not scope.calls and isinstance(value, Map):  # written in `layers:`, not a block
            for _, given in value.entries:
                if isinstance(given, Scalar) and isinstance(given.value, str) and \
                        "$" in given.value:
                    self.problem(given, "undefined-argument", f"{given.value!r} uses an "
                                 "argument outside a block")
                    return []
        bound = self.bind(block, at, value)
        if bound is None:
            return []
        name = scope.name(plain(modifiers["name"]) if "name" in modifiers else None, block.name)
        called_at, caller, outer = self.where(at), self.path, self.expanding
        self.path = block.at.path  # the body's positions are in the file that defines it
        self.expanding = outer or (block.name, called_at)
        try:
            body = self.block_body(block, bound)
            children = self.items(body, scope.inner(name, block.name))
        except _BadCall:
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

    def block_body(self, block: Block, bound: dict[str, Node]) -> Seq:
        """The body with the arguments filled in; once per block and argument values."""
        key = _memo_key(block.name, {name: plain(node) for name, node in bound.items()}) \
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
                       node.col, node.size)
        if isinstance(node, Map):
            entries = tuple((self.substitute_text(key, args), self.substitute(value, args))
                            for key, value in node.entries)
            return Map(entries, node.line, node.col, node.size,
                       {str(key.value): value for key, value in entries})
        if not isinstance(node.value, str) or "$" not in node.value:
            return node
        whole = _REFERENCE.fullmatch(node.value)
        if whole and whole["name"]:
            return dataclasses.replace(args[whole["name"]], line=node.line, col=node.col)
        text = _REFERENCE.sub(lambda m: self.evaluate(m, args, node), node.value)
        if whole:  # a whole ${expression}: keep the number a number
            return Scalar(int(text) if re.fullmatch(r"-?\d+", text) else text, node.line,
                          node.col)
        return Scalar(text, node.line, node.col)

    def substitute_text(self, key: Scalar, args: dict[str, Node]) -> Scalar:
        """A mapping key stays text: ``conv1-$mid: {stride: 2}``."""
        found = self.substitute(key, args)
        return found if isinstance(found, Scalar) else Scalar(str(plain(found)), key.line,
                                                                key.col)

    def evaluate(self, match: re.Match[str], args: dict[str, Node], at: Scalar) -> str:
        if match["name"]:
            return str(plain(args[match["name"]]))
        try:
            return str(_integer_expression(_expression(match), {
                name: plain(value) for name, value in args.items()}))
        except ValueError as exc:
            self.problem(at, "bad-expression", f"{match[0]}: {exc}")
            raise _BadCall from None


def _memo_key(what: object, values: dict[str, object]) -> tuple[object, ...] | None:
    """A dictionary key for ``what`` built from ``values``, or None if a value is a list.

    Types are part of the key: ``1``, ``1.0`` and ``true`` are equal in Python but not
    in a spec.
    """
    key = (what, *((name, type(value), value) for name, value in values.items()))
    try:
        hash(key)
    except TypeError:
        return None
    return key


def _expression(match: re.Match[str]) -> str:
    return match["braced"] if match["braced"] is not None else match["expr"] or ""


def _integer_expression(text: str, names: dict[str, Any]) -> int:
    """Exact integer arithmetic (+ − × ÷ //, brackets) over the block's arguments."""
    import ast  # only for specs that compute

    # Names are renamed first, so that arguments may be called `in` or `is`.
    renamed: dict[str, str] = {}
    safe = re.sub(r"[A-Za-z_]\w*", lambda m: renamed.setdefault(m[0], f"_{len(renamed)}"),
                  text.strip())
    names = {renamed[name]: value for name, value in names.items() if name in renamed}
    originals = {alias: name for name, alias in renamed.items()}
    try:
        tree = ast.parse(safe, mode="eval")
    except SyntaxError:
        raise ValueError("not an arithmetic expression") from None

    def value(node: ast.AST) -> int:
        if isinstance(node, ast.Expression):
            return value(node.body)
        if isinstance(node, ast.Constant) and type(node.value) is int:
            return node.value
        if isinstance(node, ast.Name):
            found = names.get(node.id)
            if type(found) is not int:
                raise ValueError(f"{originals.get(node.id, node.id)} is not an integer "
                                 "argument")
            return found
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -value(node.operand)
        if isinstance(node, ast.BinOp):
            left, right = value(node.left), value(node.right)
            if isinstance(node.op, ast.Add):
                return left + right
            if isinstance(node.op, ast.Sub):
                return left - right
            if isinstance(node.op, ast.Mult):
                return left * right
            if isinstance(node.op, ast.FloorDiv | ast.Div) and right == 0:
                raise ValueError("division by zero")
            if isinstance(node.op, ast.FloorDiv):
                return left // right
            if isinstance(node.op, ast.Div):
                if left % right:
                    raise ValueError(f"{left}/{right} is not a whole number")
                return left // right
        raise ValueError("only integers, argument names, + - * / // and brackets are allowed")

    return value(tree)
