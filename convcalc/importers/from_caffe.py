"""A Caffe ``deploy.prototxt`` as an op graph: a small reader of protobuf's text format,
no Caffe and no protobuf needed.

The net's input comes from ``input`` with ``input_shape { dim: … }`` or four ``input_dim``
numbers, or from an ``Input`` layer; layers (``layer``, or the old ``layers`` with upper-case
types) are read in order, blobs by name, in-place layers (a ReLU whose top is its bottom)
included. The spec comes out under Caffe's size rules (``rules: caffe``): its pooling
rounds up unless ``round_mode: FLOOR``. A prototxt holds no weights, so the counts are
convcalc's, from each layer's settings; BatchNorm's third blob (its scale factor, one
number) is not among them.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable
from typing import Any

from convcalc.importers import layers
from convcalc.importers import layout as layouts
from convcalc.importers.graph import (
    Builder,
    Graph,
    ImportFailure,
    Totals,
    Unsupported,
    regular_size,
)
from convcalc.layers.base import Layer
from convcalc.layers.merge import MERGES
from convcalc.problem import ERROR, LayerError, Problem
from convcalc.rules import CAFFE
from convcalc.shape import Shape

MAX_BYTES = 16 * 2**20  # a net description, not weights
MAX_DEPTH = 32
MAX_LAYERS = 100_000

Message = dict[str, list[Any]]  # every field repeated: a value is a scalar or a Message


# --- protobuf's text format -----------------------------------------------------------------

_TOKEN = re.compile(r"""\s+|\#[^\n]*|(?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')"""
                    r"""|(?P<word>[A-Za-z_][\w.]*)|(?P<number>[-+]?(?:\d+\.?\d*|\.\d+)"""
                    r"""(?:[eE][-+]?\d+)?)|(?P<punct>[{}:<>\[\],;])""")


def parse(text: str, path: str = "<text>") -> Message:
    """A text-format message as nested dicts of lists (every field may repeat).

    Scalars are ints, floats, strings, or enum words (kept as ``str``). Bounded in nesting.
    """
    tokens = _tokens(text, path)
    message, end = _message(tokens, 0, path, 0)
    if end != len(tokens):
        raise ImportFailure(f"{path}: an unexpected {tokens[end][1]!r} at the top level")
    return message


def _tokens(text: str, path: str) -> list[tuple[str, str]]:
    found, at = [], 0
    while at < len(text):
        match = _TOKEN.match(text, at)
        if match is None:
            line = text.count("\n", 0, at) + 1
            raise ImportFailure(f"{path}:{line}: protobuf text cannot hold "
                                f"{text[at:at + 10]!r}")
        if match.lastgroup:
            found.append((match.lastgroup, match.group(match.lastgroup)))
        at = match.end()
    return found


def _message(tokens: list[tuple[str, str]], at: int, path: str, depth: int
             ) -> tuple[Message, int]:
    if depth > MAX_DEPTH:
        raise ImportFailure(f"{path}: messages nested more than {MAX_DEPTH} deep")
    message: Message = {}
    while at < len(tokens) and tokens[at][1] not in ("}", ">"):
        kind, name = tokens[at]
        if kind != "word":
            raise ImportFailure(f"{path}: a field name expected, not {name!r}")
        at += 1
        if at < len(tokens) and tokens[at][1] == ":":
            at += 1
        if at >= len(tokens):
            raise ImportFailure(f"{path}: the text ends in field {name!r}")
        if tokens[at][1] in ("{", "<"):
            value, at = _message(tokens, at + 1, path, depth + 1)
            if at >= len(tokens):
                raise ImportFailure(f"{path}: field {name!r} is never closed")
            at += 1
            message.setdefault(name, []).append(value)
        elif tokens[at][1] == "[":  # a list of scalars: dim: [1, 3, 224, 224]
            at += 1
            while at < len(tokens) and tokens[at][1] != "]":
                if tokens[at][1] != ",":
                    message.setdefault(name, []).append(_scalar(tokens[at]))
                at += 1
            at += 1
        else:
            message.setdefault(name, []).append(_scalar(tokens[at]))
            at += 1
        if at < len(tokens) and tokens[at][1] in (",", ";"):
            at += 1
    return message, at


