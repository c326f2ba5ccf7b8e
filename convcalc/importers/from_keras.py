"""A Keras model as an op graph, from its saved configuration: no Keras needed.

Reads ``model.keras`` (a zip whose ``config.json`` is the model's configuration; the
weights beside it are never opened) or the JSON of ``model.to_json()``: Sequential and
Functional models, in the formats of Keras 3 and of tf.keras 2. The spec comes out under
Keras' size rules (``rules: keras``): its padding words, its pooling without ceil mode, the
output padding its transposed convolutions infer.

A configuration holds no weights, so the counts (params, buffers, MACs) are convcalc's,
from each layer's settings. The shapes are held to Keras' own record: every layer of a
Functional model saves the input shape it was built for (``build_config``), and a size
convcalc's Keras rules compute differently fails the import, naming the layer.
"""

from __future__ import annotations

import json
import os
import zipfile
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
from convcalc.rules import KERAS
from convcalc.shape import Shape

MAX_BYTES = 64 * 2**20  # a configuration, not weights: even huge models stay far below
MAX_LAYERS = 100_000
Key = tuple[str, int, int]  # (layer name, node index, tensor index): a Keras tensor

# Keras' activation names (keras.activations) in convcalc's words; "linear" is none.
ACTIVATIONS: dict[str, str | None] = {
    "linear": None, "relu": "relu", "relu6": "relu6", "sigmoid": "sigmoid", "tanh": "tanh",
    "softmax": "softmax", "swish": "silu", "silu": "silu", "gelu": "gelu",
    "hard_sigmoid": "hard-sigmoid", "hard_swish": "hard-swish", "hard_silu": "hard-swish",
}


def read(path: str, input_shape: Shape | None) -> Graph:
    """The graph of a ``.keras`` file or a ``model.to_json()`` file."""
    document = _document(path)
    return _Reader(path, document, input_shape).read()


def _document(path: str) -> dict[str, Any]:
    """The model's configuration: ``config.json`` in the zip, or the JSON file itself."""
    regular_size(path, 2**40, "a Keras model")  # a .keras zip holds the weights too
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                try:
                    info = archive.getinfo("config.json")
                except KeyError:
                    raise ImportFailure(f"{path}: a zip without config.json is not a .keras "
                                        "model") from None
                if info.file_size > MAX_BYTES:
                    raise ImportFailure(f"{path}: its config.json is over {MAX_BYTES:,} bytes")
                text = archive.read(info).decode("utf-8")
        else:
            if os.path.getsize(path) > MAX_BYTES:
                raise ImportFailure(f"{path}: over {MAX_BYTES:,} bytes, not a Keras "
                                    "configuration")
            with open(path, encoding="utf-8") as handle:
                text = handle.read(MAX_BYTES + 1)
            if len(text) > MAX_BYTES:
                raise ImportFailure(f"{path}: over {MAX_BYTES:,} characters, not a Keras "
                                    "configuration")
        document = json.loads(text)
    except RecursionError:  # the C decoder recurses once per nested list or object
        raise ImportFailure(f"{path}: its JSON nests too deep for a Keras "
                            "configuration") from None
    except (OSError, UnicodeDecodeError, ValueError, zipfile.BadZipFile) as exc:
        raise ImportFailure(f"{path}: cannot be read as a Keras model ({exc})") from None
    if not isinstance(document, dict) or not isinstance(document.get("config"), dict) or \
            document.get("class_name") not in ("Sequential", "Functional", "Model"):
        raise ImportFailure(f"{path}: not a Keras Sequential or Functional model's "
                            "configuration")
    return document


def _ints(value: Any, what: str) -> tuple[int, ...]:
    """A size Keras writes as one number or a list of them."""
    values = value if isinstance(value, list | tuple) else [value]
    if not values or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0
                             for v in values):
        raise Unsupported(f"its {what} {value!r} is not a list of sizes")
    return tuple(values)


