"""The oracle's torch side: a netspec description built and run in torch, layer by layer.

Built from the description itself, never from convcalc's model or export. What each
layer kind means in torch is written here once, from torch's (or TensorFlow's, Keras's,
ONNX's) own definitions, cited where the language chose a convention:

- ``pad: same`` is TensorFlow's: ``o = ceil(i/s)``, the total padding
  ``max((o − 1)s + k̂ − i, 0)`` split with the extra pixel after
  (https://www.tensorflow.org/api_docs/python/tf/nn#notes_on_padding_2); at stride 1 it is
  torch's own ``padding="same"`` (torch/nn/modules/conv.py, ``_ConvNd.__init__``).
- Asymmetric pads are ``F.pad`` before the layer (``-inf`` before a max pool); ceil mode
  with them follows torch's ``pooling_output_shape_pad_lr`` (ATen/native/Pool.h: one
  fewer window if the last one starts at or after ``i + pad_l``). A transposed convolution's
  pads crop its output (ONNX ConvTranspose: ``o = s(i − 1) + op + k̂ − pad_l − pad_r``).
- ``separable`` is Keras's SeparableConv: a depthwise convolution without bias, then a
  pointwise one with the layer's bias
  (keras.io/api/layers/convolution_layers/separable_convolution2d).
- ``layernorm`` is ConvNeXt's LayerNorm2d: ``nn.LayerNorm`` over the channels at each
  position (torchvision/models/convnext.py).

MACs are torch's FlopCounterMode halved: its conv formula (torch/utils/flop_counter.py,
``conv_flop_count``) is ``2·prod(out spatial)·C_out·C_in/g·prod(k)`` without bias, and for
a transposed convolution ``2·prod(in spatial)·C_in·C_out/g·prod(k)``; ``mm``/``addmm`` are
``2·m·n·k`` without the bias add. Halved, these are convcalc's documented MACs exactly.

Where the language is stricter than torch (``add`` does not broadcast; ``mul`` broadcasts
only a 1x1xC branch; equal ``split`` parts must divide the channels) the refusal says
``by="rule"`` and quotes the README.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from fractions import Fraction
from importlib import import_module
from typing import Any, TypeVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.flop_counter import FlopCounterMode

from tests.netspec import REQUIRED, Call, Expr, Group, Leaf, Merge, Net, Node

T = TypeVar("T")
SHAPE_NAMES = {1: ("length",), 2: ("height", "width"), 3: ("depth", "height", "width")}
WORDS = ("same", "valid", "full")
Pairs = list[tuple[int, int]]


class Refused(Exception):
    """The network stops here: torch raised (``by="torch"``), or a language rule says no."""

    def __init__(self, reason: str, by: str = "torch") -> None:
        super().__init__(reason)
        self.reason = reason
        self.by = by


@dataclass(frozen=True)
class Record:
    """One layer as torch ran it: output (C, *spatial), parameters, buffers, MACs."""

    kind: str
    shape: tuple[int, ...]
    params: int
    buffers: int
    macs: int


# --- expressions -----------------------------------------------------------------------

def make_divisible(value: Any, divisor: Any, min_value: Any = None) -> int:
    """torchvision's own ``_make_divisible`` (torchvision/models/_utils.py)."""
    # imported when used (torchvision is slow to import), untyped
    utils = import_module("torchvision.models._utils")
    return int(utils._make_divisible(value, divisor, min_value))


def stochastic_depth(rate: float, mode: str) -> nn.Module:
    module: nn.Module = import_module("torchvision.ops").StochasticDepth(rate, mode)
    return module


FUNCTIONS: dict[str, Any] = {
    "round": round, "floor": math.floor, "ceil": math.ceil, "int": int, "min": min,
    "max": max, "make_divisible": make_divisible, "true": True, "false": False,
    "_F": Fraction}
NUMBER = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)(?![\w.])")


def evaluate(expr: Expr, env: dict[str, Any]) -> Any:
    """Python's value of an expression, every number exact (``7 / 2`` is 7/2)."""
    text = NUMBER.sub(lambda m: f"_F('{m.group(1)}')", expr.text)
    try:
        value = eval(text, {"__builtins__": {}}, {**FUNCTIONS, **env})
    except ZeroDivisionError as exc:
        raise Refused(f"{expr.text}: {exc}", "rule") from exc
    return plain(value)