def _scalar(token: tuple[str, str]) -> Any:
    kind, text = token
    if kind == "string":
        return re.sub(r"\\(.)", r"\1", text[1:-1])
    if kind == "number":
        return int(text) if re.fullmatch(r"[-+]?\d+", text) else float(text)
    if kind == "word":
        return {"true": True, "false": False}.get(text, text)
    raise ImportFailure(f"a value expected, not {text!r}")


# --- the net ---------------------------------------------------------------------------------

# The old `layers` format's enum types, as the new format names them.
V1_TYPES = {"CONVOLUTION": "Convolution", "POOLING": "Pooling", "INNER_PRODUCT": "InnerProduct",
            "LRN": "LRN", "RELU": "ReLU", "CONCAT": "Concat", "ELTWISE": "Eltwise",
            "DROPOUT": "Dropout", "SOFTMAX": "Softmax", "DECONVOLUTION": "Deconvolution",
            "SIGMOID": "Sigmoid", "TANH": "TanH", "SPLIT": "Split", "FLATTEN": "Flatten"}


def read(path: str, input_shape: Shape | None) -> Graph:
    """The graph of a deploy prototxt at its declared input (or ``input_shape``)."""
    regular_size(path, MAX_BYTES, "a net description")
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read(MAX_BYTES + 1)
        if len(text) > MAX_BYTES:
            raise ImportFailure(f"{path}: over {MAX_BYTES:,} characters, not a net description")
    except (OSError, UnicodeDecodeError) as exc:
        raise ImportFailure(f"{path}: cannot be read ({exc})") from None
    return _Reader(path, parse(text, path), input_shape).read()


def _one(message: Message, field: str, default: Any = None) -> Any:
    values = message.get(field)
    return values[-1] if values else default


def _sizes(param: Message, field: str, default: int | None = None) -> tuple[int, ...] | None:
    """``kernel_size: 3`` (repeated per axis in N-d Caffe), or its ``_h``/``_w`` form."""
    h, w = _one(param, f"{field}_h"), _one(param, f"{field}_w")
    if h is not None or w is not None:
        return (int(h if h is not None else default or 0), int(w if w is not None else
                                                              default or 0))
    values = param.get(field) or param.get(f"{field}_size" if field == "kernel" else field)
    if values:
        return tuple(int(v) for v in values)
    return None if default is None else (default,)