class _Reader:
    def __init__(self, path: str, document: dict[str, Any], input_shape: Shape | None) -> None:
        self.path, self.document, self.input_shape = path, document, input_shape
        config = document["config"]
        self.b = Builder(str(config.get("name") or os.path.basename(path)), path)
        self.b.graph.rules = "keras"  # its layers are sized by Keras' rules
        self.tensors: dict[Key, int | None] = {}  # None: after a layer convcalc cannot read
        self.params = self.buffers = self.macs = 0
        self.failed: list[Problem] = []

    # --- the model ---------------------------------------------------------------------------

    def read(self) -> Graph:
        config = self.document["config"]
        entries = config.get("layers")
        if not isinstance(entries, list) or not entries:
            raise ImportFailure(f"{self.path}: the model has no layers")
        if len(entries) > MAX_LAYERS:
            raise ImportFailure(f"{self.path}: more than {MAX_LAYERS:,} layers")
        if self.document["class_name"] == "Sequential":
            output = self.sequential(config, entries)
        else:
            output = self.functional(config, entries)
        if self.failed or output is None:
            raise ImportFailure(f"{len(self.failed)} layer(s) convcalc cannot express",
                                tuple(self.failed))
        graph = self.b.graph
        graph.output = output
        version = self.document.get("keras_version") or "3"
        graph.source = (f"{os.path.basename(self.path)} (a Keras {version} "
                        f"{self.document['class_name']} configuration)")
        graph.notes.append("a Keras configuration holds no weights: params, buffers and MACs "
                           "are convcalc's counts from each layer's settings")
        graph.totals = Totals(self.params, self.buffers, self.macs, self.b.shape(output),
                              "convcalc's count from the layers' settings")
        return graph

    def sequential(self, config: dict[str, Any], entries: list[Any]) -> int | None:
        first = entries[0]
        declared = config.get("build_input_shape")
        if isinstance(first, dict) and first.get("class_name") == "InputLayer":
            declared, entries = _batch_shape(first.get("config", {})), entries[1:]
        x: int | None = self.input(declared)
        for entry in entries:
            x = self.layer(entry, (x,))
        return x

    def functional(self, config: dict[str, Any], entries: list[Any]) -> int | None:
        for entry in entries:
            if not isinstance(entry, dict):
                raise ImportFailure(f"{self.path}: a layer entry that is not a mapping")
            name = str(entry.get("name") or entry.get("config", {}).get("name"))
            if entry.get("class_name") == "InputLayer":
                if self.b.graph.input >= 0:
                    raise ImportFailure(f"{self.path}: more than one input; convcalc models "
                                        "have one")
                self.tensors[(name, 0, 0)] = self.input(_batch_shape(entry.get("config", {})))
                continue
            keys = _inbound(entry)
            missing = [key for key in keys if key not in self.tensors]
            if missing or len({key[1] for key in keys}) > 1 or any(k[1] for k in keys):
                raise ImportFailure(f"{self.path}: {name} reads {missing or keys}, which is not "
                                    "an earlier layer's output (a shared layer or a layer "
                                    "out of order)")
            self.tensors[(name, 0, 0)] = self.layer(entry, tuple(self.tensors[k] for k in keys))
        outputs = config.get("output_layers")
        keys = [_key(key) for key in outputs] if isinstance(outputs, list) and \
            outputs and isinstance(outputs[0], list) else [_key(outputs)]
        if len(keys) != 1 or keys[0] not in self.tensors:
            raise ImportFailure(f"{self.path}: {len(keys)} outputs; convcalc models have one")
        return self.tensors[keys[0]]

    def input(self, declared: Any) -> int:
        """The input tensor, channels last as Keras lays images out."""
        if not isinstance(declared, list | tuple) or len(declared) < 2:
            raise ImportFailure(f"{self.path}: the model's input shape is not recorded")
        dims = list(declared[1:])
        if self.input_shape is not None:
            dims = [*self.input_shape.spatial, self.input_shape.channels]
        if any(not isinstance(d, int) or d < 1 for d in dims):
            raise ImportFailure(f"{self.path}: the input's shape {declared} is not fixed: "
                                "give it with --input HxWxC")
        form = layouts.LAST if len(dims) > 1 else layouts.FLAT
        try:
            tensor = self.b.tensor((1, *dims), form)
        except Unsupported as exc:
            raise ImportFailure(f"{self.path}: {exc}") from None
        self.b.graph.input = tensor
        return tensor

    # --- one layer ---------------------------------------------------------------------------

    def layer(self, entry: Any, read: tuple[int | None, ...]) -> int | None:
        """The layer's output tensor; None when it (or a layer before it) cannot be read."""
        if not isinstance(entry, dict) or not isinstance(entry.get("config"), dict):
            raise ImportFailure(f"{self.path}: a layer entry without its config")
        config: dict[str, Any] = entry["config"]
        origin = str(entry.get("class_name"))
        name = str(config.get("name") or entry.get("name") or origin.lower())
        inputs = tuple(x for x in read if x is not None)
        if len(inputs) != len(read):
            return None  # its input is already reported
        try:
            if config.get("data_format", "channels_last") != "channels_last":
                raise Unsupported("channels_first data")
            handler = HANDLERS.get(origin)
            if handler is None:
                raise Unsupported("convcalc has no layer for this Keras layer")
            self.recorded(entry, inputs, name)
            return handler(self, name, origin, config, inputs)
        except (KeyError, TypeError, ValueError) as exc:  # a setting missing or malformed
            reason = f"a setting is missing or malformed ({type(exc).__name__})"
        except Unsupported as exc:
            reason = str(exc)
        self.failed.append(Problem(self.path, 0, 0, ERROR, "unsupported-op",
                                   f"{name} ({origin}): {reason}"))
        return None

    def recorded(self, entry: dict[str, Any], inputs: tuple[int, ...], name: str) -> None:
        """Keras' own record of the layer's input against the shape convcalc computed."""
        build = entry.get("build_config")
        shape = build.get("input_shape") if isinstance(build, dict) else None
        if not isinstance(shape, list) or len(inputs) != 1 or not shape or \
                isinstance(shape[0], list):
            return
        ours = self.b.dims[inputs[0]][1:]
        if None not in shape[1:] and tuple(shape[1:]) != ours and self.input_shape is None:
            raise ImportFailure(f"{name}: Keras recorded its input as {shape[1:]}, but "
                                f"convcalc's Keras rules give {list(ours)}")

    def emit(self, name: str, origin: str, kind: str, layer: Layer, x: int) -> int:
        """A convcalc layer reading ``x``, sized by Keras' rules; its counts are added up."""
        shape = self.b.shape(x)
        try:
            effect = KERAS.adapt(layer, shape).apply(shape)
        except LayerError as exc:
            raise Unsupported(exc.message) from None
        out = effect.output
        dims = (1, *out.spatial, out.channels) if out.spatial else (1, out.channels)
        self.params, self.buffers = self.params + effect.params, self.buffers + effect.buffers
        self.macs += effect.macs
        form = layouts.LAST if out.spatial else layouts.FLAT
        return self.b.layer(name, origin, kind, layer, x, dims, params=effect.params,
                            buffers=effect.buffers, form=form)


