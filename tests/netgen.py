"""Random networks for the oracle: netspec descriptions drawn from a chooser.

The generator keeps most networks valid by trying each drawn item in torch (the meta
device, ``tests/nettorch.py``) on the tensor it will receive, and redrawing it when torch
refuses; now and then it keeps a refused item as the network's last, so that refusals are
compared too. Blocks, ``repeat``, ``if`` and ``$(…)`` expressions are drawn as ways of
writing the layers: the torch side evaluates them itself.

A :class:`Chooser` is either a seeded ``random.Random`` (the campaign) or hypothesis's
``data.draw`` (the property tests, which shrink towards small numbers and False).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, ClassVar, Protocol, TypeVar

from torch import Tensor

from tests.netspec import REQUIRED, Block, Call, Expr, Group, Leaf, Merge, Net, Node
from tests.nettorch import ACTIVATIONS, Refused, Runner, evaluate, exact, shape_env

T = TypeVar("T")


class Chooser(Protocol):
    def int(self, lo: int, hi: int) -> int: ...


class RandomChooser:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def int(self, lo: int, hi: int) -> int:
        return self.rng.randint(lo, hi)


def pick(ch: Chooser, options: Sequence[T]) -> T:
    return options[ch.int(0, len(options) - 1)]


def chance(ch: Chooser, percent: int) -> bool:
    """True with the given chance; a shrinking chooser (towards 0) makes it False."""
    return ch.int(0, 99) >= 100 - percent


def weighted(ch: Chooser, table: dict[str, int]) -> str:
    roll = ch.int(0, sum(table.values()) - 1)
    for key, weight in table.items():
        if roll < weight:
            return key
        roll -= weight
    raise AssertionError("unreachable")


LARGEST = 300_000  # elements of one output: the truth and the fields run on the CPU
ACTS = [k for k in ACTIVATIONS if k not in ("dropout", "identity", "stochastic-depth")]
WIDTHS = ["C", "C * 2", "C // 2", "make_divisible(C * 3 / 4, 8)", "max(8, C // 4)",
          "min(C, 16)", "round(C * 5 / 4)", "channels", "channels // 2",
          "make_divisible(channels // 4, 8)", "channels * 2", "C + channels", "int(C / 3)",
          "ceil(C / 3)", "floor(C * 2 / 3)", "make_divisible(C * 0.75, 8, 16)",
          "C if C > channels else channels", "max(4, min(C, channels))"]
ALIASES = {"conv": "convolution", "conv-transpose": "deconv", "depthwise": "dwconv",
           "separable": "sepconv", "maxpool": "pool", "global-avgpool": "gap", "fc": "dense",
           "bn": "batchnorm", "layernorm": "layer-norm", "layer-scale": "layerscale",
           "silu": "swish", "channel-shuffle": "shuffle", "stochastic-depth": "drop-path"}


@dataclass
class Context:
    """Where an item is drawn: the values its expressions may read, and the block's
    argument names by role (``width``, ``stride``, ``k``, ``n``, ``flag``, ``act``)."""

    env: dict[str, Any] = field(default_factory=dict)
    roles: dict[str, str] = field(default_factory=dict)
    depth: int = 0

    @property
    def in_block(self) -> bool:
        return bool(self.roles)


class Generator:
    def __init__(self, ch: Chooser, max_items: int = 7) -> None:
        self.ch = ch
        self.max_items = max_items
        self.net = Net((), 1, [])
        self.building: set[str] = set()  # blocks being drawn: not callable from themselves
        self.wild = False  # sizes beyond the input and pads beyond half a kernel

    # --- helpers ---

    def draw(self, lo: int, hi: int) -> int:
        return self.ch.int(lo, hi)

    def chance(self, percent: int) -> bool:
        return chance(self.ch, percent)

    def trial(self, node: Node, x: Tensor, ctx: Context) -> Tensor | None:
        """The item's output on the meta device; None where torch refuses it or where it
        would be too large to run on the CPU quickly (upsampling a 3-D input, repeated)."""
        try:
            y = Runner(self.net, mode="trial").node(node, x, ctx.env)
        except Refused:
            return None
        return y if y.numel() <= LARGEST else None

    def sequence(self, x: Tensor, ctx: Context, count: int, preserve: bool = False,
                 keep_refusal: bool = False) -> tuple[list[Node], Tensor | None]:
        """Up to ``count`` items that torch takes one after the other (the last refused
        one kept when ``keep_refusal`` draws so); the output, or None after a refusal."""
        items: list[Node] = []
        y: Tensor | None = x
        for _ in range(count):
            assert y is not None
            for _attempt in range(6):
                node = self.item(y, ctx, preserve)
                after = self.trial(node, y, ctx)
                if after is not None:
                    items.append(node)
                    y = after
                    break
                if keep_refusal and self.chance(8):
                    items.append(node)
                    return items, None
        return items, y

    # --- the network ---

    def network(self) -> Net:
        rank = int(weighted(self.ch, {"1": 2, "2": 5, "3": 2}))
        top = {1: 40, 2: 20, 3: 9}[rank]
        spatial = tuple(self.draw(2, top) if self.chance(10) else self.draw(4, top)
                        for _ in range(rank))
        if rank > 1 and self.chance(60):
            spatial = (spatial[0],) * rank
        self.net = Net(spatial, self.draw(1, 16), [])
        x = Runner(self.net, mode="trial").input()
        self.net.items, y = self.sequence(x, Context(), self.draw(1, self.max_items),
                                          keep_refusal=True)
        if y is not None and self.chance(20):
            self.refusal(y)
        return self.net

    def refusal(self, x: Tensor) -> None:
        """A last item torch refuses, drawn with wilder sizes, if one turns up."""
        self.wild = True
        for _ in range(30):
            node = self.item(x, Context(), False)
            if self.trial(node, x, Context()) is None:
                self.net.items.append(node)
                break
        self.wild = False

    def item(self, x: Tensor, ctx: Context, preserve: bool) -> Node:
        flat = x.dim() == 2
        table = {"leaf": 60, "merge": 0 if flat else 14, "group": 4,
                 "call": 12 if ctx.depth < 2 else 0}
        what = weighted(self.ch, table)
        node: Node
        if what == "merge":
            node = self.merge(x, ctx)
        elif what == "group":
            inner = Context(ctx.env, ctx.roles, ctx.depth + 1)
            items, _ = self.sequence(x, inner, self.draw(1, 3), preserve)
            node = Group(items)
        elif what == "call":
            node = self.call(x, ctx)
        else:
            node = self.leaf(x, ctx, preserve)
        self.modifiers(node, ctx)
        return node

    def modifiers(self, node: Node, ctx: Context) -> None:
        if self.chance(10):
            n = ctx.roles.get("n")
            if n is not None and self.chance(60):
                node.repeat = Expr(pick(self.ch, [n, f"{n} - 1", f"max(0, {n} - 1)"]))
            else:
                node.repeat = self.draw(0, 3)
        if self.chance(8):
            node.cond = self.condition(ctx)

    def condition(self, ctx: Context) -> Any:
        options: list[Any] = [True, False]
        if "flag" in ctx.roles:
            options += [Expr(ctx.roles["flag"]), Expr(f"not {ctx.roles['flag']}")]
        if "width" in ctx.roles:
            c = ctx.roles["width"]
            options += [Expr(f"{c} != channels"), Expr(f"channels == {c}")]
        if "stride" in ctx.roles:
            s = ctx.roles["stride"]
            options.append(Expr(f"{s} == 1 and channels >= 4"))
        return pick(self.ch, options)

    # --- values inside blocks ---

    def width(self, ctx: Context, low: int = 1, high: int = 32) -> Any:
        """A number of filters or units: plain, or an expression of the block's width."""
        if ctx.in_block and self.chance(70):
            c = ctx.roles.get("width")
            for _ in range(3):
                template = pick(self.ch, WIDTHS)
                if "C" in template and c is None:
                    continue
                expr = Expr(template.replace("C", c or ""))
                try:
                    value = evaluate(expr, ctx.env)
                except Refused:
                    continue
                if isinstance(value, int) and not isinstance(value, bool) and \
                        low <= value <= 64:
                    return expr
        return self.draw(low, high)

    def arg(self, ctx: Context, role: str, plain: Any) -> Any:
        name = ctx.roles.get(role)
        if name is not None and self.chance(60):
            return Expr(name)
        return plain

    # --- layers ---

    def leaf(self, x: Tensor, ctx: Context, preserve: bool = False) -> Leaf:
        if x.dim() == 2 and not self.chance(5):
            table = {"fc": 30, "bn": 10, "act": 25, "dropout": 8, "layer-scale": 4,
                     "layernorm": 4, "flatten": 3}
        elif preserve:
            table = {"conv": 30, "depthwise": 8, "separable": 6, "bn": 10, "act": 12,
                     "pool": 6, "layernorm": 3, "layer-scale": 3, "lrn": 2, "shuffle": 4,
                     "dropout": 3}
        else:
            table = {"conv": 28, "depthwise": 6, "separable": 5, "deconv": 5, "pool": 12,
                     "global": 2, "adaptive": 2, "fc": 2, "flatten": 1, "bn": 8,
                     "layernorm": 2, "layer-scale": 2, "lrn": 2, "act": 9, "dropout": 3,
                     "upsample": 4, "shuffle": 3, "zeropad": 3}
        what = weighted(self.ch, table)
        leaf = getattr(self, "leaf_" + what.replace("-", "_"))(x, ctx, preserve)
        assert isinstance(leaf, Leaf)
        if self.chance(10) and leaf.kind in ALIASES and not leaf.short:
            leaf.alias = ALIASES[leaf.kind]
        return leaf

    def sizes(self, x: Tensor, top: int) -> Any:
        """A kernel size for every axis, or one per axis (``1x7`` or ``[1, 7]``)."""
        rank = x.dim() - 2
        if self.wild:
            top += 3
        small = max(1, min(top, min(x.shape[2:], default=1) + 2 * self.wild))
        if rank < 2 or self.chance(75):
            return self.draw(1, small)
        values = tuple(self.draw(1, max(1, min(top, s))) for s in x.shape[2:])
        return values if self.chance(50) else list(values)

    def pad(self, k: Any, x: Tensor, words: Sequence[str]) -> Any:
        rank = max(1, x.dim() - 2)
        ks = list(k) if isinstance(k, tuple | list) else [k] * rank
        ks = [v if isinstance(v, int) else 3 for v in ks]
        form = weighted(self.ch, {"none": 25, "int": 30, "axes": 8, "pairs": 12,
                                  **{w: 8 for w in words}})
        if form == "none":
            return None
        if form in words:
            return form
        if form == "int":
            return self.draw(0, max(ks) // 2 + (1 if self.chance(10) or self.wild else 0))
        if form == "axes":
            return tuple(self.draw(0, v // 2) for v in ks) if rank > 1 else self.draw(0, 2)
        return [[self.draw(0, v // 2 + 1), self.draw(0, v // 2 + 1)] for v in ks]

    def fields(self, **values: Any) -> dict[str, Any]:
        return {k: v for k, v in values.items() if v is not None}

    def conv_fields(self, x: Tensor, ctx: Context, preserve: bool,
                    words: Sequence[str] = ("same", "valid", "full")) -> dict[str, Any]:
        if preserve:
            k = self.arg(ctx, "k", pick(self.ch, [1, 3, 5]))
            half = Expr(f"{k.text} // 2") if isinstance(k, Expr) else k // 2
            return self.fields(k=k, pad="same" if self.chance(40) else half)
        k = self.arg(ctx, "k", self.sizes(x, 7))
        stride = self.arg(ctx, "stride", pick(self.ch, [None, 1, 1, 2, 2, 3]))
        dilation = pick(self.ch, [None] * 6 + [1, 2, 3])
        pad = self.pad(k, x, words)
        if isinstance(k, Expr) and self.chance(50):
            pad = Expr(f"{k.text} // 2")
        return self.fields(k=k, stride=stride, pad=pad, dilation=dilation)

    def finish(self, leaf: Leaf, act: bool = True) -> Leaf:
        if self.chance(25):
            leaf.fields["bias"] = False
        if act and self.chance(12):
            leaf.fields["act"] = pick(self.ch, ACTS)
        leaf.short = self.chance(50)
        return leaf

    def leaf_conv(self, x: Tensor, ctx: Context, preserve: bool) -> Leaf:
        channels = x.shape[1]
        f = self.conv_fields(x, ctx, preserve)
        filters = self.width(ctx)
        if self.chance(20):
            divisors = [g for g in range(2, channels + 1) if channels % g == 0]
            if divisors:
                groups = pick(self.ch, divisors)
                f["groups"] = groups
                filters = groups * self.draw(1, 4)
        return self.finish(Leaf("conv", {"filters": filters, **f}))

    def leaf_depthwise(self, x: Tensor, ctx: Context, preserve: bool) -> Leaf:
        f = self.conv_fields(x, ctx, preserve)
        if self.chance(20):
            f["multiplier"] = self.draw(2, 3)
        return self.finish(Leaf("depthwise", f))

    def leaf_separable(self, x: Tensor, ctx: Context, preserve: bool) -> Leaf:
        f = self.conv_fields(x, ctx, preserve)
        if self.chance(20):
            f["multiplier"] = self.draw(2, 3)
        return self.finish(Leaf("separable", {"filters": self.width(ctx), **f}))

    def leaf_deconv(self, x: Tensor, ctx: Context, preserve: bool) -> Leaf:
        f = self.conv_fields(x, ctx, False, ("valid",))
        if self.chance(3):
            f["pad"] = "same"  # refused by the language
        stride = f.get("stride", 1)
        top = max(stride if isinstance(stride, int) else 2, f.get("dilation", 1))
        if top > 1 and self.chance(40):
            f["output_padding"] = self.draw(0, top - 1 + (1 if self.chance(5) else 0))
        leaf = Leaf("conv-transpose", {"filters": self.width(ctx), **f})
        if self.chance(20):
            divisors = [g for g in range(2, x.shape[1] + 1) if x.shape[1] % g == 0]
            if divisors:
                leaf.fields["groups"] = g = pick(self.ch, divisors)
                leaf.fields["filters"] = g * self.draw(1, 3)
        return self.finish(leaf)

    def leaf_pool(self, x: Tensor, ctx: Context, preserve: bool) -> Leaf:
        kind = pick(self.ch, ["maxpool", "avgpool"])
        if preserve:
            return Leaf(kind, {"k": 3, "stride": 1, "pad": pick(self.ch, [1, "same"])},
                        short=self.chance(50))
        k = self.sizes(x, 4)
        f = self.fields(k=None if k == 2 and self.chance(30) else k,
                        stride=pick(self.ch, [None, None, 1, 2, 3]),
                        pad=self.pad(k, x, ("same", "valid", "full")))
        if kind == "maxpool" and self.chance(15):
            f["dilation"] = self.draw(1, 2)
        if self.chance(30):
            f["ceil"] = True
        return Leaf(kind, f, short=self.chance(50))

    def leaf_global(self, x: Tensor, ctx: Context, preserve: bool) -> Leaf:
        f = {"keepdims": False} if self.chance(30) else {}
        return Leaf(pick(self.ch, ["global-avgpool", "global-maxpool"]), f)

    def leaf_adaptive(self, x: Tensor, ctx: Context, preserve: bool) -> Leaf:
        return Leaf(pick(self.ch, ["adaptive-avgpool", "adaptive-maxpool"]),
                    {"out": self.sizes(x, 7)})

    def leaf_fc(self, x: Tensor, ctx: Context, preserve: bool) -> Leaf:
        leaf = Leaf("fc", {"units": self.width(ctx, 1, 64)})
        if self.chance(15):
            inputs = 1
            for v in x.shape[1:]:
                inputs *= v
            leaf.fields["inputs"] = inputs + (1 if self.chance(20) else 0)
        return self.finish(leaf)

    def leaf_flatten(self, x: Tensor, ctx: Context, preserve: bool) -> Leaf:
        return Leaf("flatten", {})

    def leaf_bn(self, x: Tensor, ctx: Context, preserve: bool) -> Leaf:
        return Leaf("bn", {"affine": False} if self.chance(15) else {})

    def leaf_layernorm(self, x: Tensor, ctx: Context, preserve: bool) -> Leaf:
        f: dict[str, Any] = {}
        if self.chance(20):
            f["affine"] = False
        if self.chance(20):
            f["bias"] = False
        return Leaf("layernorm", f)

    def leaf_layer_scale(self, x: Tensor, ctx: Context, preserve: bool) -> Leaf:
        return Leaf("layer-scale", {})

    def leaf_lrn(self, x: Tensor, ctx: Context, preserve: bool) -> Leaf:
        return Leaf("lrn", {"size": self.draw(1, 5)} if self.chance(50) else {})

    def leaf_act(self, x: Tensor, ctx: Context, preserve: bool) -> Leaf:
        name = ctx.roles.get("act")
        if name is not None and self.chance(50):
            return Leaf("$" + name, {})
        kind = pick(self.ch, ACTS)
        f: dict[str, Any] = {"slope": Fraction(1, 10)} if kind == "leaky-relu" and \
            self.chance(50) else {}
        return Leaf(kind, f)

    def leaf_dropout(self, x: Tensor, ctx: Context, preserve: bool) -> Leaf:
        kind = pick(self.ch, ["dropout", "identity", "stochastic-depth"])
        f: dict[str, Any] = {}
        if kind == "dropout" and self.chance(50):
            f["rate"] = Fraction(self.draw(0, 9), 10)
        if kind == "stochastic-depth" and self.chance(50):
            f = {"rate": Fraction(self.draw(0, 5), 10), "mode": pick(self.ch, ["row", "batch"])}
        return Leaf(kind, f)

    def leaf_upsample(self, x: Tensor, ctx: Context, preserve: bool) -> Leaf:
        rank = x.dim() - 2
        modes = {1: ["nearest", "linear"], 2: ["nearest", "bilinear", "bicubic"],
                 3: ["nearest", "trilinear"]}.get(rank, ["nearest"])
        if self.chance(8):
            modes = ["linear", "bilinear", "bicubic", "trilinear"]  # maybe the wrong rank
        f: dict[str, Any] = {}
        if self.chance(60):
            f["scale"] = self.sizes(x, 3) if self.chance(30) else self.draw(1, 3)
        if self.chance(70):
            f["mode"] = pick(self.ch, modes)
        return Leaf("upsample", f)

    def leaf_shuffle(self, x: Tensor, ctx: Context, preserve: bool) -> Leaf:
        channels = x.shape[1]
        divisors = [g for g in range(1, channels + 1) if channels % g == 0]
        groups = pick(self.ch, divisors) if not self.chance(10) else self.draw(1, 6)
        return Leaf("channel-shuffle", {"groups": groups})

    def leaf_zeropad(self, x: Tensor, ctx: Context, preserve: bool) -> Leaf:
        rank = max(1, x.dim() - 2)
        form = self.draw(0, 2)
        pad: Any = self.draw(0, 2) if form == 0 else \
            tuple(self.draw(0, 2) for _ in range(rank)) if form == 1 and rank > 1 else \
            [[self.draw(0, 2), self.draw(0, 2)] for _ in range(rank)]
        return Leaf("zeropad", {"pad": pad})

    # --- merges ---

    def merge(self, x: Tensor, ctx: Context) -> Merge:
        op = weighted(self.ch, {"add": 35, "concat": 25, "mul": 15, "split": 25})
        inner = Context(ctx.env, ctx.roles, ctx.depth + 1)
        if op == "split":
            return self.split(x, inner)
        if op == "mul" and self.chance(70):
            squeeze = Expr("squeeze") if "squeeze" in inner.roles and self.chance(70) else \
                self.width(inner, 1, 16)
            gate = pick(self.ch, ["sigmoid", "hard-sigmoid"])
            return Merge("mul", [[], [Leaf("global-avgpool", {}), Leaf("conv", {
                "filters": squeeze, "k": 1}, short=True), Leaf("relu", {}), Leaf("conv", {
                "filters": Expr("channels") if inner.in_block and self.chance(50) else
                x.shape[1], "k": 1}, short=True), Leaf(gate, {})]])
        first, y = self.sequence(x, inner, self.draw(0, 3), preserve=op != "add" or
                                 self.chance(60))
        branches = [first]
        for _ in range(self.draw(1, 2)):
            branches.append(self.matching(x, y, inner, op))
        merge = Merge(op, branches)
        for index, branch in enumerate(branches):
            if self.chance(20):  # one item with a condition: left out when false
                merge.branches[index] = [Group(branch, cond=self.condition(inner))]
                merge.bare.add(index)
        return merge

    def matching(self, x: Tensor, y: Tensor | None, ctx: Context, op: str) -> list[Node]:
        """A branch whose output fits the first branch's (``y``) for ``op``; after a few
        tries, whatever was drawn last (a refusal to compare)."""
        branch: list[Node] = []
        for _ in range(6):
            if op == "add" and y is not None and self.chance(50):
                branch = self.projection(x, y)
            else:
                branch, _ = self.sequence(x, ctx, self.draw(0, 2), preserve=True)
            z = self.trial(Group(branch), x, ctx)
            if y is None or z is None:
                continue
            fits = z.shape == y.shape if op in ("add", "mul") else \
                z.shape[2:] == y.shape[2:] and z.dim() == y.dim()
            if fits:
                return branch
        return branch

    def projection(self, x: Tensor, y: Tensor) -> list[Node]:
        """A 1x1 convolution to ``y``'s channels with the stride that may give its size."""
        if y.shape == x.shape:
            return []
        if y.dim() != x.dim() or y.dim() < 3:
            return [Leaf("conv", {"filters": y.shape[1], "k": 1})]
        stride = max(1, -(-x.shape[2] // y.shape[2]))
        return [Leaf("conv", self.fields(filters=y.shape[1], k=1,
                                         stride=stride if stride > 1 else None),
                     short=self.chance(50))]

    def split(self, x: Tensor, ctx: Context) -> Merge:
        channels = x.shape[1]
        count = self.draw(2, 3)
        parts: list[Any] | None = None
        if self.chance(50) or channels % count:
            cuts = sorted(self.draw(1, max(1, channels - 1)) for _ in range(count - 1))
            parts = [b - a for a, b in zip([0, *cuts], [*cuts, channels], strict=True)]
            if any(p <= 0 for p in parts) and not self.chance(10):
                count, parts = 2, [channels // 2, channels - channels // 2]
            if self.chance(5):
                parts[-1] += 1  # parts that do not add up
        branches: list[list[Node]] = []
        for _ in range(count):
            items, _y = self.sequence(x, ctx, self.draw(0, 2), preserve=True) \
                if self.chance(60) else ([], None)
            branches.append(items)
        return Merge("split", branches, parts)

    # --- blocks ---

    def call(self, x: Tensor, ctx: Context) -> Call:
        reusable = [b for b in self.net.blocks.values() if b.name not in self.building]
        if reusable and self.chance(40):
            block = pick(self.ch, reusable)
            return Call(block.name, self.call_args(block))
        block, given = self.block(x, ctx)
        return Call(block.name, given)

    def call_args(self, block: Block) -> dict[str, Any]:
        args: dict[str, Any] = {}
        for name, default in block.params:
            if default is REQUIRED or self.chance(50):
                args[name] = self.value_for(name)
        return args

    ROLE_OF: ClassVar[dict[str, str]] = {
        "c": "width", "out": "width", "mid": "width", "channels": "width", "s": "stride",
        "stride": "stride", "k": "k", "n": "n", "se": "flag", "flag": "flag", "act": "act"}

    def value_for(self, name: str) -> Any:
        role = self.ROLE_OF.get(name, "width")
        if role == "stride":
            return pick(self.ch, [1, 2])
        if role == "k":
            return pick(self.ch, [1, 3, 5])
        if role == "n":
            return self.draw(0, 3)
        if role == "flag":
            return self.chance(50)
        if role == "act":
            return pick(self.ch, ["relu", "hard-swish", "sigmoid", "relu6"])
        return self.draw(4, 32)

    def block(self, x: Tensor, ctx: Context) -> tuple[Block, dict[str, Any]]:
        """A new block, drawn for the input ``x``, and the arguments of its first call."""
        names = [pick(self.ch, ["c", "out", "mid", "channels"])]
        names += [extra for extra in ("s", "k", "n", "se", "act") if self.chance(30)]
        required = self.chance(30)
        values = {n: self.value_for(n) for n in names}
        params: list[tuple[str, Any]] = [(n, REQUIRED) for n in names] if required else \
            [(n, self.value_for(n)) for n in names]
        if not required and self.chance(15):
            params.append(("squeeze", Expr(f"make_divisible(channels // "
                                           f"{pick(self.ch, [2, 4])}, 8)")))
        given = {n: v for n, v in values.items() if required or self.chance(50)}
        name = f"blk{len(self.net.blocks) + 1}"
        block = Block(name, params, [])
        self.net.blocks[name] = block
        env = shape_env(x)
        for pname, default in params:
            value = given.get(pname, default)
            env[pname] = exact(evaluate(value, env) if isinstance(value, Expr) else value)
        roles = {self.ROLE_OF.get(n, "width"): n for n in names}
        if len(params) > len(names):
            roles["squeeze"] = "squeeze"
        inner = Context(env, roles, ctx.depth + 1)
        self.building.add(name)
        if self.chance(30):
            block.body = self.merge(x, inner)
        else:
            block.body, _ = self.sequence(x, inner, self.draw(1, 4), preserve=self.chance(40))
        self.building.discard(name)
        return block, given