class _Reader:
    def __init__(self, path: str, net: Message, input_shape: Shape | None) -> None:
        self.path, self.net, self.input_shape = path, net, input_shape
        self.b = Builder(str(_one(net, "name") or os.path.basename(path)), path)
        self.b.graph.rules = "caffe"  # its layers are sized by Caffe's rules
        self.blobs: dict[str, int | None] = {}  # None: after a layer convcalc cannot read
        self.params = self.buffers = self.macs = 0
        self.last: int | None = -1
        self.failed: list[Problem] = []

    def read(self) -> Graph:
        entries = self.net.get("layer") or self.net.get("layers") or []
        if len(entries) > MAX_LAYERS:
            raise ImportFailure(f"{self.path}: more than {MAX_LAYERS:,} layers")
        self.declared_input()
        for entry in entries:
            if not isinstance(entry, dict):
                raise ImportFailure(f"{self.path}: a layer that is not a message")
            self.layer(entry)
        if self.b.graph.input < 0:
            raise ImportFailure(f"{self.path}: no input (input_shape, input_dim or an Input "
                                "layer)")
        if self.failed or self.last is None:
            raise ImportFailure(f"{len(self.failed)} layer(s) convcalc cannot express",
                                tuple(self.failed))
        graph = self.b.graph
        graph.output = self.last
        graph.source = f"{os.path.basename(self.path)} (a Caffe net description)"
        graph.notes.append("a prototxt holds no weights: params, buffers and MACs are "
                           "convcalc's counts from each layer's settings")
        graph.totals = Totals(self.params, self.buffers, self.macs, self.b.shape(self.last),
                              "convcalc's count from the layers' settings")
        return graph

    def declared_input(self) -> None:
        """``input: "data"`` with ``input_shape { dim: … }`` or four ``input_dim``."""
        names = self.net.get("input") or []
        if not names:
            return
        shapes = self.net.get("input_shape") or []
        dims = [list(shape.get("dim", [])) for shape in shapes if isinstance(shape, dict)]
        if not dims:
            flat = list(self.net.get("input_dim") or [])
            dims = [flat[i:i + 4] for i in range(0, len(flat), 4)]
        if len(names) != 1 or len(dims) != 1:
            raise ImportFailure(f"{self.path}: {len(names)} inputs; convcalc models have one")
        self.start(str(names[0]), dims[0])

    def start(self, name: str, dims: list[Any]) -> None:
        if self.b.graph.input >= 0:
            raise ImportFailure(f"{self.path}: more than one input; convcalc models have one")
        if self.input_shape is not None:
            dims = [1, self.input_shape.channels, *self.input_shape.spatial]
        if len(dims) < 2 or any(not isinstance(d, int) or d < 1 for d in dims):
            raise ImportFailure(f"{self.path}: the input's shape {dims} is not a fixed N, C, "
                                "spatial shape")
        try:
            self.blobs[name] = self.last = self.b.input((1, *dims[1:]))
        except Unsupported as exc:
            raise ImportFailure(f"{self.path}: {exc}") from None

    # --- one layer ---------------------------------------------------------------------------

    def layer(self, entry: Message) -> None:
        kind = str(_one(entry, "type", ""))
        kind = V1_TYPES.get(kind, kind)
        name = str(_one(entry, "name", kind.lower()))
        bottoms = [str(b) for b in entry.get("bottom", [])]
        tops = [str(t) for t in entry.get("top", [])]
        if _one(entry, "include") is not None or _one(entry, "exclude") is not None:
            phase = _one(_one(entry, "include") or {}, "phase")
            if phase == "TRAIN":
                return  # a training-only layer (a data layer, a loss): not in the deploy net
        if kind == "Input":
            shape = _one(_one(entry, "input_param") or {}, "shape") or {}
            self.start(tops[0] if tops else name, list(shape.get("dim", [])))
            return
        missing = [b for b in bottoms if b not in self.blobs]
        if missing or not bottoms:
            raise ImportFailure(f"{self.path}: {name} reads {missing or 'no blob'}, which no "
                                "earlier layer writes")
        read = tuple(self.blobs[b] for b in bottoms)
        inputs = tuple(x for x in read if x is not None)
        out: int | None = None
        if kind == "Split" or len(inputs) != len(read):  # a fan-out, or already reported
            out = read[0] if kind == "Split" and len(inputs) == len(read) else None
        else:
            out = self.run(name, kind, entry, inputs)
        for top in tops or [name]:
            self.blobs[top] = out
        self.last = out

    def run(self, name: str, kind: str, entry: Message, inputs: tuple[int, ...]) -> int | None:
        """The layer's output tensor, or None (and a problem) when convcalc cannot read it."""
        try:
            handler = HANDLERS.get(kind)
            if handler is None:
                raise Unsupported("convcalc has no layer for this Caffe layer type")
            return handler(self, name, kind, entry, inputs)
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            reason = f"a setting is missing or malformed ({type(exc).__name__})"
        except Unsupported as exc:
            reason = str(exc)
        self.failed.append(Problem(self.path, 0, 0, ERROR, "unsupported-op",
                                   f"{name} ({kind}): {reason}"))
        return None

    def emit(self, name: str, origin: str, kind: str, layer: Layer, x: int) -> int:
        """A convcalc layer reading ``x``, sized by Caffe's rules; its counts are added up."""
        shape = self.b.shape(x)
        try:
            effect = CAFFE.adapt(layer, shape).apply(shape)
        except LayerError as exc:
            raise Unsupported(exc.message) from None
        out = effect.output
        dims = (1, out.channels, *out.spatial) if out.spatial else (1, out.channels)
        self.params, self.buffers = self.params + effect.params, self.buffers + effect.buffers
        self.macs += effect.macs
        form = layouts.FIRST if out.spatial else layouts.FLAT
        return self.b.layer(name, origin, kind, layer, x, dims, params=effect.params,
                            buffers=effect.buffers, form=form)