def _batch_shape(config: dict[str, Any]) -> Any:
    return config.get("batch_shape") or config.get("batch_input_shape")


def _key(value: Any) -> Key:
    if isinstance(value, list) and len(value) >= 3:
        return (str(value[0]), int(value[1]), int(value[2]))
    raise ImportFailure(f"a tensor reference {value!r} that is not [layer, node, tensor]")


def _inbound(entry: dict[str, Any]) -> list[Key]:
    """The tensors a layer reads: Keras 3's ``{"args": [...]}`` nodes or tf.keras 2's lists."""
    nodes = entry.get("inbound_nodes")
    if not isinstance(nodes, list) or len(nodes) != 1:
        raise ImportFailure(f"{entry.get('name')}: called {len(nodes or [])} times; convcalc "
                            "reads layers called once")
    node = nodes[0]
    if isinstance(node, list):  # tf.keras 2: [[layer, node, tensor, kwargs], ...]
        return [_key(item) for item in node]
    found: list[Key] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict) and value.get("class_name") == "__keras_tensor__":
            history = value.get("config", {}).get("keras_history")
            found.append(_key(history))
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(node.get("args", []) if isinstance(node, dict) else [])
    return found


# --- the layers, by Keras class name ----------------------------------------------------------

Handler = Callable[[_Reader, str, str, dict[str, Any], tuple[int, ...]], int]


def _activation(config: dict[str, Any]) -> str | None:
    value = config.get("activation", "linear")
    if isinstance(value, dict):  # a serialized function: {"config": "relu", ...}
        value = value.get("config")
    if value not in ACTIVATIONS:
        raise Unsupported(f"the activation {value!r}")
    return ACTIVATIONS[value]


def _padding(config: dict[str, Any]) -> str:
    word = config.get("padding", "valid")
    if word not in ("valid", "same"):
        raise Unsupported(f"padding {word!r} (convcalc's Keras rules take 'valid' and 'same')")
    return str(word)


