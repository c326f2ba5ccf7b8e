"""What each ONNX op is in convcalc's terms, and the small constants read on the way.

Handlers receive the reader (:class:`~convcalc.importers.from_onnx._Reader`) and the node,
and record the node's output tensor. Attributes follow the ONNX operator specification
(https://onnx.ai/onnx/operators/); where an opset moved a setting from an attribute to an
input (Split, Squeeze, Pad, ReduceMean, Clip, Dropout), both are read.
"""

from __future__ import annotations

from collections.abc import Callable
from math import prod
from typing import TYPE_CHECKING, Any

from convcalc.arith import span, transposed_output
from convcalc.importers import layers
from convcalc.importers import layout as layouts
from convcalc.importers.graph import Unsupported

if TYPE_CHECKING:
    from convcalc.importers.from_onnx import Const, _Reader

Handler = Callable[["_Reader", Any], None]
SMALL = 64


class Elementwise(Unsupported):
    """An elementwise op with a constant, which a pattern (GELU) may still absorb."""

    def __init__(self, fn: str, value: float) -> None:
        super().__init__(f"an elementwise {fn} with a constant")
        self.fn = (fn, value)


def attrs(node: Any) -> dict[str, Any]:
    from onnx import helper, numpy_helper

    found: dict[str, Any] = {}
    for a in node.attribute:
        if a.type in (1, 2, 3, 6, 7, 8):  # FLOAT, INT, STRING, FLOATS, INTS, STRINGS
            value = helper.get_attribute_value(a)
            found[a.name] = value.decode("utf-8", "replace") if isinstance(value, bytes) \
                else value
        elif a.type == 4 and prod(a.t.dims) <= SMALL:  # a small TENSOR (ConstantOfShape's)
            found[a.name] = numpy_helper.to_array(a.t)
    return found


def _ints(value: Any) -> tuple[int, ...]:
    return tuple(int(v) for v in value)


# --- spatial ops -----------------------------------------------------------------------------


def _window(r: _Reader, node: Any, x: int, k: tuple[int, ...]
            ) -> tuple[tuple[int, ...], tuple[int, ...], tuple[tuple[int, int], ...]]:
    """Strides, dilations and (before, after) pads of a Conv or pooling node."""
    a = attrs(node)
    sizes = r.b.dims[x][2:]
    ndim = len(sizes)
    stride = _ints(a.get("strides", [1] * ndim))
    dilation = _ints(a.get("dilations", [1] * ndim))
    mode = a.get("auto_pad", "NOTSET")
    if mode in ("SAME_UPPER", "SAME_LOWER"):
        pairs = layers.same_pads(sizes, k, stride, dilation, extra_before=mode == "SAME_LOWER")
    elif mode == "VALID":
        pairs = ((0, 0),) * ndim
    else:
        flat = _ints(a.get("pads", [0] * 2 * ndim))
        pairs = tuple(zip(flat[:ndim], flat[ndim:], strict=True))
    if not len(k) == len(stride) == len(dilation) == len(pairs) == ndim:
        raise Unsupported("its kernel, strides, dilations or pads do not match the input's "
                          "spatial axes")
    return stride, dilation, pairs


def conv(r: _Reader, node: Any) -> None:
    x = r.x(node)
    r.b.require(x, "first", what="a convolution")
    weight, bias = r.const(node, 1), r.const(node, 2)
    assert weight is not None
    k = _ints(attrs(node).get("kernel_shape", weight.dims[2:]))
    stride, dilation, pairs = _window(r, node, x, k)
    groups = int(attrs(node).get("group", 1))
    out = r.out(node)
    kind, layer = layers.conv(r.b.dims[x][1], weight.dims[0], k, stride, pairs, dilation,
                              groups, bias is not None)
    r.macs += prod(out) * weight.dims[1] * prod(k)
    r.set(node, r.b.layer(r.name(node), node.op_type, kind, layer, x, out,
                          params=r.weights(node, 1, 2)))