def plain(value: Any) -> Any:
    """Whole fractions become ints; everything else stays as it is."""
    if isinstance(value, Fraction) and value.denominator == 1:
        return int(value)
    return value


def resolve(value: Any, env: dict[str, Any]) -> Any:
    if isinstance(value, Expr):
        return evaluate(value, env)
    if isinstance(value, tuple | list):
        return type(value)(resolve(v, env) for v in value)
    return value


def exact(value: Any) -> Any:
    """A value as a block's argument: numbers become exact fractions."""
    if isinstance(value, int) and not isinstance(value, bool):
        return Fraction(value)
    return value


# --- sizes and pads --------------------------------------------------------------------

def per_axis(value: Any, rank: int, name: str) -> tuple[int, ...]:
    values = tuple(value) if isinstance(value, tuple | list) else (value,)
    if len(values) == 1:
        values *= rank
    if len(values) != rank:
        raise Refused(f"{name}: {len(values)} sizes for {rank} axes", "rule")
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int):
            raise Refused(f"{name}: {v!r} is not a whole number", "rule")
    return values


def pairs_of(pad: Any, rank: int) -> Pairs:
    """Explicit pads as (before, after) per axis."""
    if isinstance(pad, tuple | list) and pad and all(isinstance(p, list | tuple) for p in pad):
        if len(pad) != rank or any(len(p) != 2 for p in pad):
            raise Refused(f"pad: {pad!r} for {rank} axes", "rule")
        return [(int(b), int(a)) for b, a in pad]
    return [(p, p) for p in per_axis(pad, rank, "pad")]