def _window(config: dict[str, Any]) -> dict[str, Any]:
    return {"k": layers.uniform(_ints(config["kernel_size"], "kernel_size")),
            "stride": layers.uniform(_ints(config.get("strides", 1), "strides")),
            "pad": _padding(config),
            "dilation": layers.uniform(_ints(config.get("dilation_rate", 1), "dilation_rate"))}


def conv(r: _Reader, name: str, origin: str, c: dict[str, Any], xs: tuple[int, ...]) -> int:
    layer = layers.make("conv", filters=c["filters"], groups=c.get("groups", 1),
                        bias=bool(c.get("use_bias", True)), act=_activation(c), **_window(c))
    return r.emit(name, origin, "conv", layer, xs[0])


def depthwise(r: _Reader, name: str, origin: str, c: dict[str, Any],
              xs: tuple[int, ...]) -> int:
    layer = layers.make("depthwise", multiplier=c.get("depth_multiplier", 1),
                        bias=bool(c.get("use_bias", True)), act=_activation(c), **_window(c))
    return r.emit(name, origin, "depthwise", layer, xs[0])


def separable(r: _Reader, name: str, origin: str, c: dict[str, Any],
              xs: tuple[int, ...]) -> int:
    layer = layers.make("separable", filters=c["filters"],
                        multiplier=c.get("depth_multiplier", 1),
                        bias=bool(c.get("use_bias", True)), act=_activation(c), **_window(c))
    return r.emit(name, origin, "separable", layer, xs[0])


def transposed(r: _Reader, name: str, origin: str, c: dict[str, Any],
               xs: tuple[int, ...]) -> int:
    extra = c.get("output_padding")
    layer = layers.make("conv-transpose", filters=c["filters"],
                        output_padding=None if extra is None else
                        layers.uniform(_ints(extra, "output_padding")),
                        bias=bool(c.get("use_bias", True)), act=_activation(c), **_window(c))
    return r.emit(name, origin, "conv-transpose", layer, xs[0])


def pool(kind: str) -> Handler:
    def handler(r: _Reader, name: str, origin: str, c: dict[str, Any],
                xs: tuple[int, ...]) -> int:
        k = layers.uniform(_ints(c["pool_size"], "pool_size"))
        stride = layers.uniform(_ints(c.get("strides") or c["pool_size"], "strides"))
        fields: dict[str, Any] = {"k": k, "pad": _padding(c)}
        if stride != k:
            fields["stride"] = stride
        return r.emit(name, origin, kind, layers.make(kind, **fields), xs[0])

    return handler


def global_pool(kind: str) -> Handler:
    def handler(r: _Reader, name: str, origin: str, c: dict[str, Any],
                xs: tuple[int, ...]) -> int:
        layer = layers.make(kind, keepdims=bool(c.get("keepdims", False)))
        return r.emit(name, origin, kind, layer, xs[0])

    return handler


def batch_norm(r: _Reader, name: str, origin: str, c: dict[str, Any],
               xs: tuple[int, ...]) -> int:
    axis = c.get("axis", -1)
    rank = len(r.b.dims[xs[0]])
    if (axis[0] if isinstance(axis, list) and len(axis) == 1 else axis) not in (-1, rank - 1):
        raise Unsupported(f"normalisation over axis {axis}, not the channels")
    center, scale = bool(c.get("center", True)), bool(c.get("scale", True))
    if center != scale:
        raise Unsupported("a shift without a scale (or the reverse): convcalc's bn has both "
                          "or neither")
    return r.emit(name, origin, "bn", layers.make("bn", affine=center), xs[0])


def dense(r: _Reader, name: str, origin: str, c: dict[str, Any], xs: tuple[int, ...]) -> int:
    if r.b.shape(xs[0]).spatial:
        raise Unsupported("a Dense layer on a tensor with spatial axes (Keras applies it at "
                          "every position; convcalc's fc flattens first)")
    layer = layers.make("fc", units=c["units"], bias=bool(c.get("use_bias", True)),
                        act=_activation(c))
    return r.emit(name, origin, "fc", layer, xs[0])


def flatten(r: _Reader, name: str, origin: str, c: dict[str, Any], xs: tuple[int, ...]) -> int:
    return r.b.view(name, origin, xs[0], (1, r.b.shape(xs[0]).size), layouts.FLAT)


def reshape(r: _Reader, name: str, origin: str, c: dict[str, Any], xs: tuple[int, ...]) -> int:
    target = _ints(c["target_shape"], "target_shape")
    form = layouts.FLAT if len(target) == 1 else layouts.LAST
    return r.b.view(name, origin, xs[0], (1, *target), form)