def conv_transpose(r: _Reader, node: Any) -> None:
    x = r.x(node)
    r.b.require(x, "first", what="a transposed convolution")
    weight, bias = r.const(node, 1), r.const(node, 2)
    assert weight is not None
    a = attrs(node)
    k = _ints(a.get("kernel_shape", weight.dims[2:]))
    sizes = r.b.dims[x][2:]
    ndim = len(sizes)
    stride = _ints(a.get("strides", [1] * ndim))
    dilation = _ints(a.get("dilations", [1] * ndim))
    extra = _ints(a.get("output_padding", [0] * ndim))
    mode = a.get("auto_pad", "NOTSET")
    if "output_shape" in a or mode in ("SAME_UPPER", "SAME_LOWER"):
        # ONNX: total padding = s(i − 1) + output_padding + k̂ − output; SAME_UPPER puts
        # the larger half after, anything else before
        wanted = _ints(a["output_shape"])[-ndim:] if "output_shape" in a else \
            tuple(i * s for i, s in zip(sizes, stride, strict=True))
        totals = [s * (i - 1) + e + span(kk, d) - o for i, s, e, kk, d, o in
                  zip(sizes, stride, extra, k, dilation, wanted, strict=True)]
        if min(totals) < 0:
            raise Unsupported("its output_shape needs negative padding")
        pairs = tuple((t // 2, t - t // 2) if mode == "SAME_UPPER" else (t - t // 2, t // 2)
                      for t in totals)
    else:
        flat = _ints(a.get("pads", [0] * 2 * ndim))
        pairs = tuple(zip(flat[:ndim], flat[ndim:], strict=True))
    out = r.out(node)
    if tuple(transposed_output(i, span(kk, d), s, p, e) for i, kk, s, p, d, e in
             zip(sizes, k, stride, pairs, dilation, extra, strict=True)) != out[2:]:
        raise Unsupported("its settings do not give the output shape ONNX infers")
    groups = int(a.get("group", 1))
    r.macs += prod(r.b.dims[x]) * weight.dims[1] * prod(k)
    layer = layers.make("conv-transpose", filters=weight.dims[1] * groups, k=layers.uniform(k),
                        stride=layers.uniform(stride), pad=layers.pads(pairs),
                        output_padding=layers.uniform(extra),
                        dilation=layers.uniform(dilation), groups=groups,
                        bias=bias is not None)
    r.set(node, r.b.layer(r.name(node), node.op_type, "conv-transpose", layer, x, out,
                          params=r.weights(node, 1, 2)))


def pool(kind: str) -> Handler:
    def handler(r: _Reader, node: Any) -> None:
        x = r.x(node)
        r.b.require(x, "first", what="pooling")
        if len(node.output) > 1 and node.output[1]:
            raise Unsupported("max pooling that returns indices")
        k = _ints(attrs(node)["kernel_shape"])
        stride, dilation, pairs = _window(r, node, x, k)
        layer = layers.pool(kind, k, stride, pairs, bool(attrs(node).get("ceil_mode", 0)),
                            dilation)
        r.set(node, r.b.layer(r.name(node), node.op_type, kind, layer, x, r.out(node)))

    return handler


def global_pool(kind: str) -> Handler:
    def handler(r: _Reader, node: Any) -> None:
        x = r.x(node)
        r.b.require(x, "first", what="global pooling")
        r.set(node, r.b.layer(r.name(node), node.op_type, kind, layers.make(kind), x,
                              r.out(node)))

    return handler


def reduce(kind: str) -> Handler:
    """ReduceMean / ReduceMax over exactly the spatial axes: global pooling."""

    def handler(r: _Reader, node: Any) -> None:
        x = r.x(node)
        a = attrs(node)
        rank = len(r.b.dims[x])
        given = r.const(node, 1, small=True)
        axes = _ints(given.value.reshape(-1)) if given is not None else \
            _ints(a.get("axes", []))
        found = {layouts.normalise_axis(v, rank) for v in axes}
        if not found or found != set(layouts.spatial_axes(r.b.layout(x), rank)):
            raise Unsupported("a reduction over other axes than the spatial ones")
        layer = layers.make(kind, keepdims=bool(a.get("keepdims", 1)))
        r.set(node, r.b.layer(r.name(node), node.op_type, kind, layer, x, r.out(node)))

    return handler


def resize(r: _Reader, node: Any) -> None:
    x = r.x(node)
    r.b.require(x, "first", what="resizing")
    out, before = r.out(node), r.b.dims[x]
    if out[:2] != before[:2] or any(o % i for o, i in zip(out[2:], before[2:], strict=True)):
        raise Unsupported(f"resizing {list(before)} to {list(out)} is not by whole factors "
                          "of the spatial axes")
    mode = layers.upsample_mode(str(attrs(node).get("mode", "nearest")), len(before) - 2)
    layer = layers.make("upsample", scale=layers.uniform(tuple(
        o // i for o, i in zip(out[2:], before[2:], strict=True))), mode=mode)
    r.set(node, r.b.layer(r.name(node), node.op_type, "upsample", layer, x, out))


def pad(r: _Reader, node: Any) -> None:
    x = r.x(node)
    r.b.require(x, "first", what="padding")
    a = attrs(node)
    if a.get("mode", "constant") != "constant":
        raise Unsupported(f"{a['mode']} padding (convcalc pads with zeros)")
    given = r.const(node, 1, small=True)
    flat = _ints(given.value.reshape(-1)) if given is not None else _ints(a.get("pads", []))
    value = r.const(node, 2, small=True)
    if value is not None and value.value.size and float(value.value.reshape(-1)[0]) != 0.0:
        raise Unsupported("padding with a value other than 0")
    rank = len(r.b.dims[x])
    axes_const = r.const(node, 3, small=True)
    axes = [layouts.normalise_axis(v, rank) for v in _ints(axes_const.value.reshape(-1))] \
        if axes_const is not None else list(range(rank))
    if len(flat) != 2 * len(axes) or min(flat, default=0) < 0:
        raise Unsupported("its pads do not give non-negative (before, after) per axis")
    pairs = dict(zip(axes, zip(flat[:len(axes)], flat[len(axes):], strict=True), strict=True))
    if any(pairs.get(axis, (0, 0)) != (0, 0) for axis in (0, 1)):
        raise Unsupported("padding of the batch or the channels")
    spatial = tuple(pairs.get(axis, (0, 0)) for axis in range(2, rank))
    r.set(node, r.b.layer(r.name(node), node.op_type, "zeropad",
                          layers.make("zeropad", pad=layers.pads(spatial)), x, r.out(node)))


# --- dense and normalisation ------------------------------------------------------------------


def gemm(r: _Reader, node: Any) -> None:
    x = r.x(node)
    a = attrs(node)
    weight = r.const(node, 1)
    assert weight is not None
    if a.get("transA", 0) or r.b.layout(x).form != "flat" or len(weight.dims) != 2:
        raise Unsupported("a Gemm that is not a dense layer on a vector")
    units, inputs = weight.dims if a.get("transB", 0) else weight.dims[::-1]
    r.macs += r.b.dims[x][0] * units * inputs
    layer = layers.make("fc", units=units, bias=len(node.input) > 2 and bool(node.input[2]))
    r.set(node, r.b.layer(r.name(node), node.op_type, "fc", layer, x, r.out(node),
                          params=r.weights(node, 1, 2)))


def matmul(r: _Reader, node: Any) -> None:
    """A vector (or each position's channels) times a constant matrix: a dense layer (or
    ``token-fc``), whose bias a following Add may bring (see :func:`add`)."""
    x = r.x(node)
    weight = r.const(node, 1)
    assert weight is not None
    if len(weight.dims) != 2:
        raise Unsupported("a MatMul by a tensor that is not a matrix")
    inputs, units = weight.dims
    out = r.out(node)
    form = r.b.layout(x)
    if form.form == "flat":
        kind, layer = "fc", layers.make("fc", units=units, bias=False)
    elif layouts.channels_last(form):
        kind, layer = "token-fc", layers.make("token-fc", units=units, bias=False)
    else:
        raise Unsupported(f"a MatMul over the last axis of a tensor laid out as "
                          f"({r.b.layout(x)})")
    r.macs += prod(out[:-1]) * inputs * units
    tensor = r.b.layer(r.name(node), node.op_type, kind, layer, x, out,
                       params=r.weights(node, 1))
    r.biasable[tensor] = len(r.b.graph.ops) - 1
    r.set(node, tensor)


def batch_norm(r: _Reader, node: Any) -> None:
    x = r.x(node)
    r.b.require(x, "first", "flat", what="batch norm")
    if any(node.output[1:]):
        raise Unsupported("batch norm in training mode")
    r.set(node, r.b.layer(r.name(node), node.op_type, "bn", layers.make("bn", affine=True),
                          x, r.out(node), params=r.weights(node, 1, 2),
                          buffers=r.weights(node, 3, 4)))


def layer_norm(r: _Reader, node: Any) -> None:
    """LayerNormalization over the last axis of a channels-last tensor: each position's
    channels, as convcalc's layernorm (ConvNeXt, between two Transposes)."""
    x = r.x(node)
    rank = len(r.b.dims[x])
    axis = layouts.normalise_axis(int(attrs(node).get("axis", -1)), rank)
    if not layouts.channels_last(r.b.layout(x)) or axis != rank - 1:
        raise Unsupported(f"a layer norm from axis {axis} of a tensor laid out as "
                          f"({r.b.layout(x)}): convcalc's normalises the channels at each "
                          "position")
    scale, bias = r.const(node, 1), r.const(node, 2)
    layer = layers.make("layernorm", affine=scale is not None, bias=bias is not None)
    r.set(node, r.b.layer(r.name(node), node.op_type, "layernorm", layer, x, r.out(node),
                          params=r.weights(node, 1, 2)))


def activation(kind: str) -> Handler:
    def handler(r: _Reader, node: Any) -> None:
        x = r.x(node)
        r.set(node, r.b.layer(r.name(node), node.op_type, kind, layers.make(kind), x,
                              r.out(node)))

    return handler


def leaky_relu(r: _Reader, node: Any) -> None:
    layer = layers.make("leaky-relu", slope=float(attrs(node).get("alpha", 0.01)))
    r.set(node, r.b.layer(r.name(node), node.op_type, "leaky-relu", layer, r.x(node),
                          r.out(node)))


def softmax(r: _Reader, node: Any) -> None:
    x = r.x(node)
    rank = len(r.b.dims[x])
    axis = int(attrs(node).get("axis", -1 if r.opset >= 13 else 1))
    if layouts.normalise_axis(axis, rank) != layouts.channel_axis(r.b.layout(x), rank):
        raise Unsupported("a softmax over other axes than the channels")
    activation("softmax")(r, node)


def clip(r: _Reader, node: Any) -> None:
    """Clip(0, 6) is ReLU6 and Clip(0, ∞) ReLU; other bounds have no layer."""
    a = attrs(node)
    bounds = []
    for index, name in ((1, "min"), (2, "max")):
        given = r.const(node, index, small=True)
        bounds.append(float(given.value.reshape(-1)[0]) if given is not None else a.get(name))
    if bounds[0] == 0 and bounds[1] == 6:
        activation("relu6")(r, node)
    elif bounds[0] == 0 and bounds[1] is None:
        activation("relu")(r, node)
    else:
        raise Unsupported(f"a clip to [{bounds[0]}, {bounds[1]}]")


def dropout(r: _Reader, node: Any) -> None:
    given = r.const(node, 1, small=True)
    rate = float(given.value.reshape(-1)[0]) if given is not None else \
        float(attrs(node).get("ratio", 0.5))
    r.set(node, r.b.layer(r.name(node), node.op_type, "dropout",
                          layers.make("dropout", rate=rate), r.x(node), r.out(node)))


def identity(r: _Reader, node: Any) -> None:
    r.set(node, r.x(node))


# --- merges, splits and constants -------------------------------------------------------------


def _scalar(const: Const | None) -> float | None:
    if const is None or const.value is None or const.value.size != 1:
        return None
    return float(const.value.reshape(-1)[0])


def add(r: _Reader, node: Any) -> None:
    """Two tensors: a residual add. A tensor and a bias: the bias of the dense layer (a
    MatMul) before it. A tensor and a number: a term of a decomposed formula."""
    data = [n for n in node.input if n in r.data]
    if len(data) == 2:
        r.set(node, r.b.merge(r.name(node), node.op_type, "add",
                              (r.data[data[0]], r.data[data[1]]), r.out(node)))
        return
    const_index = 1 if node.input[0] in r.data else 0
    const = r.const(node, const_index)
    x = r.x(node, 1 - const_index)
    if const is not None and r.fold_bias(x, const, node):
        return
    if const is not None and const.floating and const.dims in (r.b.dims[x], r.b.dims[x][1:]) \
            and r.b.dims[x][0] == 1 and r.b.shape(x).spatial:
        # a learnt value per position and channel, added: ViT's position embedding
        r.set(node, r.b.layer(r.name(node), node.op_type, "position-embedding",
                              layers.make("position-embedding"), x, r.out(node),
                              params=const.size))
        return
    _arithmetic(node.op_type.lower(), const)


def _arithmetic(op: str, const: Const | None) -> None:
    value = _scalar(const)
    if value is None:
        raise Unsupported(f"{op} of a constant tensor")
    raise Elementwise(op, value)


def mul(r: _Reader, node: Any) -> None:
    data = [n for n in node.input if n in r.data]
    if len(data) == 2:
        r.set(node, r.b.merge(r.name(node), node.op_type, "mul",
                              (r.data[data[0]], r.data[data[1]]), r.out(node)))
        return
    const_index = 1 if node.input[0] in r.data else 0
    x = r.x(node, 1 - const_index)
    const = r.const(node, const_index)
    if const is not None and const.floating and const.size > 1 and \
            const.dims == _per_channel(r, x, len(const.dims)):  # ConvNeXt's layer scale
        r.set(node, r.b.layer(r.name(node), node.op_type, "layer-scale",
                              layers.make("layer-scale"), x, r.out(node), params=const.size))
        return
    _arithmetic("mul", const)


def _per_channel(r: _Reader, x: int, rank: int) -> tuple[int, ...]:
    """The dims of one value per channel, broadcast along ``x``'s channel axis: (C, 1, 1)."""
    full = len(r.b.dims[x])
    channel = layouts.channel_axis(r.b.layout(x), full)
    return tuple(r.b.shape(x).channels if axis == channel else 1
                 for axis in range(full - rank, full))


def scalar_op(r: _Reader, node: Any) -> None:
    """Sub or Div by a number: a term of a decomposed formula."""
    r.x(node, 0)
    _arithmetic(node.op_type.lower(), r.const(node, 1))


def erf(r: _Reader, node: Any) -> None:
    r.x(node)
    raise Elementwise("erf", 0.0)


def concat(r: _Reader, node: Any) -> None:
    if len(node.input) > 1 and node.input[-1] in r.data and \
            not any(n in r.data for n in node.input[:-1]):
        class_token(r, node)
        return
    tensors = tuple(r.x(node, i) for i in range(len(node.input)))
    rank = len(r.b.dims[tensors[0]])
    axis = layouts.normalise_axis(int(attrs(node)["axis"]), rank)
    if axis != layouts.channel_axis(r.b.layout(tensors[0]), rank):
        raise Unsupported("a concat along other axes than the channels")
    r.set(node, r.b.merge(r.name(node), node.op_type, "concat", tensors, r.out(node)))


def class_token(r: _Reader, node: Any) -> None:
    """Learnt tokens concatenated before a sequence (N, L, C) along its tokens: ViT's class
    token (the constant is the token itself, or the token expanded to the batch)."""
    x = r.x(node, len(node.input) - 1)
    dims = r.b.dims[x]
    tokens = [r.const(node, i) for i in range(len(node.input) - 1)]
    if r.b.layout(x).form != "last" or len(dims) != 3 or \
            layouts.normalise_axis(int(attrs(node)["axis"]), 3) != 1 or \
            any(t is None or not t.floating or t.dims[::2] != dims[::2] for t in tokens):
        raise Unsupported("a concat of constants and a tensor that is not learnt tokens put "
                          "before a sequence (N, L, C)")
    count = sum(t.dims[1] for t in tokens if t is not None)
    r.held.update((id(node), i) for i in range(len(tokens)))
    r.set(node, r.b.layer(r.name(node), node.op_type, "class-token",
                          layers.make("class-token", count=count), x, r.out(node),
                          params=sum(t.size for t in tokens if t is not None)))


def _channel_parts(r: _Reader, node: Any, x: int, axis: int) -> int:
    rank = len(r.b.dims[x])
    axis = layouts.normalise_axis(axis, rank)
    if axis != layouts.channel_axis(r.b.layout(x), rank):
        raise Unsupported("a split along other axes than the channels")
    return axis


def split(r: _Reader, node: Any) -> None:
    x = r.x(node)
    axis = _channel_parts(r, node, x, int(attrs(node).get("axis", 0)))
    start = 0
    name = r.name(node)
    for index, output in enumerate(node.output):
        dims = r.out(node, index)
        r.data[output] = r.b.part(f"{name}.{index}", node.op_type, x,
                                  (start, start + dims[axis]), dims)
        start += dims[axis]


def slice_(r: _Reader, node: Any) -> None:
    """A slice of the channels (and only them, by step 1): one part of a channel split."""
    x = r.x(node)
    before = r.b.dims[x]
    starts, ends = (r.const(node, i, small=True) for i in (1, 2))
    axes_const, steps = r.const(node, 3, small=True), r.const(node, 4, small=True)
    if starts is None or ends is None:
        raise Unsupported("a Slice without constant bounds")
    first = _ints(starts.value.reshape(-1))
    last = _ints(ends.value.reshape(-1))
    axes = _ints(axes_const.value.reshape(-1)) if axes_const is not None else \
        tuple(range(len(first)))
    if steps is not None and any(s != 1 for s in _ints(steps.value.reshape(-1))):
        raise Unsupported("a Slice with steps")
    moved = [(layouts.normalise_axis(a, len(before)), b, e) for a, b, e in
             zip(axes, first, last, strict=True)]
    cut = [(a, b, e) for a, b, e in moved
           if not (min(max(b + before[a] if b < 0 else b, 0), before[a]) == 0 and
                   min(e + before[a] if e < 0 else e, before[a]) == before[a])]
    if len(cut) != 1:
        raise Unsupported("a Slice of other axes than the channels alone")
    axis, begin, end = cut[0]
    _channel_parts(r, node, x, axis)
    size = before[axis]
    begin = min(max(begin + size if begin < 0 else begin, 0), size)
    end = min(max(end + size if end < 0 else end, 0), size)
    r.set(node, r.b.part(r.name(node), node.op_type, x, (begin, end), r.out(node)))


def view(r: _Reader, node: Any) -> None:
    """Reshape, Flatten, Squeeze, Unsqueeze: the dims ONNX infers before and after."""
    x = r.x(node)
    after = r.out(node)
    if len(after) == 1 and r.b.dims[x][0] == 1 and after[0] == prod(r.b.dims[x]):
        # every element in one vector, the batch of 1 with them: kept as (1, n), and
        # remembered, so that the Gather torch's dynamo exporter follows it with is read
        r.set(node, r.b.view(r.name(node), node.op_type, x, (1, after[0]), layouts.FLAT))
        r.batchless[r.data[node.output[0]]] = x
        return
    form = layouts.reshape(r.b.layout(x), r.b.dims[x], after)
    if form is None:
        raise Unsupported(f"a reshape from {list(r.b.dims[x])} to {list(after)}")
    r.set(node, r.b.view(r.name(node), node.op_type, x, after, form))


def gather(r: _Reader, node: Any) -> None:
    """A Gather that picks every element of a whole-tensor vector once more: torch's dynamo
    exporter writes a flatten, or a view back to the tensor's own shape, so (``as_strided``).
    Any order of the same elements has the same shape and counts; picking fewer or more,
    or into another shape, is refused."""
    x = r.x(node)
    indices = r.const(node, 1)
    if indices is not None and indices.dims == () and indices.value is not None and \
            r.b.layout(x).form == "last" and len(r.b.dims[x]) == 3 and \
            layouts.normalise_axis(int(attrs(node).get("axis", 0)), 3) == 1:
        take_token(r, node, x, int(indices.value))
        return
    size, out = r.b.dims[x][1], r.out(node)
    source = r.batchless.get(x)
    if source is None or int(attrs(node).get("axis", 0)) != 0 or indices is None or \
            indices.size != size or indices.dims != out:
        raise Unsupported("a Gather that is not a reordering of a flattened tensor")
    if out == r.b.dims[source]:
        r.set(node, source)
    elif out == (1, size):
        r.set(node, x)
    else:
        raise Unsupported(f"a Gather of a flattened tensor into {list(out)}")


def take_token(r: _Reader, node: Any, x: int, index: int) -> None:
    """``x[:, i]`` of a sequence (N, L, C): one token as a vector (ViT's class token)."""
    length = r.b.dims[x][1]
    if not -length <= index < length:
        raise Unsupported(f"token {index} of {length}")
    r.set(node, r.b.layer(r.name(node), node.op_type, "take-token",
                          layers.make("take-token", index=index % length), x, r.out(node)))


def transpose(r: _Reader, node: Any) -> None:
    x = r.x(node)
    rank = len(r.b.dims[x])
    perm = _ints(attrs(node).get("perm", list(range(rank))[::-1]))
    form = layouts.permute(r.b.layout(x), perm)
    if form is None:
        raise Unsupported(f"a permutation {list(perm)} of axes laid out as ({r.b.layout(x)})")
    r.set(node, r.b.view(r.name(node), node.op_type, x, r.out(node), form))


def shape(r: _Reader, node: Any) -> None:
    """The shape of a tensor is a constant here: every size is known."""
    import numpy as np

    from convcalc.importers.from_onnx import Const

    a = attrs(node)
    name = node.input[0]
    # a tensor inside recognised attention has no convcalc tensor, but ONNX knows its dims
    known = r.b.dims[r.data[name]] if name in r.data else r.shapes.get(name)
    if known is None:
        raise Unsupported("the shape of a tensor convcalc does not follow")
    dims = known[int(a.get("start", 0)):a.get("end")]
    r.consts[node.output[0]] = Const((len(dims),), False, np.array(dims, dtype=np.int64),
                                     node.output[0])


# Ops that rearrange constants: large ones (ViT's class token expanded to the batch) are
# constants of the dims ONNX infers, whose values are never read
DERIVED = ("Expand", "Transpose", "Reshape", "Unsqueeze", "Squeeze", "Flatten", "Gather",
           "Cast", "Identity", "Slice", "Concat", "Tile")

HANDLERS: dict[str, Handler] = {
    "Conv": conv, "ConvTranspose": conv_transpose,
    "MaxPool": pool("maxpool"), "AveragePool": pool("avgpool"),
    "GlobalAveragePool": global_pool("global-avgpool"),
    "GlobalMaxPool": global_pool("global-maxpool"),
    "ReduceMean": reduce("global-avgpool"), "ReduceMax": reduce("global-maxpool"),
    "Resize": resize, "Upsample": resize, "Pad": pad,
    "Gemm": gemm, "MatMul": matmul, "BatchNormalization": batch_norm,
    "LayerNormalization": layer_norm,
    "Relu": activation("relu"), "Sigmoid": activation("sigmoid"),
    "Tanh": activation("tanh"), "HardSwish": activation("hard-swish"),
    "HardSigmoid": activation("hard-sigmoid"), "Gelu": activation("gelu"),
    "LeakyRelu": leaky_relu, "Softmax": softmax, "Clip": clip,
    "Dropout": dropout, "Identity": identity,
    "Add": add, "Mul": mul, "Sub": scalar_op, "Div": scalar_op, "Erf": erf,
    "Concat": concat, "Split": split, "Slice": slice_,
    "Reshape": view, "Flatten": view, "Squeeze": view, "Unsqueeze": view,
    "Transpose": transpose, "Shape": shape, "Gather": gather,
}


# --- constants -----------------------------------------------------------------------------


def fold(r: _Reader, node: Any) -> bool:
    """Evaluate a node whose inputs are all constants, if it is one of the few integer and
    shape ops exporters use to compute sizes; False leaves the node to its handler."""
    from convcalc.importers.from_onnx import Const

    if node.op_type == "Constant":
        const = _constant(node)
        if const is None:
            return False
        r.consts[node.output[0]] = const
        return True
    folder = FOLDERS.get(node.op_type)
    values = [r.consts[n].value if n else None for n in node.input]
    if folder is None or any(v is None for v, n in zip(values, node.input, strict=True) if n):
        return False
    try:
        result = folder(attrs(node), values)
    except (ValueError, IndexError, TypeError, ZeroDivisionError, OverflowError,
            AttributeError):  # AttributeError: an optional input cut (None)
        return False
    if result.size > SMALL or len(node.output) != 1:
        return False
    r.consts[node.output[0]] = Const(tuple(int(d) for d in result.shape),
                                     result.dtype.kind == "f", result, node.output[0])
    return True


def _constant(node: Any) -> Const | None:
    import numpy as np
    from onnx import numpy_helper

    from convcalc.importers.from_onnx import Const

    for a in node.attribute:
        if a.name == "value":
            dims = tuple(int(d) for d in a.t.dims)
            floating = a.t.data_type in (1, 10, 11, 16)
            if prod(dims) > SMALL:
                return Const(dims, floating, None, node.output[0])
            return Const(dims, floating, numpy_helper.to_array(a.t), node.output[0])
        if a.name in ("value_int", "value_ints", "value_float", "value_floats"):
            values = attrs(node)[a.name]
            array = np.array(values, dtype=np.float32 if "float" in a.name else np.int64)
            if array.size > SMALL:
                return None
            return Const(tuple(array.shape), "float" in a.name, array, node.output[0])
    return None


def _int_div(a: Any, b: Any) -> Any:
    import numpy as np

    if a.dtype.kind == "f" or b.dtype.kind == "f":
        return a / b
    return np.sign(a) * np.sign(b) * (np.abs(a) // np.abs(b))  # ONNX truncates


def _slice(a: dict[str, Any], v: list[Any]) -> Any:
    data, starts, ends = v[0], v[1], v[2]
    axes = v[3] if len(v) > 3 and v[3] is not None else range(len(starts))
    steps = v[4] if len(v) > 4 and v[4] is not None else [1] * len(starts)
    index = [slice(None)] * data.ndim
    for axis, b, e, s in zip(axes, starts, ends, steps, strict=True):
        index[int(axis)] = slice(int(b), int(e), int(s))
    return data[tuple(index)]


def _folders() -> dict[str, Callable[[dict[str, Any], list[Any]], Any]]:
    import numpy as np

    def axes(a: dict[str, Any], v: list[Any]) -> tuple[int, ...]:
        return _ints(v[1]) if len(v) > 1 and v[1] is not None else _ints(a.get("axes", []))

    return {
        "Identity": lambda a, v: v[0],
        "Cast": lambda a, v: v[0].astype(np.float64 if a.get("to") in (1, 10, 11, 16)
                                         else np.int64),
        "Gather": lambda a, v: np.take(v[0], v[1], axis=int(a.get("axis", 0))),
        "Unsqueeze": lambda a, v: np.expand_dims(v[0], tuple(
            int(x) % (v[0].ndim + len(axes(a, v))) for x in axes(a, v))),
        "Squeeze": lambda a, v: np.squeeze(v[0], tuple(int(x) % v[0].ndim
                                                       for x in axes(a, v)) or None),
        "Concat": lambda a, v: np.concatenate(v, axis=int(a.get("axis", 0))),
        "Add": lambda a, v: v[0] + v[1], "Sub": lambda a, v: v[0] - v[1],
        "Mul": lambda a, v: v[0] * v[1], "Div": lambda a, v: _int_div(v[0], v[1]),
        "Slice": _slice,
        "Reshape": lambda a, v: v[0].reshape(_ints(v[1])),
        "Equal": lambda a, v: v[0] == v[1],
        "Where": lambda a, v: np.where(v[0], v[1], v[2]),
        "ConstantOfShape": lambda a, v: np.full(_ints(v[0]), a["value"].reshape(-1)[0]
                                                if "value" in a else np.float32(0))
        if prod(_ints(v[0])) <= SMALL else np.zeros(SMALL + 1),
        "Range": lambda a, v: np.arange(v[0], v[1], v[2]) if abs((v[1] - v[0]) /
                                                                (v[2] or 1)) <= SMALL
        else np.zeros(SMALL + 1),
    }


class _Lazy(dict[str, Callable[[dict[str, Any], list[Any]], Any]]):
    """The folders, made on first use (numpy is imported only with onnx)."""

    def get(self, key: str, default: Any = None) -> Any:
        if not self:
            self.update(_folders())
        return super().get(key, default)


FOLDERS = _Lazy()
