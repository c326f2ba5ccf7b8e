"""A model as the source of a self-contained, readable PyTorch module.

The generated file has one attribute per layer that has weights or state (named after the
spec's layer names, made into safe identifiers), a ``forward`` that mirrors the spec's
branches and merges, and a ``LAYERS`` table from attribute to spec name that ``verify``
uses. Nothing from the spec reaches the code except as an identifier made of
``[a-z0-9_]``, a number, or text inside a comment with its line breaks removed.
Where torch has no direct equivalent the code pads explicitly (TensorFlow's asymmetric
``same``) or carries a small helper module (``Local2d``); what cannot be expressed raises
:class:`ExportError`.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from convcalc.export_attention import HELPERS as ATTENTION_HELPERS
from convcalc.export_attention import Unexpressible
from convcalc.export_attention import statements as attention_statements
from convcalc.layers import NAME_OF
from convcalc.layers.base import Layer, explicit_pads, per_axis
from convcalc.layers.conv import Conv, ConvTranspose, Depthwise, Local, Separable
from convcalc.layers.dense import Dense, Flatten
from convcalc.layers.norm import LRN, BatchNorm, LayerNorm, LayerScale
from convcalc.layers.pool import (
    AdaptiveAvgPool,
    AdaptiveMaxPool,
    AvgPool,
    GlobalAvgPool,
    GlobalMaxPool,
    MaxPool,
)
from convcalc.layers.simple import (
    Activation,
    ChannelShuffle,
    Dropout,
    Identity,
    LeakyReLU,
    StochasticDepth,
    Upsample,
    ZeroPad,
)
from convcalc.model import Group, LayerNode, Merge, Model
from convcalc.model import Node as ModelNode
from convcalc.problem import Where
from convcalc.report import Report, Row
from convcalc.rules import Rules, rules_named


class ExportError(Exception):
    """The model has something the target cannot express; ``at`` says where."""

    def __init__(self, message: str, at: Where | None = None) -> None:
        super().__init__(message)
        self.message, self.at = message, at


_ACTIVATIONS: dict[str, str] = {
    "relu": "F.relu({x})", "relu6": "F.relu6({x})", "sigmoid": "torch.sigmoid({x})",
    "tanh": "torch.tanh({x})", "silu": "F.silu({x})",
    "hard-swish": "F.hardswish({x})", "hard-sigmoid": "F.hardsigmoid({x})",
    "gelu": "F.gelu({x})", "softmax": "F.softmax({x}, dim=1)",
    "leaky-relu": "F.leaky_relu({x})",
}


# What an attribute of the generated module must not be called: the names nn.Module
# defines (torch 2.14; tests/test_trust_torch.py derives them from torch to keep this complete),
# less those identifier() cannot produce (a leading or trailing "_", capitals), and the
# names the generated code itself uses.
RESERVED = frozenset((
    "add_module", "apply", "bfloat16", "buffers", "call_super_init", "children", "compile",
    "cpu", "cuda", "double", "dump_patches", "eval", "extra_repr", "float", "forward",
    "get_buffer", "get_extra_state", "get_parameter", "get_submodule", "half", "ipu",
    "load_state_dict", "modules", "mtia", "named_buffers", "named_children", "named_modules",
    "named_parameters", "parameters", "register_backward_hook", "register_buffer",
    "register_forward_hook", "register_forward_pre_hook", "register_full_backward_hook",
    "register_full_backward_pre_hook", "register_load_state_dict_post_hook",
    "register_load_state_dict_pre_hook", "register_module", "register_parameter",
    "register_state_dict_post_hook", "register_state_dict_pre_hook", "set_extra_state",
    "set_submodule", "share_memory", "state_dict", "to", "to_empty", "train", "training",
    "type", "xpu", "zero_grad", "self", "x", "torch", "nn", "layers",
))


def identifier(name: str, taken: set[str]) -> str:
    """A safe, unique Python identifier for a spec name (which may hold anything).

    Never a keyword, and never a name nn.Module has: a layer called ``modules``,
    ``training`` or ``to`` would replace what torch itself calls.
    """
    text = re.sub(r"[^0-9a-zA-Z]+", "_", name).strip("_").lower() or "layer"
    text = re.sub(r"[^0-9a-z_]", "", text)[:60] or "layer"
    if text[0].isdigit() or keyword.iskeyword(text) or text in RESERVED:
        text = f"l_{text}"
    unique, number = text, 2
    while unique in taken:
        unique, number = f"{text}_{number}", number + 1
    taken.add(unique)
    return unique


def comment(text: str) -> str:
    """Text safe inside a ``#`` comment: printable, one line, bounded."""
    return re.sub(r"[^\x20-\x7e]", " ", text)[:200]