def merge(op: str) -> Handler:
    def handler(r: _Reader, name: str, origin: str, c: dict[str, Any],
                xs: tuple[int, ...]) -> int:
        rank = len(r.b.dims[xs[0]])
        if op == "concat" and c.get("axis", -1) not in (-1, rank - 1):
            raise Unsupported(f"concatenation along axis {c.get('axis')}, not the channels")
        try:
            shape = MERGES[op]([r.b.shape(x) for x in xs])
        except LayerError as exc:
            raise Unsupported(exc.message) from None
        dims = (1, *shape.spatial, shape.channels) if shape.spatial else (1, shape.channels)
        return r.b.merge(name, origin, op, xs, dims)

    return handler


def zero_pad(r: _Reader, name: str, origin: str, c: dict[str, Any], xs: tuple[int, ...]) -> int:
    ndim = len(r.b.shape(xs[0]).spatial)
    value = c.get("padding", 1)
    if isinstance(value, int):
        pairs = ((value, value),) * ndim
    elif all(isinstance(v, int) for v in value):
        pairs = tuple((v, v) for v in value)
    else:
        pairs = tuple((int(a), int(b)) for a, b in value)
    return r.emit(name, origin, "zeropad", layers.make("zeropad", pad=layers.pads(pairs)),
                  xs[0])


def activation(r: _Reader, name: str, origin: str, c: dict[str, Any],
               xs: tuple[int, ...]) -> int:
    kind = _activation(c) or "identity"
    return r.emit(name, origin, kind, layers.make(kind), xs[0])


def relu(r: _Reader, name: str, origin: str, c: dict[str, Any], xs: tuple[int, ...]) -> int:
    top, slope = c.get("max_value"), c.get("negative_slope", 0) or 0
    if c.get("threshold", 0) or (top is not None and (top != 6 or slope)):
        raise Unsupported("a ReLU with a threshold, or a cap other than 6")
    if slope:
        return r.emit(name, origin, "leaky-relu", layers.make("leaky-relu", slope=float(slope)),
                      xs[0])
    kind = "relu" if top is None else "relu6"
    return r.emit(name, origin, kind, layers.make(kind), xs[0])


def leaky(r: _Reader, name: str, origin: str, c: dict[str, Any], xs: tuple[int, ...]) -> int:
    slope = c.get("negative_slope", c.get("alpha", 0.3))
    return r.emit(name, origin, "leaky-relu", layers.make("leaky-relu", slope=float(slope)),
                  xs[0])


def simple(kind: str) -> Handler:
    def handler(r: _Reader, name: str, origin: str, c: dict[str, Any],
                xs: tuple[int, ...]) -> int:
        fields = {"rate": float(c.get("rate", 0.5))} if kind == "dropout" else {}
        return r.emit(name, origin, kind, layers.make(kind, **fields), xs[0])

    return handler


HANDLERS: dict[str, Handler] = {
    **dict.fromkeys(("Conv1D", "Conv2D", "Conv3D"), conv),
    **dict.fromkeys(("DepthwiseConv1D", "DepthwiseConv2D"), depthwise),
    **dict.fromkeys(("SeparableConv1D", "SeparableConv2D"), separable),
    **dict.fromkeys(("Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose"), transposed),
    **dict.fromkeys(("MaxPooling1D", "MaxPooling2D", "MaxPooling3D"), pool("maxpool")),
    **dict.fromkeys(("AveragePooling1D", "AveragePooling2D", "AveragePooling3D"),
                    pool("avgpool")),
    **dict.fromkeys(("GlobalAveragePooling1D", "GlobalAveragePooling2D",
                     "GlobalAveragePooling3D"), global_pool("global-avgpool")),
    **dict.fromkeys(("GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D"),
                    global_pool("global-maxpool")),
    "BatchNormalization": batch_norm,
    "Dense": dense,
    "Flatten": flatten,
    "Reshape": reshape,
    "Add": merge("add"),
    "Multiply": merge("mul"),
    "Concatenate": merge("concat"),
    **dict.fromkeys(("ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D"), zero_pad),
    "Activation": activation,
    "ReLU": relu,
    "LeakyReLU": leaky,
    "Softmax": simple("softmax"),
    **dict.fromkeys(("Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D"),
                    simple("dropout")),
}