def word_pads(word: str, sizes: tuple[int, ...], k: tuple[int, ...], s: tuple[int, ...],
              d: tuple[int, ...]) -> Pairs:
    """TensorFlow's ``same`` (extra pixel after) and ``full`` (k̂ − 1 each side)."""
    pairs: Pairs = []
    for i, kk, ss, dd in zip(sizes, k, s, d, strict=True):
        reach = dd * (kk - 1) + 1
        if word == "full":
            pairs.append((reach - 1, reach - 1))
        elif word == "valid":
            pairs.append((0, 0))
        else:
            total = max((-(-i // ss) - 1) * ss + reach - i, 0)
            pairs.append((total // 2, total - total // 2))
    return pairs


def torch_pad(x: Tensor, pairs: Pairs, value: float = 0.0) -> Tensor:
    flat = [p for pair in reversed(pairs) for p in pair]  # F.pad: last axis first
    return F.pad(x, flat, value=value) if any(flat) else x


def symmetric(pairs: Pairs) -> bool:
    return all(b == a for b, a in pairs)


# --- the layers ------------------------------------------------------------------------

ACTIVATIONS: dict[str, Callable[[dict[str, Any]], nn.Module]] = {
    "relu": lambda f: nn.ReLU(), "relu6": lambda f: nn.ReLU6(),
    "leaky-relu": lambda f: nn.LeakyReLU(float(f.get("slope", 0.01))),
    "sigmoid": lambda f: nn.Sigmoid(), "tanh": lambda f: nn.Tanh(), "silu": lambda f: nn.SiLU(),
    "hard-swish": lambda f: nn.Hardswish(), "hard-sigmoid": lambda f: nn.Hardsigmoid(),
    "gelu": lambda f: nn.GELU(), "softmax": lambda f: nn.Softmax(dim=1),
    "dropout": lambda f: nn.Dropout(float(f.get("rate", 0.5))),
    "identity": lambda f: nn.Identity(),
    "stochastic-depth": lambda f: stochastic_depth(float(f.get("rate", 0)),
                                                   str(f.get("mode", "row"))),
}
# By spatial rank. Typed Any: torch's stubs type each class's sizes for its own rank.
CONV: dict[int, Any] = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}
DECONV: dict[int, Any] = {1: nn.ConvTranspose1d, 2: nn.ConvTranspose2d, 3: nn.ConvTranspose3d}
MAXPOOL: dict[int, Any] = {1: nn.MaxPool1d, 2: nn.MaxPool2d, 3: nn.MaxPool3d}
AVGPOOL: dict[int, Any] = {1: nn.AvgPool1d, 2: nn.AvgPool2d, 3: nn.AvgPool3d}
ADAPTIVE_AVG: dict[int, Any] = {1: nn.AdaptiveAvgPool1d, 2: nn.AdaptiveAvgPool2d,
                                3: nn.AdaptiveAvgPool3d}
ADAPTIVE_MAX: dict[int, Any] = {1: nn.AdaptiveMaxPool1d, 2: nn.AdaptiveMaxPool2d,
                                3: nn.AdaptiveMaxPool3d}
BATCHNORM: dict[int, Any] = {0: nn.BatchNorm1d, 1: nn.BatchNorm1d, 2: nn.BatchNorm2d,
                             3: nn.BatchNorm3d}
# Kinds whose receptive field is not a window of the input: not compared by gradient.
NO_WINDOW = {"conv-transpose", "upsample", "adaptive-avgpool", "adaptive-maxpool"}


class LayerScale(nn.Module):
    """A learnt multiplier per channel (torchvision/models/convnext.py: layer_scale)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(channels))

    def forward(self, x: Tensor) -> Tensor:
        return x * self.scale.view(-1, *([1] * (x.dim() - 2)))


class ChannelsLastNorm(nn.Module):
    """LayerNorm over the channels at each position (ConvNeXt's LayerNorm2d)."""

    def __init__(self, channels: int, affine: bool, bias: bool) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(channels, elementwise_affine=affine, bias=bias)

    def forward(self, x: Tensor) -> Tensor:
        y: Tensor = self.norm(x.movedim(1, -1))
        return y.movedim(-1, 1)


def spatial_rank(x: Tensor, what: str) -> int:
    rank = x.dim() - 2
    if rank < 1:
        raise Refused(f"{what} needs spatial axes; the input is {tuple(x.shape)}")
    return rank


@dataclass
class Runner:
    """Runs a description in torch: ``mode`` measure (CPU, counting), trial (the meta
    device, no counting: the generator's look-ahead) or rf (CPU float32 with every weight
    1 and every pointwise non-linearity left out, for receptive fields by gradient)."""

    net: Net
    mode: str = "measure"
    records: list[Record] = field(default_factory=list)
    modules: nn.ModuleList = field(default_factory=nn.ModuleList)
    counter: FlopCounterMode | None = None
    windows_only: bool = True  # rf mode: every layer so far is a window of its input
    cut_gates: bool = False  # rf mode: no gradient through a mul's broadcast branch

    @property
    def device(self) -> str:
        # torch's meta kernels skip some checks that its CPU kernels make (a transposed
        # convolution's output_padding < max(stride, dilation)): the truth runs on the CPU
        return "meta" if self.mode == "trial" else "cpu"

    def input(self) -> Tensor:
        shape = (1, self.net.channels, *self.net.spatial)
        if self.mode == "rf":
            return torch.ones(shape, requires_grad=True)
        return torch.zeros(shape, device=self.device)

    def run(self) -> Tensor:
        x = self.input()
        if self.mode == "measure":
            self.counter = FlopCounterMode(display=False)
        with self.counter or nullcontext(), self.context():
            return self.items(self.net.items, x, {})

    def context(self) -> AbstractContextManager[Any]:
        return torch.no_grad() if self.mode != "rf" else nullcontext()

    def flops(self) -> int:
        return self.counter.get_total_flops() if self.counter is not None else 0

    # --- structure ---

    def items(self, nodes: list[Node], x: Tensor, env: dict[str, Any]) -> Tensor:
        for node in nodes:
            x = self.node(node, x, env)
        return x

    def node(self, node: Node, x: Tensor, env: dict[str, Any]) -> Tensor:
        if node.cond is not None:
            cond = resolve(node.cond, env)
            if not isinstance(cond, bool):
                raise Refused(f"condition {cond!r} is not true or false", "rule")
            if not cond:
                return x
        count = 1 if node.repeat is None else resolve(node.repeat, env)
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise Refused(f"repeat {count!r}", "rule")
        for _ in range(count):
            x = self.once(node, x, env)
        return x

    def once(self, node: Node, x: Tensor, env: dict[str, Any]) -> Tensor:
        if isinstance(node, Leaf):
            return self.leaf(node, x, env)
        if isinstance(node, Merge):
            return self.merge(node, x, env)
        if isinstance(node, Group):
            return self.items(node.items, x, env)
        return self.call(node, x, env)

    def call(self, node: Call, x: Tensor, env: dict[str, Any]) -> Tensor:
        block = self.net.blocks[node.block]
        inner = shape_env(x)
        for name, default in block.params:
            if name in node.args:
                inner[name] = exact(resolve(node.args[name], env))
            elif default is REQUIRED:
                raise Refused(f"{block.name}: missing argument {name}", "rule")
            else:
                inner[name] = exact(resolve(default, inner))
        if isinstance(block.body, Merge):
            return self.merge(block.body, x, inner)
        return self.items(block.body, x, inner)

    def merge(self, node: Merge, x: Tensor, env: dict[str, Any]) -> Tensor:
        if node.op == "split":
            return self.split(node, x, env)
        outs = [self.items(branch, x, env) for i, branch in enumerate(node.branches)
                if not self.left_out(node, i, env)]
        if len(outs) <= 1:  # one branch is written in place; none contributes nothing
            return outs[0] if outs else x
        if node.op == "concat":
            return guarded(lambda: torch.cat(outs, 1))
        if node.op == "add":
            if len({tuple(o.shape) for o in outs}) > 1:
                raise Refused(broadcast_refusal("add needs equal shapes (README, Merges)", outs),
                              by_rule(outs))
            return sum(outs[1:], outs[0])
        first = outs[0]
        for o in outs[1:]:
            if not mul_fits(first, o):
                raise Refused(broadcast_refusal("mul broadcasts a 1x1xC branch only (README, "
                                                "Merges)", [first, o]), by_rule([first, o]))
            first = self.gate(first, o) * self.gate(o, first)
        return first

    def gate(self, x: Tensor, other: Tensor) -> Tensor:
        """A factor of a mul; with ``cut_gates`` no gradient flows through a broadcast one
        (1x1xC against a larger one), so the field is the other branch's, as convcalc
        counts it."""
        if self.cut_gates and x.numel() < other.numel():
            return x.detach()
        return x

    def left_out(self, node: Merge, index: int, env: dict[str, Any]) -> bool:
        """A branch written as one item whose `if` is false is no branch at all (README,
        Conditions)."""
        branch = node.branches[index]
        if index not in node.bare or len(branch) != 1 or branch[0].cond is None:
            return False
        cond = resolve(branch[0].cond, env)
        if not isinstance(cond, bool):
            raise Refused(f"condition {cond!r} is not true or false", "rule")
        return not cond

    def split(self, node: Merge, x: Tensor, env: dict[str, Any]) -> Tensor:
        channels = x.shape[1]
        count = len(node.branches)
        if node.parts is None:
            if channels % count:
                raise Refused(f"{channels} channels do not split into {count} equal parts "
                              "(README, split)", "rule")
            sizes = [channels // count] * count
        else:
            sizes = [resolve(p, env) for p in node.parts]
            if len(sizes) != count:
                raise Refused(f"{len(sizes)} parts for {count} branches", "rule")
            if any(not isinstance(v, int) or v < 1 for v in sizes):
                # torch.split gives an empty tensor for a 0; the language wants channels
                raise Refused(f"parts {sizes}: each part is a positive channel count", "rule")
        chunks = guarded(lambda: torch.split(x, sizes, 1))
        outs = [self.items(branch, chunk, env) for branch, chunk in
                zip(node.branches, chunks, strict=True)]
        return guarded(lambda: torch.cat(outs, 1))

    # --- layers ---

    def leaf(self, leaf: Leaf, x: Tensor, env: dict[str, Any]) -> Tensor:
        fields = {key: resolve(value, env) for key, value in leaf.fields.items()}
        before, made = self.flops(), len(self.modules)
        kind = leaf.kind
        if kind.startswith("$"):  # a kind named by a block's argument (`- $act`)
            kind = str(env.get(kind[1:]))
        build = LAYERS.get(kind)
        if build is None:
            raise Refused(f"no torch layer for {kind}", "rule")
        with torch.device(self.device):  # weights made where they are used: meta is free
            try:
                y = guarded(lambda: build(self, fields, x))
            except Refused as exc:
                raise Refused(f"{kind}: {exc.reason}", exc.by) from exc
        if 0 in y.shape:  # torch returns an empty tensor where no window fits
            raise Refused(f"{leaf.kind}: empty output {tuple(y.shape)}")
        if self.mode == "measure":
            mine = list(self.modules)[made:]
            self.records.append(Record(
                kind, tuple(y.shape[1:]),
                sum(p.numel() for m in mine for p in m.parameters()),
                sum(b.numel() for m in mine for n, b in m.named_buffers()
                    if not n.endswith("num_batches_tracked")),
                (self.flops() - before) // 2))
        return y

    def module(self, module: nn.Module) -> Callable[[Tensor], Tensor]:
        """A new layer's module, kept for the totals, as a function; in rf mode every
        weight is 1."""
        module.eval()
        if self.mode == "rf":
            with torch.no_grad():
                for name, p in module.named_parameters():
                    p.fill_(0.0 if name.endswith("bias") else 1.0)
        self.modules.append(module)

        def apply(x: Tensor) -> Tensor:
            y: Tensor = module(x)
            return y
        return apply

    def activation(self, name: Any, fields: dict[str, Any], x: Tensor) -> Tensor:
        if name is None:
            return x
        make = ACTIVATIONS.get(str(name))
        if make is None:
            raise Refused(f"unknown activation {name!r}", "rule")
        module = make(fields)
        return x if self.mode == "rf" else self.module(module)(x)

    def conv(self, f: dict[str, Any], x: Tensor, groups: int, filters: int,
             bias: bool) -> Tensor:
        rank = spatial_rank(x, "convolution")
        k = per_axis(f["k"], rank, "k")
        s = per_axis(f.get("stride", 1), rank, "stride")
        d = per_axis(f.get("dilation", 1), rank, "dilation")
        pad = f.get("pad", 0)
        sizes = tuple(x.shape[2:])
        padding: Any
        if (pad == "same" and all(v == 1 for v in s)) or pad == "valid":
            padding = pad  # torch's own words
        else:
            pairs = word_pads(pad, sizes, k, s, d) if pad in WORDS else pairs_of(pad, rank)
            if symmetric(pairs):
                padding = tuple(b for b, _ in pairs)
            else:
                x, padding = torch_pad(x, pairs), 0
        conv = self.module(CONV[rank](x.shape[1], filters, k, s, padding, d, groups, bias))
        return conv(x)

    def deconv(self, f: dict[str, Any], x: Tensor) -> Tensor:
        rank = spatial_rank(x, "transposed convolution")
        k = per_axis(f["k"], rank, "k")
        s = per_axis(f.get("stride", 1), rank, "stride")
        d = per_axis(f.get("dilation", 1), rank, "dilation")
        out_pad = per_axis(f.get("output_padding", 0), rank, "output_padding")
        pad = f.get("pad", 0)
        if pad == "valid":
            pad = 0
        if isinstance(pad, str):
            raise Refused(f"transposed convolution with pad {pad!r} (README: same is refused, "
                          "give the pads)", "rule")
        pairs = pairs_of(pad, rank)
        padding = tuple(b for b, _ in pairs) if symmetric(pairs) else 0
        module = self.module(DECONV[rank](x.shape[1], f["filters"], k, s, padding, out_pad,
                                          f.get("groups", 1), f.get("bias", True), d))
        y = module(x)
        if not symmetric(pairs):  # pads crop a transposed convolution's output (ONNX)
            crop: tuple[Any, ...] = (..., *(slice(b, y.shape[2 + i] - a)
                                            for i, (b, a) in enumerate(pairs)))
            y = y[crop]
        return self.activation(f.get("act"), f, y)

    def pool(self, f: dict[str, Any], x: Tensor, kind: str) -> Tensor:
        rank = spatial_rank(x, "pooling")
        k = per_axis(f.get("k", 2), rank, "k")
        s = per_axis(f.get("stride", f.get("k", 2)), rank, "stride")
        d = per_axis(f.get("dilation", 1), rank, "dilation")
        ceil = bool(f.get("ceil", False))
        pad = f.get("pad", 0)
        pairs = word_pads(pad, tuple(x.shape[2:]), k, s, d) if pad in WORDS else \
            pairs_of(pad, rank)
        native = symmetric(pairs) and pad not in WORDS
        if kind == "maxpool":
            module = MAXPOOL[rank](k, s, tuple(b for b, _ in pairs) if native else 0, d,
                                   ceil_mode=ceil)
        else:
            if any(v != 1 for v in d):
                raise Refused("average pooling has no dilation", "rule")
            module = AVGPOOL[rank](k, s, tuple(b for b, _ in pairs) if native else 0,
                                   ceil_mode=ceil)
        pool = self.module(module)
        padded = x if native else torch_pad(x, pairs, -math.inf if kind == "maxpool" else 0.0)
        y = pool(padded.detach() if self.mode == "rf" else padded)
        if ceil and not native:
            keep: tuple[Any, ...] = (..., *(slice(0, ceil_size(i, kk, pair, st, dd)) for i, kk,
                                            pair, st, dd in zip(x.shape[2:], k, pairs, s, d,
                                                                strict=True)))
            y = y[keep]
        if self.mode == "rf":
            return window_sum(x, pairs, k, s, d, tuple(y.shape[2:]))
        return y


def ceil_size(i: int, k: int, pads: tuple[int, int], s: int, d: int) -> int:
    """torch's ``pooling_output_shape_pad_lr`` in ceil mode (ATen/native/Pool.h), word for
    word: the ceiling, then one fewer if the last window starts in the right padding."""
    before, after = pads
    size = (i + before + after - d * (k - 1) - 1 + s - 1) // s + 1
    if (size - 1) * s >= i + before:
        size -= 1
    return size


def window_sum(x: Tensor, pairs: Pairs, k: tuple[int, ...], s: tuple[int, ...],
               d: tuple[int, ...], out: tuple[int, ...]) -> Tensor:
    """The rf stand-in of a pooling: the sum over the same windows (a depthwise conv of
    ones), cut to the pooling's own output size, so its gradient reaches every position a
    window reads."""
    rank = len(k)
    padded = torch_pad(x, [(b, a + st * 2) for (b, a), st in zip(pairs, s, strict=True)])
    weight = torch.ones((x.shape[1], 1, *k), dtype=x.dtype)
    conv = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[rank]
    y = conv(padded, weight, None, s, 0, d, x.shape[1])
    index: tuple[Any, ...] = (..., *(slice(0, n) for n in out))
    return y[index]


def guarded(make: Callable[[], T]) -> T:
    """``make()``, with torch's refusals as :class:`Refused`."""
    try:
        return make()
    except Refused:
        raise
    except (RuntimeError, ValueError, TypeError, IndexError, ZeroDivisionError) as exc:
        raise Refused(f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}") from exc


def by_rule(outs: list[Tensor]) -> str:
    """``rule`` where torch would broadcast the shapes, ``torch`` where it cannot either."""
    shapes = [tuple(o.shape) for o in outs]
    if len({len(shape) for shape in shapes}) > 1:
        return "rule" if all(len(s) == 4 for s in shapes) else "torch"
    for sizes in zip(*shapes, strict=True):
        if len(set(sizes) - {1}) > 1:
            return "torch"
    return "rule"


def broadcast_refusal(rule: str, outs: list[Tensor]) -> str:
    return f"{rule}: {' vs '.join(str(tuple(o.shape)) for o in outs)}"


def mul_fits(a: Tensor, b: Tensor) -> bool:
    if a.shape == b.shape:
        return True
    small, big = (a, b) if a.numel() < b.numel() else (b, a)
    return (small.dim() == big.dim() and small.shape[1] == big.shape[1] and
            all(v == 1 for v in small.shape[2:]))


def shape_env(x: Tensor) -> dict[str, Any]:
    env: dict[str, Any] = {"channels": Fraction(x.shape[1])}
    for name, size in zip(SHAPE_NAMES.get(x.dim() - 2, ()), x.shape[2:], strict=False):
        env[name] = Fraction(size)
    return env


# One function per kind: (runner, resolved fields, input) -> output.
def _conv(r: Runner, f: dict[str, Any], x: Tensor) -> Tensor:
    y = r.conv(f, x, f.get("groups", 1), f["filters"], f.get("bias", True))
    return r.activation(f.get("act"), f, y)


def _depthwise(r: Runner, f: dict[str, Any], x: Tensor) -> Tensor:
    y = r.conv(f, x, x.shape[1], x.shape[1] * f.get("multiplier", 1), f.get("bias", True))
    return r.activation(f.get("act"), f, y)


def _separable(r: Runner, f: dict[str, Any], x: Tensor) -> Tensor:
    y = r.conv(f, x, x.shape[1], x.shape[1] * f.get("multiplier", 1), False)
    point = {"k": 1}
    y = r.conv(point, y, 1, f["filters"], f.get("bias", True))
    return r.activation(f.get("act"), f, y)


def _global(kind: dict[int, Any]) -> Callable[[Runner, dict[str, Any], Tensor], Tensor]:
    def run(r: Runner, f: dict[str, Any], x: Tensor) -> Tensor:
        rank = spatial_rank(x, "global pooling")
        pool = kind if r.mode != "rf" else ADAPTIVE_AVG  # max's gradient reaches one input
        y = r.module(pool[rank](1))(x)
        return y if f.get("keepdims", True) else y.flatten(1)
    return run


def _adaptive(kind: dict[int, Any]) -> Callable[[Runner, dict[str, Any], Tensor], Tensor]:
    def run(r: Runner, f: dict[str, Any], x: Tensor) -> Tensor:
        rank = spatial_rank(x, "adaptive pooling")
        r.windows_only = False
        return r.module(kind[rank](per_axis(f["out"], rank, "out")))(x)
    return run


def _fc(r: Runner, f: dict[str, Any], x: Tensor) -> Tensor:
    flat = x.flatten(1)
    linear = r.module(nn.Linear(f.get("inputs", flat.shape[1]), f["units"], f.get("bias", True)))
    return r.activation(f.get("act"), f, linear(flat))


def _bn(r: Runner, f: dict[str, Any], x: Tensor) -> Tensor:
    norm = BATCHNORM.get(x.dim() - 2)
    if norm is None:
        raise Refused(f"no batch norm for {tuple(x.shape)}")
    return r.module(norm(x.shape[1], affine=f.get("affine", True)))(x)


def _layernorm(r: Runner, f: dict[str, Any], x: Tensor) -> Tensor:
    norm = r.module(ChannelsLastNorm(x.shape[1], f.get("affine", True), f.get("bias", True)))
    return x if r.mode == "rf" else norm(x)  # its gradient summed over channels is 0


def _lrn(r: Runner, f: dict[str, Any], x: Tensor) -> Tensor:
    lrn = r.module(nn.LocalResponseNorm(f.get("size", 5), float(f.get("alpha", 1e-4)),
                                        float(f.get("beta", 0.75)), float(f.get("k", 1.0))))
    y = lrn(x)
    return x if r.mode == "rf" else y


def _layer_scale(r: Runner, f: dict[str, Any], x: Tensor) -> Tensor:
    return r.module(LayerScale(x.shape[1]))(x)


def _upsample(r: Runner, f: dict[str, Any], x: Tensor) -> Tensor:
    rank = spatial_rank(x, "upsampling")
    r.windows_only = False
    scale = tuple(float(v) for v in per_axis(f.get("scale", 2), rank, "scale"))
    return r.module(nn.Upsample(scale_factor=scale, mode=str(f.get("mode", "nearest"))))(x)


def _zeropad(r: Runner, f: dict[str, Any], x: Tensor) -> Tensor:
    rank = spatial_rank(x, "padding")
    if isinstance(f["pad"], str):
        raise Refused("zeropad takes sizes", "rule")
    return torch_pad(x, pairs_of(f["pad"], rank))


def _simple(kind: str) -> Callable[[Runner, dict[str, Any], Tensor], Tensor]:
    def run(r: Runner, f: dict[str, Any], x: Tensor) -> Tensor:
        module = r.module(ACTIVATIONS[kind](f))
        y = module(x)
        return x if r.mode == "rf" else y
    return run


def _deconv(r: Runner, f: dict[str, Any], x: Tensor) -> Tensor:
    r.windows_only = False
    return r.deconv(f, x)


LAYERS: dict[str, Callable[[Runner, dict[str, Any], Tensor], Tensor]] = {
    "conv": _conv, "depthwise": _depthwise, "separable": _separable,
    "conv-transpose": _deconv,
    "maxpool": lambda r, f, x: r.pool(f, x, "maxpool"),
    "avgpool": lambda r, f, x: r.pool(f, x, "avgpool"),
    "global-avgpool": _global(ADAPTIVE_AVG), "global-maxpool": _global(ADAPTIVE_MAX),
    "adaptive-avgpool": _adaptive(ADAPTIVE_AVG), "adaptive-maxpool": _adaptive(ADAPTIVE_MAX),
    "fc": _fc, "flatten": lambda r, f, x: x.flatten(1), "bn": _bn, "layernorm": _layernorm,
    "lrn": _lrn, "layer-scale": _layer_scale, "upsample": _upsample,
    "channel-shuffle": lambda r, f, x: r.module(nn.ChannelShuffle(f["groups"]))(x),
    "zeropad": _zeropad,
    **{kind: _simple(kind) for kind in ACTIVATIONS},
}


# --- the whole network -----------------------------------------------------------------

@dataclass
class Truth:
    """torch's account of a network: each layer, the totals, or where it refused."""

    records: list[Record]
    refused: Refused | None
    params: int = 0
    buffers: int = 0
    macs: int = 0
    output: tuple[int, ...] = ()


def measure(net: Net) -> Truth:
    runner = Runner(net)
    try:
        y = runner.run()
    except Refused as exc:
        return Truth(runner.records, exc)
    params = {id(p): p.numel() for p in runner.modules.parameters()}
    buffers = {id(b): b.numel() for n, b in runner.modules.named_buffers()
               if not n.endswith("num_batches_tracked")}
    flops = runner.flops()
    assert flops % 2 == 0, flops
    return Truth(runner.records, None, sum(params.values()), sum(buffers.values()),
                 flops // 2, tuple(y.shape[1:]))


@dataclass(frozen=True)
class Extent:
    """Per axis, the first and last input position one output position depends on."""

    position: tuple[int, ...]
    spans: tuple[tuple[int, int], ...] | None  # None: the output reads only padding


def extents(net: Net, positions: int = 3,
            cut_gates: bool = False) -> tuple[tuple[int, ...], list[Extent]] | None:
    """Receptive fields by gradient: for the first, middle and last output positions, the
    span of input positions whose gradient is not zero. None where a layer is not a window
    of its input (transposed convolution, upsampling, adaptive pooling) or the output has
    no spatial axes. ``cut_gates``: not through squeeze-and-excitation gates."""
    runner = Runner(net, mode="rf", cut_gates=cut_gates)
    x = runner.input()
    y = runner.items(net.items, x, {})
    if not runner.windows_only or y.dim() < 3 or not y.requires_grad:
        return None
    out = tuple(y.shape[2:])
    found = []
    for choice in list(picks(out))[:positions]:
        index: tuple[Any, ...] = (0, slice(None), *choice)
        (grad,) = torch.autograd.grad(y[index].sum(), x, retain_graph=True)
        nonzero = grad[0].abs().sum(0).nonzero()
        spans = None if nonzero.numel() == 0 else \
            tuple((int(nonzero[:, a].min()), int(nonzero[:, a].max()))
                  for a in range(nonzero.shape[1]))
        found.append(Extent(choice, spans))
    return out, found


def picks(out: tuple[int, ...]) -> Iterator[tuple[int, ...]]:
    yield tuple(0 for _ in out)
    yield tuple(o // 2 for o in out)
    yield tuple(o - 1 for o in out)