# --- the layers, by Caffe type ----------------------------------------------------------------

Handler = Callable[[_Reader, str, str, Message, tuple[int, ...]], int]


def _window(param: Message, ndim: int, stride_default: int = 1) -> dict[str, Any]:
    kernel = _sizes(param, "kernel")
    if kernel is None:
        raise Unsupported("no kernel size")
    stride = _sizes(param, "stride", stride_default) or (stride_default,)
    pad = _sizes(param, "pad", 0) or (0,)
    return {"k": layers.uniform(kernel), "stride": layers.uniform(stride),
            "pad": layers.pads(tuple((p, p) for p in pad))}


def convolution(r: _Reader, name: str, kind: str, entry: Message, xs: tuple[int, ...]) -> int:
    param = _one(entry, "convolution_param") or {}
    window = _window(param, len(r.b.shape(xs[0]).spatial))
    dilation = layers.uniform(tuple(int(d) for d in param.get("dilation", [1])))
    bias = bool(_one(param, "bias_term", True))
    filters, groups = int(_one(param, "num_output")), int(_one(param, "group", 1))
    if kind == "Deconvolution":
        layer = layers.make("conv-transpose", filters=filters, groups=groups, bias=bias,
                            dilation=dilation, **window)
        return r.emit(name, kind, "conv-transpose", layer, xs[0])
    layer = layers.make("conv", filters=filters, groups=groups, bias=bias, dilation=dilation,
                        **window)
    return r.emit(name, kind, "conv", layer, xs[0])


def pooling(r: _Reader, name: str, kind: str, entry: Message, xs: tuple[int, ...]) -> int:
    param = _one(entry, "pooling_param") or {}
    method = _one(param, "pool", "MAX")
    if method not in ("MAX", "AVE"):
        raise Unsupported(f"{method} pooling")
    pool_kind = "maxpool" if method == "MAX" else "avgpool"
    if _one(param, "global_pooling", False):
        return r.emit(name, kind, f"global-{pool_kind}", layers.make(f"global-{pool_kind}"),
                      xs[0])
    fields = _window(param, len(r.b.shape(xs[0]).spatial))  # Caffe's stride defaults to 1
    round_mode = _one(param, "round_mode")
    if round_mode is not None:  # unset, Caffe's rules round up
        fields["ceil"] = round_mode == "CEIL"
    return r.emit(name, kind, pool_kind, layers.make(pool_kind, **fields), xs[0])


def inner_product(r: _Reader, name: str, kind: str, entry: Message,
                  xs: tuple[int, ...]) -> int:
    param = _one(entry, "inner_product_param") or {}
    if int(_one(param, "axis", 1)) != 1 or _one(param, "transpose", False):
        raise Unsupported("an inner product over other axes than all but the batch")
    layer = layers.make("fc", units=int(_one(param, "num_output")),
                        bias=bool(_one(param, "bias_term", True)))
    return r.emit(name, kind, "fc", layer, xs[0])


def lrn(r: _Reader, name: str, kind: str, entry: Message, xs: tuple[int, ...]) -> int:
    param = _one(entry, "lrn_param") or {}
    if _one(param, "norm_region", "ACROSS_CHANNELS") != "ACROSS_CHANNELS":
        raise Unsupported("local response normalisation within a channel")
    layer = layers.make("lrn", size=int(_one(param, "local_size", 5)),
                        alpha=float(_one(param, "alpha", 1.0)),
                        beta=float(_one(param, "beta", 0.75)), k=float(_one(param, "k", 1.0)))
    return r.emit(name, kind, "lrn", layer, xs[0])