def _pairs(pads: tuple[tuple[int, int], ...]) -> tuple[int, ...]:
    """F.pad's order: the last axis first, (before, after) each."""
    return tuple(v for pair in reversed(pads) for v in pair)


@dataclass
class _Writer:
    rows: Iterator[Row]
    rules: Rules
    init: list[str] = field(default_factory=list)
    body: list[str] = field(default_factory=list)
    layers: dict[str, str] = field(default_factory=dict)
    taken: set[str] = field(default_factory=set)
    helpers: set[str] = field(default_factory=set)  # helper modules the code needs
    branches: int = 0

    def module(self, row: Row, code: str) -> str:
        """Add ``self.<attr> = code`` and return ``self.<attr>``."""
        attr = identifier(row.name, self.taken)
        self.init.append(_fit(f"        self.{attr} = {code}", "            "))
        self.layers[attr] = row.name
        return f"self.{attr}"

    def line(self, text: str, indent: int = 2) -> None:
        self.body.append("    " * indent + text)

    def sequence(self, nodes: tuple[ModelNode, ...], x: str) -> None:
        for node in nodes:
            if isinstance(node, LayerNode):
                self.layer(node, next(self.rows), x)
            elif isinstance(node, Group):
                next(self.rows)
                self.line(f"# {comment(node.name)} ({comment(node.block)})")
                self.sequence(node.children, x)
            else:
                self.merge(node, x)

    def merge(self, node: Merge, x: str) -> None:
        row = next(self.rows)
        self.line(f"# {comment(row.name)}: {node.op} of {len(node.branches)} branches")
        outputs = [f"b{self.branches + number}" for number in range(1, len(node.branches) + 1)]
        self.branches += len(node.branches)
        if node.op == "split":  # each branch reads its part of the channels
            sizes = [part.channels for part in node.inputs(row.input_shape)]
            unpacked = ", ".join(outputs) + ("," if len(outputs) == 1 else "")
            self.line(f"{unpacked} = torch.split({x}, {sizes}, dim=1)")
        else:
            self.line(f"{' = '.join(outputs)} = {x}")
        for branch, var in zip(node.branches, outputs, strict=True):
            self.sequence(branch, var)
        joined = " + ".join(outputs) if node.op == "add" else " * ".join(outputs) \
            if node.op == "mul" else f"torch.cat([{', '.join(outputs)}], dim=1)"
        self.line(f"{x} = {joined}")

    def layer(self, node: LayerNode, row: Row, x: str) -> None:
        # The spec's meaning under its rules: Caffe's pooling becomes ceil mode, Darknet's
        # its explicit pads, Keras' transposed convolution its inferred output padding.
        sized = self.rules.adapt(node.layer, row.input_shape, refuse=False)
        try:
            for statement in self.statements(sized, row, x):
                self.line(f"{x} = {statement}")
        except ExportError as exc:
            raise ExportError(f"{row.name}: {exc.message}", node.at) from None
        act = getattr(node.layer, "act", None)
        if act:
            self.line(f"{x} = {_ACTIVATIONS[act].format(x=x)}")

    def statements(self, layer: Layer, row: Row, x: str) -> list[str]:
        """The expressions that compute the layer, each applied to ``x`` in turn."""
        try:
            tokens = attention_statements(layer, row, x, lambda code: self.module(row, code),
                                          self.helpers)
        except Unexpressible as exc:
            raise ExportError(str(exc)) from None
        if tokens is not None:
            return tokens
        ndim = len(row.input_shape.spatial)
        cin = row.input_shape.channels
        pads = tuple(size.pad for size in row.sizes)
        if isinstance(layer, Depthwise):
            layer = layer.conv(row.input_shape)
        if isinstance(layer, Conv):
            pre, padding = self.padding(pads, x)
            options = _options(stride=_size(layer.stride), padding=_size(padding),
                               dilation=_size(layer.dilation), groups=layer.groups,
                               bias=layer.bias)
            conv = self.module(row, f"nn.Conv{ndim}d({cin}, {layer.filters}, "
                                    f"{_size(per_axis(layer.k, ndim, 'k'))}{options})")
            return [*pre, f"{conv}({x})"]
        if isinstance(layer, Separable):
            pre, padding = self.padding(pads, x)
            middle = cin * layer.multiplier
            options = _options(stride=_size(layer.stride), padding=_size(padding),
                               dilation=_size(layer.dilation), groups=cin, bias=False)
            depthwise = self.module(row, f"nn.Conv{ndim}d({cin}, {middle}, "
                                         f"{_size(per_axis(layer.k, ndim, 'k'))}{options})")
            pointwise = self.module(row, f"nn.Conv{ndim}d({middle}, {layer.filters}, 1"
                                         f"{_options(bias=layer.bias)})")
            return [*pre, f"{depthwise}({x})", f"{pointwise}({x})"]
        if isinstance(layer, ConvTranspose):
            both = explicit_pads(layer.pad, ndim)
            if any(a != b for a, b in both):
                raise ExportError("torch's transposed convolutions take symmetric padding only")
            padding = tuple(a for a, _ in both)
            options = _options(stride=_size(layer.stride), padding=_size(padding),
                               output_padding=_size(layer.output_padding or (0,)),
                               groups=layer.groups, bias=layer.bias,
                               dilation=_size(layer.dilation))
            conv = self.module(row, f"nn.ConvTranspose{ndim}d({cin}, {layer.filters}, "
                                    f"{_size(per_axis(layer.k, ndim, 'k'))}{options})")
            return [f"{conv}({x})"]
        if isinstance(layer, Local):
            if ndim != 2:
                raise ExportError("locally connected layers export in 2-D only (torch's "
                                  "unfold is 2-D)")
            pre, padding = self.padding(pads, x)
            self.helpers.add("Local2d")
            local = self.module(row, f"Local2d({cin}, {layer.filters}, "
                                     f"{row.output_shape.spatial}, {per_axis(layer.k, ndim, 'k')}, "
                                     f"{per_axis(layer.stride, ndim, 'stride')}, {padding}, "
                                     f"bias={layer.bias})")
            return [*pre, f"{local}({x})"]
        if isinstance(layer, MaxPool | AvgPool):
            return self.pool(layer, row, x, pads, ndim)
        if isinstance(layer, GlobalAvgPool):
            kind = "Max" if isinstance(layer, GlobalMaxPool) else "Avg"
            pool = f"nn.Adaptive{kind}Pool{ndim}d(1)"
            module = pool if layer.keepdims else f"nn.Sequential({pool}, nn.Flatten())"
            return [f"{self.module(row, module)}({x})"]
        if isinstance(layer, AdaptiveAvgPool):
            kind = "Max" if isinstance(layer, AdaptiveMaxPool) else "Avg"
            pool = self.module(row, f"nn.Adaptive{kind}Pool{ndim}d({_size(layer.out)})")
            return [f"{pool}({x})"]
        if isinstance(layer, Dense):
            linear = self.module(row, f"nn.Linear({row.input_shape.size}, {layer.units}"
                                      f"{_options(bias=layer.bias)})")
            flatten = [f"torch.flatten({x}, 1)"] if ndim else []
            return [*flatten, f"{linear}({x})"]
        if isinstance(layer, Flatten):
            return [f"torch.flatten({x}, 1)"]
        if isinstance(layer, BatchNorm):
            norm = self.module(row, f"nn.BatchNorm{max(ndim, 1)}d({cin}, "
                                    f"affine={layer.affine})")
            return [f"{norm}({x})"]
        if isinstance(layer, LayerNorm):
            self.helpers.add("ChannelLayerNorm")
            options = _options(elementwise_affine=layer.affine, bias=layer.bias)
            return [f"{self.module(row, f'ChannelLayerNorm({cin}{options})')}({x})"]
        if isinstance(layer, LayerScale):
            self.helpers.add("LayerScale")
            return [f"{self.module(row, f'LayerScale({cin})')}({x})"]
        if isinstance(layer, LRN):
            norm = self.module(row, f"nn.LocalResponseNorm({layer.size}, alpha={layer.alpha!r}, "
                                    f"beta={layer.beta!r}, k={layer.k!r})")
            return [f"{norm}({x})"]
        if isinstance(layer, StochasticDepth):
            return []  # the identity at inference, as torchvision.ops.StochasticDepth in eval
        if isinstance(layer, Dropout):
            return [f"{self.module(row, f'nn.Dropout({layer.rate!r})')}({x})"]
        if isinstance(layer, LeakyReLU):
            return [f"F.leaky_relu({x}, {layer.slope!r})"]
        if isinstance(layer, Identity):
            return []
        if isinstance(layer, Activation):
            return [_ACTIVATIONS[NAME_OF[type(layer)]].format(x=x)]
        if isinstance(layer, Upsample):
            scale = _size(per_axis(layer.scale, ndim, "scale"))
            mode = {"linear": "linear", "bilinear": "bilinear", "trilinear": "trilinear",
                    "bicubic": "bicubic"}.get(layer.mode, "nearest")
            return [f"F.interpolate({x}, scale_factor={scale}, mode={mode!r})"]
        if isinstance(layer, ChannelShuffle):
            return [f"{self.module(row, f'nn.ChannelShuffle({layer.groups})')}({x})"]
        if isinstance(layer, ZeroPad):
            return [f"F.pad({x}, {_pairs(explicit_pads(layer.pad, ndim))})"]
        raise ExportError(f"no PyTorch equivalent for {type(layer).__name__}")

    def pool(self, layer: MaxPool | AvgPool, row: Row, x: str,
             pads: tuple[tuple[int, int], ...], ndim: int) -> list[str]:
        kind = "Max" if isinstance(layer, MaxPool) else "Avg"
        k = per_axis(layer.k, ndim, "k")
        stride = per_axis(layer.stride if layer.stride is not None else layer.k, ndim, "stride")
        # torch pools pad at most half the kernel, and symmetrically: pad by hand otherwise
        symmetric = all(a == b and a <= kk // 2 for (a, b), kk in zip(pads, k, strict=True))
        if not symmetric and layer.ceil:
            dilations = per_axis(layer.dilation, ndim, "dilation") if isinstance(layer, MaxPool) \
                else (1,) * ndim
            spans = tuple(d * (kk - 1) + 1 for kk, d in zip(k, dilations, strict=True))
            pads = _ceil_pads(pads, row, stride, spans)
        fill = "float('-inf')" if kind == "Max" else "0.0"
        pre = [] if symmetric else [f"F.pad({x}, {_pairs(pads)}, value={fill})"]
        padding = tuple(a for a, _ in pads) if symmetric else (0,) * ndim
        dilation = _size(layer.dilation) if isinstance(layer, MaxPool) else "1"
        # torch's default stride is the kernel size, so it is always written unless equal
        given = "" if stride == k else f", stride={_size(stride)}"
        options = given + _options(padding=_size(padding), dilation=dilation,
                                   ceil_mode=bool(layer.ceil))
        pool = self.module(row, f"nn.{kind}Pool{ndim}d({_size(k)}{options})")
        return [*pre, f"{pool}({x})"]

    @staticmethod
    def padding(pads: tuple[tuple[int, int], ...], x: str) -> tuple[list[str], tuple[int, ...]]:
        """Symmetric pads go to the layer; others become an explicit F.pad before it."""
        if all(a == b for a, b in pads):
            return [], tuple(a for a, _ in pads)
        return [f"F.pad({x}, {_pairs(pads)})"], (0,) * len(pads)


def _ceil_pads(pads: tuple[tuple[int, int], ...], row: Row, strides: tuple[int, ...],
               spans: tuple[int, ...]) -> tuple[tuple[int, int], ...]:
    """Pads to apply by hand before a ceil-mode pool, so that torch keeps convcalc's windows.

    Ceil mode drops a last window that would start in the right padding (torch's
    pooling_output_shape, ONNX's MaxPool). Padded by hand, that padding is input to torch,
    so its window would be kept: the right pad is cut to the end of the last window kept
    (or left whole where that window runs past it, as ceil mode lets it). A negative pad
    crops input that no window reads; where the windows end inside the left padding, all
    of the input goes and the padding is cut to their end.
    """
    cut = []
    for (left, right), size, i, stride, span in zip(pads, row.sizes, row.input_shape.spatial,
                                                    strides, spans, strict=True):
        end = (size.output - 1) * stride + span  # where the last window ends, padded
        cut.append((left, min(right, end - i - left)) if end > left else (end, -i))
    return tuple(cut)


_HELPERS = {
    "ChannelLayerNorm": '''class ChannelLayerNorm(nn.LayerNorm):
    """Layer norm over the channels at each position (torchvision's LayerNorm2d, any rank)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.movedim(1, -1)).movedim(-1, 1)


''',
    "LayerScale": '''class LayerScale(nn.Module):
    """A learnt multiplier per channel (as ConvNeXt's layer_scale)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale.view(-1, *([1] * (x.dim() - 2)))


''',
    "Local2d": '''class Local2d(nn.Module):
    """A locally connected layer: a convolution with its own weights at every position."""

    def __init__(self, in_channels: int, out_channels: int, out_size: tuple[int, int],
                 kernel: tuple[int, int], stride: tuple[int, int], padding: tuple[int, int],
                 bias: bool = True) -> None:
        super().__init__()
        self.kernel, self.stride, self.padding, self.out_size = kernel, stride, padding, out_size
        positions, reach = out_size[0] * out_size[1], in_channels * kernel[0] * kernel[1]
        self.weight = nn.Parameter(torch.empty(positions, reach, out_channels))
        self.bias = nn.Parameter(torch.empty(out_channels, positions)) if bias else None
        nn.init.normal_(self.weight, std=reach ** -0.5)
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        columns = F.unfold(x, self.kernel, stride=self.stride, padding=self.padding)
        out = torch.einsum("ncl,lco->nol", columns, self.weight)
        if self.bias is not None:
            out = out + self.bias
        return out.reshape(x.shape[0], -1, *self.out_size)


''',
}


def _fit(line: str, indent: str, width: int = 99) -> str:
    """Break a long ``self.x = nn.Y(...)`` line after the call's ``(``.

    Only module lines come here: their text before the ``(`` is an identifier and a torch
    name, never anything from the spec.
    """
    at = line.find("(")
    if len(line) <= width or at < 0:
        return line
    return line[:at + 1] + "\n" + indent + line[at + 1:]


def _entry(attr: str, name: str) -> str:
    """One ``LAYERS`` entry; the spec's name only ever appears as an escaped literal."""
    line = f"        {attr!r}: {name!r},"
    return line if len(line) <= 99 else f"        {attr!r}:\n            {name!r},"


def _size(values: tuple[int, ...]) -> str:
    """``3`` when every axis agrees, else ``(1, 7)``: as torch takes either."""
    return str(values[0]) if len(set(values)) == 1 else str(tuple(values))


def _options(**values: object) -> str:
    """``, stride=2, bias=False``: the keyword arguments that differ from torch's defaults."""
    defaults = {"stride": "1", "padding": "0", "dilation": "1", "groups": "1", "bias": "True",
                "output_padding": "0", "ceil_mode": "False", "elementwise_affine": "True"}
    shown = {k: str(v) for k, v in values.items() if str(v) != defaults.get(k)}
    return "".join(f", {key}={value}" for key, value in shown.items())


def to_pytorch(model: Model, report: Report, class_name: str = "Net") -> str:
    """The source of a module computing ``model``; ``report`` is its clean analysis."""
    writer = _Writer(iter(report.rows[1:]), rules_named(report.settings.rules))
    writer.sequence(model.layers, "x")
    shape = "x".join(map(str, report.input_shape.dims))
    header = [
        f"# {comment(model.name)}: generated by convcalc from {comment(model.path)}",
        f"# Source: {comment(model.source)}" if model.source else "# Source: not given",
        f"# Input {shape} (HxWxC in the spec; torch takes N, C, spatial); "
        f"{report.totals.params:,} parameters.",
        f"# Sizes as {report.settings.rules} computes them (convcalc.rules).",
        "from __future__ import annotations",
        "",
        *(["import math"] if "WindowAttention" in writer.helpers else []),
        "from typing import ClassVar",
        "",
        "import torch",
        "import torch.nn.functional as F",
        "from torch import nn",
        "",
        "",
        *({**_HELPERS, **ATTENTION_HELPERS}[name] for name in sorted(writer.helpers)),
        f"class {class_name}(nn.Module):",
        "    # attribute -> layer name in the spec",
        "    LAYERS: ClassVar[dict[str, str]] = {",
        *(_entry(attr, name) for attr, name in writer.layers.items()),
        "    }",
        "",
        "    def __init__(self) -> None:",
        "        super().__init__()",
        *(writer.init or ["        pass"]),
        "",
        "    def forward(self, x: torch.Tensor) -> torch.Tensor:",
        *writer.body,
        "        return x",
        "",
    ]
    return "\n".join(header)
