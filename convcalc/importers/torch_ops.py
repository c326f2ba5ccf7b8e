"""What each torch module and function of a traced model is in convcalc's terms.

Handlers receive the reader (:class:`~convcalc.importers.from_torch._Reader`) and the fx
node, and return the output tensor (or a tuple of tensors for a split). They are chosen
by the module's class (``isinstance``) or the function object itself, never by a name
in a string. A node none of them covers is reported by name; ``--allow-opaque`` keeps it.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from convcalc.arith import span, transposed_output
from convcalc.importers import layers, torch_attention
from convcalc.importers import layout as layouts
from convcalc.importers.graph import Unsupported

if TYPE_CHECKING:
    from convcalc.importers.from_torch import _Reader

ModuleHandler = Callable[["_Reader", Any, Any], Any]
FunctionHandler = Callable[["_Reader", Any], Any]


class Elementwise(Unsupported):
    """An elementwise op with a constant, which a pattern (GELU) may still absorb."""

    def __init__(self, fn: str, value: float) -> None:
        super().__init__(f"an elementwise {fn} with a constant")
        self.fn = (fn, value)


def _tuple(value: Any) -> tuple[int, ...]:
    return tuple(int(v) for v in value) if isinstance(value, list | tuple) else (int(value),)


def _spatial(r: _Reader, node: Any, x: int) -> tuple[int, ...]:
    r.b.require(x, "first", what="a spatial op")
    return tuple(r.b.dims[x][2:])


# --- modules ---------------------------------------------------------------------------------


def conv(r: _Reader, node: Any, m: Any) -> int:
    x = r.x(node)
    sizes = _spatial(r, node, x)
    ndim = len(sizes)
    k, stride, dilation = (_per_axis(v, ndim) for v in (m.kernel_size, m.stride, m.dilation))
    if isinstance(m.padding, str):  # torch's 'same' puts an odd extra pixel after
        pairs = layers.same_pads(sizes, k, stride, dilation, extra_before=False) \
            if m.padding == "same" else ((0, 0),) * ndim
    else:
        pairs = tuple((p, p) for p in _per_axis(m.padding, ndim))
    kind, layer = layers.conv(m.in_channels, m.out_channels, k, stride, pairs, dilation,
                              m.groups, m.bias is not None)
    params, buffers = r.count(node, m)
    return r.b.layer(r.name(node), r.origin(node), kind, layer, x, r.dims(node),
                     params=params, buffers=buffers)


def _per_axis(value: Any, ndim: int) -> tuple[int, ...]:
    values = _tuple(value)
    return values * ndim if len(values) == 1 else values


def conv_transpose(r: _Reader, node: Any, m: Any) -> int:
    x = r.x(node)
    sizes = _spatial(r, node, x)
    ndim = len(sizes)
    k, stride, dilation, padding = (_per_axis(v, ndim) for v in (m.kernel_size, m.stride,
                                                                  m.dilation, m.padding))
    out = r.dims(node)[2:]
    # the output padding actually used (an ``output_size`` argument may have chosen it)
    extra = tuple(o - transposed_output(i, span(kk, d), s, (p, p))
                  for o, i, kk, d, s, p in zip(out, sizes, k, dilation, stride, padding,
                                               strict=True))
    return r.add_layer(node, "conv-transpose", x, module=m, filters=m.out_channels,
                       k=layers.uniform(k), stride=layers.uniform(stride),
                       pad=layers.pads(tuple((p, p) for p in padding)),
                       output_padding=layers.uniform(extra), dilation=layers.uniform(dilation),
                       groups=m.groups, bias=m.bias is not None)


def batch_norm(r: _Reader, node: Any, m: Any) -> int:
    x = r.x(node)
    r.b.require(x, "first", "flat", what="batch norm")
    if not m.track_running_stats:
        raise Unsupported("batch norm without running statistics (convcalc's bn keeps them)")
    return r.add_layer(node, "bn", x, module=m, affine=bool(m.affine))


def _activation(kind: str) -> ModuleHandler:
    def handler(r: _Reader, node: Any, m: Any) -> int:
        return r.add_layer(node, kind, r.x(node), module=m)

    return handler


def leaky_relu(r: _Reader, node: Any, m: Any) -> int:
    return r.add_layer(node, "leaky-relu", r.x(node), module=m, slope=float(m.negative_slope))


def softmax(r: _Reader, node: Any, m: Any) -> int:
    x = r.x(node)
    _channel_dim(r, x, m.dim, "softmax")
    return r.add_layer(node, "softmax", x, module=m)


def dropout(r: _Reader, node: Any, m: Any) -> int:
    return r.add_layer(node, "dropout", r.x(node), module=m, rate=float(m.p))


def identity(r: _Reader, node: Any, m: Any = None) -> int:
    return r.x(node)


def max_pool(r: _Reader, node: Any, m: Any) -> int:
    if m.return_indices:
        raise Unsupported("max pooling that returns indices")
    return _pool(r, node, "maxpool", r.x(node), m.kernel_size, m.stride, m.padding,
                 m.ceil_mode, m.dilation)


def avg_pool(r: _Reader, node: Any, m: Any) -> int:
    return _pool(r, node, "avgpool", r.x(node), m.kernel_size, m.stride, m.padding,
                 m.ceil_mode)


def _pool(r: _Reader, node: Any, kind: str, x: int, k: Any, stride: Any, padding: Any,
          ceil: bool, dilation: Any = 1) -> int:
    ndim = len(_spatial(r, node, x))
    ks = _per_axis(k, ndim)
    strides = ks if stride is None or _tuple(stride) == () else _per_axis(stride, ndim)
    pairs = tuple((p, p) for p in _per_axis(padding, ndim))
    layer = layers.pool(kind, ks, strides, pairs, bool(ceil), _per_axis(dilation, ndim))
    return r.b.layer(r.name(node), r.origin(node), kind, layer, x, r.dims(node))


def adaptive_pool(kind: str) -> ModuleHandler:
    def handler(r: _Reader, node: Any, m: Any) -> int:
        return _adaptive(r, node, kind, r.x(node))

    return handler


def _adaptive(r: _Reader, node: Any, kind: str, x: int) -> int:
    _spatial(r, node, x)
    out = r.dims(node)[2:]
    if all(o == 1 for o in out):
        return r.add_layer(node, f"global-{kind}", x)
    return r.add_layer(node, f"adaptive-{kind}", x, out=layers.uniform(out))


def linear(r: _Reader, node: Any, m: Any) -> int:
    x = r.x(node)
    bias = m.bias is not None
    if r.b.layout(x).form == "flat":
        return r.add_layer(node, "fc", x, module=m, units=m.out_features, bias=bias)
    if layouts.channels_last(r.b.layout(x)):  # over the channels at every position
        return r.add_layer(node, "token-fc", x, module=m, units=m.out_features, bias=bias)
    raise Unsupported(f"a linear layer over the last axis of a tensor laid out as "
                      f"({r.b.layout(x)})")


def layer_norm(r: _Reader, node: Any, m: Any) -> int:
    x = r.x(node)
    _over_channels(r, x, tuple(m.normalized_shape))
    return r.add_layer(node, "layernorm", x, module=m, affine=bool(m.elementwise_affine),
                       bias=getattr(m, "bias", None) is not None)


def _over_channels(r: _Reader, x: int, normalized: tuple[int, ...]) -> None:
    """Layer norm convcalc can write normalises each position's channels: the last axis
    of a channels-last (or flat) tensor."""
    if not layouts.channels_last(r.b.layout(x)) or normalized != (r.b.shape(x).channels,):
        raise Unsupported(f"a layer norm over {list(normalized)} of a tensor laid out as "
                          f"({r.b.layout(x)}): convcalc's normalises the channels at each "
                          "position")


def function_layer_norm(r: _Reader, node: Any) -> int:
    """``F.layer_norm(x, shape, weight, bias)`` (ConvNeXt's LayerNorm2d, between permutes)."""
    x = r.x(node)
    _over_channels(r, x, tuple(r.arg(node, 1, "normalized_shape")))
    weight, bias = (r.arg(node, i, n) for i, n in ((2, "weight"), (3, "bias")))
    params = sum(t.numel() for t in (weight, bias) if t is not None)
    return r.b.layer(r.name(node), r.origin(node), "layernorm",
                     layers.make("layernorm", affine=weight is not None,
                                 bias=bias is not None), x, r.dims(node), params=params)


def flatten_module(r: _Reader, node: Any, m: Any) -> int:
    return view(r, node)


def lrn(r: _Reader, node: Any, m: Any) -> int:
    return r.add_layer(node, "lrn", r.x(node), size=int(m.size), alpha=float(m.alpha),
                       beta=float(m.beta), k=float(m.k))


def upsample_module(r: _Reader, node: Any, m: Any) -> int:
    return _upsample(r, node, r.x(node), m.mode)


def _upsample(r: _Reader, node: Any, x: int, mode: str) -> int:
    sizes = _spatial(r, node, x)
    out = r.dims(node)[2:]
    if any(o % i for o, i in zip(out, sizes, strict=True)):
        raise Unsupported(f"resizing {list(sizes)} to {list(out)} is not by whole factors")
    return r.add_layer(node, "upsample", x, scale=layers.uniform(tuple(o // i for o, i in
                                                                zip(out, sizes, strict=True))),
                       mode=mode)


def zero_pad(r: _Reader, node: Any, m: Any) -> int:
    if float(getattr(m, "value", 0.0)) != 0.0:
        raise Unsupported("padding with a value other than 0")
    return _pad(r, node, r.x(node), tuple(m.padding))


def _pad(r: _Reader, node: Any, x: int, padding: tuple[int, ...]) -> int:
    sizes = _spatial(r, node, x)
    # torch lists (before, after) from the last axis backwards
    pairs = [(padding[i], padding[i + 1]) for i in range(0, len(padding), 2)][::-1]
    if len(pairs) != len(sizes) or min(padding) < 0:
        raise Unsupported(f"padding {list(padding)} is not non-negative padding of every "
                          "spatial axis")
    return r.add_layer(node, "zeropad", x, pad=layers.pads(tuple(pairs)))


def channel_shuffle(r: _Reader, node: Any, m: Any) -> int:
    x = r.x(node)
    r.b.require(x, "first", what="a channel shuffle")
    return r.add_layer(node, "channel-shuffle", x, groups=int(m.groups))


def module_handlers() -> list[tuple[type, ModuleHandler]]:
    from torch import nn

    activations = [(nn.ReLU6, "relu6"), (nn.ReLU, "relu"), (nn.Sigmoid, "sigmoid"),
                   (nn.Tanh, "tanh"), (nn.SiLU, "silu"), (nn.Hardswish, "hard-swish"),
                   (nn.Hardsigmoid, "hard-sigmoid"), (nn.GELU, "gelu")]
    return [
        (nn.modules.conv._ConvTransposeNd, conv_transpose),
        (nn.modules.conv._ConvNd, conv),
        (nn.modules.batchnorm._BatchNorm, batch_norm),
        *((cls, _activation(kind)) for cls, kind in activations),
        (nn.LeakyReLU, leaky_relu), (nn.Softmax, softmax),
        (nn.modules.dropout._DropoutNd, dropout), (nn.Identity, identity),
        (nn.modules.pooling._MaxPoolNd, max_pool), (nn.modules.pooling._AvgPoolNd, avg_pool),
        (nn.modules.pooling._AdaptiveAvgPoolNd, adaptive_pool("avgpool")),
        (nn.modules.pooling._AdaptiveMaxPoolNd, adaptive_pool("maxpool")),
        (nn.Linear, linear), (nn.Flatten, flatten_module), (nn.LocalResponseNorm, lrn),
        (nn.LayerNorm, layer_norm),
        (nn.Upsample, upsample_module), (nn.modules.padding._ConstantPadNd, zero_pad),
        (nn.ChannelShuffle, channel_shuffle),
        *torch_attention.module_handlers(),
    ]


# --- functions and methods ------------------------------------------------------------------


def _channel_dim(r: _Reader, x: int, dim: Any, what: str) -> None:
    rank = len(r.b.dims[x])
    if layouts.normalise_axis(int(dim), rank) != layouts.channel_axis(r.b.layout(x), rank):
        raise Unsupported(f"{what} along axis {dim}, which is not the channels")


def binary(op: str) -> FunctionHandler:
    """``a + b`` or ``a * b``: a merge of two tensors, else an op with a constant."""

    def handler(r: _Reader, node: Any) -> int:
        operands = [r.tensors.get(a) for a in node.args[:2]]
        if all(isinstance(t, int) for t in operands) and len(operands) == 2:
            return r.b.merge(r.name(node), r.origin(node), op,
                             tuple(t for t in operands if isinstance(t, int)), r.dims(node))
        constant = node.args[1] if isinstance(operands[0], int) else node.args[0]
        if isinstance(constant, int | float):
            raise Elementwise(op, float(constant))
        x = next((t for t in operands if isinstance(t, int)), None)
        if x is None:
            raise Unsupported(f"{op} of values convcalc does not follow")
        if op == "add":
            embedded = torch_attention.position_embedding(r, node, x, constant)
            if embedded is not None:
                return embedded
        learnt = isinstance(constant, r.torch.fx.Node) and constant.op == "get_attr"
        weight = r.values.get(constant) if learnt else None
        if op == "mul" and weight is not None and _per_channel(r, x, weight):
            return r.b.layer(r.name(node), r.origin(node), "layer-scale",
                             layers.make("layer-scale"), x, r.dims(node),
                             params=int(weight.numel()))
        raise Unsupported(f"{op} with a constant tensor")

    return handler


def _per_channel(r: _Reader, x: int, weight: Any) -> bool:
    """A learnt tensor of one value per channel, laid along the channel axis (C, 1, 1)."""
    if weight is None or not isinstance(weight, r.torch.nn.Parameter):
        return False
    dims = tuple(int(d) for d in weight.shape)
    rank = len(r.b.dims[x])
    channel = layouts.channel_axis(r.b.layout(x), rank)
    expected = tuple(r.b.shape(x).channels if axis == channel else 1
                     for axis in range(rank - len(dims), rank))
    return dims == expected


def scalar(op: str) -> FunctionHandler:
    """``x / 1.41`` or ``x - 1``: an elementwise op with a constant."""

    def handler(r: _Reader, node: Any) -> int:
        if len(node.args) == 2 and isinstance(node.args[1], int | float):
            raise Elementwise(op, float(node.args[1]))
        raise Unsupported(f"{op} of tensors")

    return handler


def cat(r: _Reader, node: Any) -> int:
    tensors = tuple(r.tensors.get(a) for a in node.args[0]) if isinstance(
        node.args[0], list | tuple) else ()
    if tensors and any(a in r.constants for a in node.args[0]):  # learnt tokens
        return torch_attention.class_token(r, node, list(node.args[0]))
    if not tensors or not all(isinstance(t, int) for t in tensors):
        raise Unsupported("a concat of values convcalc does not follow")
    ids = tuple(t for t in tensors if isinstance(t, int))
    _channel_dim(r, ids[0], r.arg(node, 1, "dim", 0), "concat")
    return r.b.merge(r.name(node), r.origin(node), "concat", ids, r.dims(node))


def view(r: _Reader, node: Any) -> int:
    """A reshape, flatten, squeeze or unsqueeze, from the dims before and after."""
    x = r.x(node)
    form = layouts.reshape(r.b.layout(x), r.b.dims[x], r.dims(node))
    if form is None:
        raise Unsupported(f"a reshape from {list(r.b.dims[x])} to {list(r.dims(node))}")
    return r.b.view(r.name(node), r.origin(node), x, r.dims(node), form)


def permute(r: _Reader, node: Any) -> int:
    x = r.x(node)
    rank = len(r.b.dims[x])
    if node.target in ("transpose", "swapaxes") or node.target in (r.torch.transpose,
                                                                   r.torch.swapaxes):
        a, b = (layouts.normalise_axis(int(r.arg(node, i, n)), rank)
                for i, n in ((1, "dim0"), (2, "dim1")))
        order = list(range(rank))
        order[a], order[b] = order[b], order[a]
        perm = tuple(order)
    else:
        dims = node.args[1:] if len(node.args) > 2 else r.arg(node, 1, "dims")
        perm = tuple(layouts.normalise_axis(int(r.values.get(d, d)), rank)
                     for d in _flat(dims))
    form = layouts.permute(r.b.layout(x), perm)
    if form is None:
        raise Unsupported(f"a permutation {list(perm)} of axes laid out as ({r.b.layout(x)})")
    return r.b.view(r.name(node), r.origin(node), x, r.dims(node), form)


def _flat(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def split(r: _Reader, node: Any) -> tuple[int, ...]:
    """``x.chunk(2, dim=1)`` or ``torch.split``: one part per output, along the channels."""
    x = r.x(node)
    dim = r.arg(node, 2, "dim", 0)
    _channel_dim(r, x, dim, "a split")
    outputs = r.values[node]
    axis = layouts.normalise_axis(int(dim), len(r.b.dims[x]))
    parts, start = [], 0
    for index, value in enumerate(outputs):
        size = int(value.shape[axis])
        parts.append(r.b.part(f"{r.name(node)}.{index}", r.origin(node), x,
                              (start, start + size), tuple(int(d) for d in value.shape)))
        start += size
    return tuple(parts)


def getitem(r: _Reader, node: Any) -> int:
    source = r.tensors.get(node.args[0])
    if isinstance(source, tuple) and isinstance(node.args[1], int):
        part: int = source[node.args[1]]
        return part
    if isinstance(source, int):
        return torch_attention.take_token(r, node, source)
    raise Unsupported("indexing a tensor")


def function_activation(kind: str) -> FunctionHandler:
    def handler(r: _Reader, node: Any) -> int:
        return r.add_layer(node, kind, r.x(node))

    return handler


def function_dropout(r: _Reader, node: Any) -> int:
    return r.add_layer(node, "dropout", r.x(node), rate=float(r.arg(node, 1, "p", 0.5)))


def function_max_pool(r: _Reader, node: Any) -> int:
    if r.arg(node, 6, "return_indices", False):
        raise Unsupported("max pooling that returns indices")
    k = r.arg(node, 1, "kernel_size")
    return _pool(r, node, "maxpool", r.x(node), k, r.arg(node, 2, "stride"),
                 r.arg(node, 3, "padding", 0), r.arg(node, 5, "ceil_mode", False),
                 r.arg(node, 4, "dilation", 1))


def function_avg_pool(r: _Reader, node: Any) -> int:
    return _pool(r, node, "avgpool", r.x(node), r.arg(node, 1, "kernel_size"),
                 r.arg(node, 2, "stride"), r.arg(node, 3, "padding", 0),
                 r.arg(node, 4, "ceil_mode", False))


def function_adaptive(kind: str) -> FunctionHandler:
    def handler(r: _Reader, node: Any) -> int:
        return _adaptive(r, node, kind, r.x(node))

    return handler


def mean(r: _Reader, node: Any) -> int:
    """``x.mean([2, 3])``: global average pooling when it averages every spatial axis."""
    x = r.x(node)
    rank = len(r.b.dims[x])
    dims = {layouts.normalise_axis(int(d), rank) for d in _flat(r.arg(node, 1, "dim"))}
    if not dims or dims != set(layouts.spatial_axes(r.b.layout(x), rank)):
        raise Unsupported("a mean over other axes than the spatial ones")
    keep = bool(r.arg(node, 2, "keepdim", False))
    return r.add_layer(node, "global-avgpool", x, keepdims=keep)


def stochastic_depth(r: _Reader, node: Any) -> int:
    """torchvision's stochastic depth: the identity at inference, kept for what it is."""
    if r.arg(node, 3, "training", True):
        raise Unsupported("stochastic depth while training")
    return r.add_layer(node, "stochastic-depth", r.x(node), rate=float(r.arg(node, 1, "p")),
                       mode=str(r.arg(node, 2, "mode", "row")))


def interpolate(r: _Reader, node: Any) -> int:
    return _upsample(r, node, r.x(node), str(r.arg(node, 3, "mode", "nearest")))


def function_pad(r: _Reader, node: Any) -> int:
    if r.arg(node, 2, "mode", "constant") != "constant" or r.arg(node, 3, "value", 0) not in \
            (0, 0.0, None):
        raise Unsupported("padding other than with zeros")
    return _pad(r, node, r.x(node), tuple(int(p) for p in r.arg(node, 1, "pad")))


def function_handlers() -> dict[Any, FunctionHandler]:
    import torch
    import torch.nn.functional as F

    activations = {F.relu: "relu", torch.relu: "relu", F.relu6: "relu6",
                   torch.sigmoid: "sigmoid", F.sigmoid: "sigmoid", torch.tanh: "tanh",
                   F.silu: "silu", F.gelu: "gelu", F.hardswish: "hard-swish",
                   F.hardsigmoid: "hard-sigmoid", "relu": "relu", "relu_": "relu",
                   "sigmoid": "sigmoid", "tanh": "tanh"}
    handlers: dict[Any, FunctionHandler] = {
        **{target: function_activation(kind) for target, kind in activations.items()},
        operator.add: binary("add"), operator.iadd: binary("add"), torch.add: binary("add"),
        "add": binary("add"), "add_": binary("add"),
        operator.mul: binary("mul"), operator.imul: binary("mul"), torch.mul: binary("mul"),
        "mul": binary("mul"), "mul_": binary("mul"),
        operator.truediv: scalar("div"), operator.sub: scalar("sub"),
        torch.cat: cat, torch.concat: cat,
        torch.flatten: view, "flatten": view, "view": view, "reshape": view,
        torch.reshape: view, torch.squeeze: view, "squeeze": view, torch.unsqueeze: view,
        "unsqueeze": view,
        torch.permute: permute, "permute": permute, torch.transpose: permute,
        "transpose": permute, "contiguous": identity_function,
        "chunk": split, torch.chunk: split, "split": split, torch.split: split,
        operator.getitem: getitem,
        F.dropout: function_dropout, F.dropout2d: function_dropout,
        F.max_pool2d: function_max_pool, F.avg_pool2d: function_avg_pool,
        F.adaptive_avg_pool2d: function_adaptive("avgpool"),
        F.adaptive_max_pool2d: function_adaptive("maxpool"),
        "mean": mean, torch.mean: mean, F.interpolate: interpolate, F.pad: function_pad,
        F.layer_norm: function_layer_norm, torch.swapaxes: permute, "swapaxes": permute,
        **torch_attention.function_handlers(),
    }
    try:  # torchvision's stochastic depth is a traced leaf function
        from torchvision.ops import stochastic_depth as depth
    except ImportError:  # pragma: no cover - a model without torchvision
        return handlers
    return {**handlers, depth: stochastic_depth}


def identity_function(r: _Reader, node: Any) -> int:
    return r.x(node)