def relu(r: _Reader, name: str, kind: str, entry: Message, xs: tuple[int, ...]) -> int:
    slope = float(_one(_one(entry, "relu_param") or {}, "negative_slope", 0))
    if slope:
        return r.emit(name, kind, "leaky-relu", layers.make("leaky-relu", slope=slope), xs[0])
    return r.emit(name, kind, "relu", layers.make("relu"), xs[0])


def merge(r: _Reader, name: str, kind: str, entry: Message, xs: tuple[int, ...]) -> int:
    if kind == "Concat":
        param = _one(entry, "concat_param") or {}
        if int(_one(param, "axis", _one(param, "concat_dim", 1))) != 1:
            raise Unsupported("concatenation along another axis than the channels")
        op = "concat"
    else:
        param = _one(entry, "eltwise_param") or {}
        operation = _one(param, "operation", "SUM")
        if operation not in ("SUM", "PROD") or any(c != 1 for c in param.get("coeff", [])):
            raise Unsupported(f"an elementwise {operation} (with coefficients)")
        op = "add" if operation == "SUM" else "mul"
    try:
        shape = MERGES[op]([r.b.shape(x) for x in xs])
    except LayerError as exc:
        raise Unsupported(exc.message) from None
    dims = (1, shape.channels, *shape.spatial) if shape.spatial else (1, shape.channels)
    return r.b.merge(name, kind, op, xs, dims)


def batch_norm(r: _Reader, name: str, kind: str, entry: Message, xs: tuple[int, ...]) -> int:
    """A BatchNorm holds the running statistics; a Scale after it, the affine part."""
    return r.emit(name, kind, "bn", layers.make("bn", affine=False), xs[0])


def scale(r: _Reader, name: str, kind: str, entry: Message, xs: tuple[int, ...]) -> int:
    """A Scale with a bias right after a BatchNorm makes it affine (the usual pair)."""
    ops = r.b.graph.ops
    before = ops[-1] if ops else None
    param = _one(entry, "scale_param") or {}
    if before is None or before.output != xs[0] or before.kind != "bn" or \
            not _one(param, "bias_term", False) or len(xs) != 1:
        raise Unsupported("a Scale that is not the affine part of the BatchNorm before it")
    channels = r.b.shape(xs[0]).channels
    affine = layers.make("bn", affine=True)
    r.params += 2 * channels
    ops[-1] = dataclasses.replace(before, layer=affine, facts=dataclasses.replace(
        before.facts, params=2 * channels))
    return xs[0]


def simple(kind: str) -> Handler:
    def handler(r: _Reader, name: str, origin: str, entry: Message, xs: tuple[int, ...]) -> int:
        fields: dict[str, Any] = {}
        if kind == "dropout":
            param = _one(entry, "dropout_param") or {}
            fields["rate"] = float(_one(param, "dropout_ratio", 0.5))
        return r.emit(name, origin, kind, layers.make(kind, **fields), xs[0])

    return handler


def flatten(r: _Reader, name: str, kind: str, entry: Message, xs: tuple[int, ...]) -> int:
    return r.b.view(name, kind, xs[0], (1, r.b.shape(xs[0]).size), layouts.FLAT)


HANDLERS: dict[str, Handler] = {
    "Convolution": convolution,
    "Deconvolution": convolution,
    "Pooling": pooling,
    "InnerProduct": inner_product,
    "LRN": lrn,
    "ReLU": relu,
    "Concat": merge,
    "Eltwise": merge,
    "BatchNorm": batch_norm,
    "Scale": scale,
    "Dropout": simple("dropout"),
    "Softmax": simple("softmax"),
    "Sigmoid": simple("sigmoid"),
    "TanH": simple("tanh"),
    "Flatten": flatten,
}
