"""An ONNX file as an op graph: read with the ``onnx`` package, never executed.

The file is bounded in size and parsed without its external data (the weights' values are
never needed, only their shapes). Shapes come from ONNX's own shape inference, run on a
copy whose large initializers are reduced to their declared types, so it costs little
whatever the weights weigh. Small constants (a Reshape's target, a Slice's bounds) are
evaluated here, by a handful of integer operations on at most :data:`SMALL` elements each:
nothing in the file is run.

The totals are the file's own: params and buffers are the elements of the float tensors
the graph reads as weights (``WEIGHTS``), and MACs are counted from ONNX's shapes for each
Conv, ConvTranspose, Gemm and MatMul, per example.
"""

from __future__ import annotations

import ast
import dataclasses
import os
import re
from dataclasses import dataclass
from math import prod
from typing import Any

from convcalc.importers import onnx_attention, onnx_ops
from convcalc.importers.graph import (
    Builder,
    Facts,
    Graph,
    ImportFailure,
    Totals,
    Unsupported,
    regular_size,
)
from convcalc.shape import Shape

MAX_BYTES = 2**31  # protobuf's own limit on one message
MAX_NODES = 200_000
SMALL = 64  # constants with more elements are weights: their values are never read
# What a handler raises on a node whose attributes or inputs are missing or out of range
MALFORMED = (KeyError, IndexError, ValueError, TypeError, ZeroDivisionError, OverflowError,
             AssertionError)

# Inputs (by position) that hold weights: float constants there are params ...
WEIGHTS: dict[str, tuple[int, ...]] = {
    "Conv": (1, 2), "ConvTranspose": (1, 2), "Gemm": (1, 2), "MatMul": (0, 1),
    "BatchNormalization": (1, 2), "LayerNormalization": (1, 2),
    "InstanceNormalization": (1, 2), "PRelu": (1,),
    "Add": (0, 1), "Mul": (0, 1), "Sub": (0, 1), "Div": (0, 1),
}
# ... except a single number read by arithmetic (GELU's 0.5 and √2), which is a constant of a
# formula; and batch norm's running mean and variance, which are buffers.
ARITHMETIC = ("Add", "Mul", "Sub", "Div")
BUFFERS = {"BatchNormalization": (3, 4)}


@dataclass
class Const:
    """A constant: its dims and dtype, and its values when it is small enough to read."""

    dims: tuple[int, ...]
    floating: bool
    value: Any = None  # a numpy array, or None for a large tensor
    source: str = ""  # the initializer or Constant node it comes from

    @property
    def size(self) -> int:
        return prod(self.dims)


def read(path: str, input_shape: Shape | None) -> Graph:
    """The graph of an ONNX file at its declared input (or ``input_shape``)."""
    try:
        import onnx  # noqa: F401 - missing, it is one line, not a traceback
    except ImportError:
        raise ImportFailure('importing an ONNX file needs onnx: pip install '
                            '"convcalc[onnx]"') from None
    model = _load(path)
    reader = _Reader(model, path, input_shape)
    return reader.read()


def _load(path: str) -> Any:
    import onnx

    regular_size(path, MAX_BYTES, "an ONNX model")
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_BYTES + 1)  # however much the file said it holds
    except OSError as exc:
        raise ImportFailure(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_BYTES:
        raise ImportFailure(f"{path} has more than {MAX_BYTES:,} bytes")
    try:
        model = onnx.load_model_from_string(data)  # external data is never opened
    except Exception as exc:  # protobuf's DecodeError and friends
        raise ImportFailure(f"{path} is not a readable ONNX model ({type(exc).__name__}: "
                            f"{_printable(' '.join(str(exc).split()), 200)})") from None
    if not model.graph.node:
        raise ImportFailure(f"{path} holds no graph (an empty or truncated file?)")
    if len(model.graph.node) > MAX_NODES:
        raise ImportFailure(f"{path} has {len(model.graph.node):,} nodes; the limit is "
                            f"{MAX_NODES:,}")
    return model


def _dims(value_type: Any) -> tuple[int, ...] | None:
    """Known dims of a tensor type, the first (the batch) taken as 1 when symbolic."""
    if not value_type.HasField("tensor_type") or \
            not value_type.tensor_type.HasField("shape"):
        return None
    dims = []
    for index, dim in enumerate(value_type.tensor_type.shape.dim):
        if dim.HasField("dim_value") and dim.dim_value > 0:
            dims.append(int(dim.dim_value))
        elif index == 0:
            dims.append(1)
        else:
            return None
    return tuple(dims)


def _printable(text: str, limit: int = 120) -> str:
    return "".join(c if c.isprintable() else "?" for c in text)[:limit]


def _scopes(node: Any) -> list[str] | None:
    """The module path torch's dynamo exporter records on a node, if any."""
    for prop in node.metadata_props:
        if prop.key == "pkg.torch.onnx.name_scopes" and len(prop.value) < 4000:
            try:
                found = ast.literal_eval(prop.value)  # a list of strings: literals only
            except (ValueError, SyntaxError, MemoryError, RecursionError):
                return None
            if isinstance(found, list) and all(isinstance(s, str) for s in found):
                return found
    return None


def _legacy_path(name: str) -> tuple[str, str] | None:
    """``/features/features.1/block/block.0/Conv`` → (``features.1.block.0``, ``Conv``):
    torch's older exporter names a node by its module scopes, where a scope either extends
    the one before (``features`` → ``features.1``: a Sequential's child) or is a child of
    it (``block``)."""
    if not name.startswith("/"):
        return None
    *scopes, op = name[1:].split("/")
    path, before = "", None
    for scope in scopes:
        if before is not None and scope.startswith(before + "."):
            path += scope[len(before):]
        else:
            path = f"{path}.{scope}" if path else scope
        before = scope
    return path, op


class _Reader:
    """Walks the nodes in order, keeping data tensors (by id) and constants apart."""

    def __init__(self, model: Any, path: str, input_shape: Shape | None) -> None:
        self.model = model
        self.path = path
        self.graph = model.graph
        self.opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")),
                          0)
        stem = os.path.splitext(os.path.basename(path))[0]
        self.b = Builder(stem, path)
        self.consts: dict[str, Const] = {}
        self.data: dict[str, int] = {}  # value name -> tensor id
        self.shapes: dict[str, tuple[int, ...]] = {}
        self.readers: dict[str, list[tuple[Any, int]]] = {}
        self.aliases: dict[str, str] = {}  # Identity outputs of constants
        self.batchless: dict[int, int] = {}  # a vector of every element -> its tensor
        self.biasable: dict[int, int] = {}  # a dense layer's output -> its op, bias to come
        # the nodes, held once: protobuf may wrap a node anew on each access, and what
        # handlers remember of a node (``held``, attention regions) is its identity
        self.nodes = list(self.graph.node)
        self.uses = {name: 0 for node in self.nodes for name in node.input}
        for node in self.nodes:
            for name in node.input:
                self.uses[name] += 1
        self.held: set[tuple[int, int]] = set()  # (node, input) a layer holds as params
        self.regions: dict[int, onnx_attention.Region] = {}  # node -> attention it is in
        self.folded: list[Any] = []  # constants evaluated here, for a second inference
        self.macs = 0
        self.batch = 1
        self.input_shape = input_shape
        self.handlers = onnx_ops.HANDLERS

    # --- reading ---------------------------------------------------------------------------

    def read(self) -> Graph:
        self.initializers()
        data_input = self.data_input()
        self.check_order()
        self.infer(data_input)
        if self.sizes_computed():  # older exporters compute sizes with Shape and Gather
            self.infer(data_input)
        self.data[data_input.name] = self.b.input(self.input_dims(data_input))
        self.regions = onnx_attention.find(self, data_input.name)
        for node in self.nodes:
            self.node(node)
        self.finish()
        return self.b.graph

    def initializers(self) -> None:
        from onnx import TensorProto, numpy_helper

        for tensor in self.graph.initializer:
            floating = tensor.data_type in (TensorProto.FLOAT, TensorProto.DOUBLE,
                                            TensorProto.FLOAT16, TensorProto.BFLOAT16)
            dims = tuple(int(d) for d in tensor.dims)
            if any(d < 0 for d in dims):
                raise ImportFailure(f"initializer {_printable(tensor.name)!r} declares "
                                    f"negative dims {list(dims)}")
            const = Const(dims, floating, source=tensor.name)
            if const.size <= SMALL and tensor.data_location != TensorProto.EXTERNAL:
                try:
                    const.value = numpy_helper.to_array(tensor)
                except Exception as exc:  # dims and data disagree: a broken file
                    raise ImportFailure(f"initializer {_printable(tensor.name)!r} cannot be "
                                        f"read: {type(exc).__name__}") from None
            elif tensor.data_location != TensorProto.EXTERNAL:
                self.check_data(tensor, const)
            self.consts[tensor.name] = const

    def check_data(self, tensor: Any, const: Const) -> None:
        """A weight must hold the bytes its dims declare: a 10⁹-element tensor with a few
        bytes is a broken (or hostile) file, refused before anything is built from it."""
        from onnx import helper

        if not tensor.HasField("raw_data"):
            held = max(len(tensor.float_data), len(tensor.int64_data), len(tensor.int32_data),
                       len(tensor.double_data))
            if held != const.size:
                raise ImportFailure(f"initializer {_printable(tensor.name)!r} declares "
                                    f"{const.size:,} elements but holds {held:,}")
            return
        try:
            width = helper.tensor_dtype_to_np_dtype(tensor.data_type).itemsize
        except Exception:
            raise ImportFailure(f"initializer {_printable(tensor.name)!r} has an unknown "
                                f"element type {tensor.data_type}") from None
        if len(tensor.raw_data) != const.size * width:
            raise ImportFailure(f"initializer {_printable(tensor.name)!r} declares "
                                f"{const.size:,} elements ({const.size * width:,} bytes) but "
                                f"holds {len(tensor.raw_data):,} bytes")

    def data_input(self) -> Any:
        inputs = [i for i in self.graph.input if i.name not in self.consts]
        if len(inputs) != 1:
            names = ", ".join(_printable(i.name, 40) for i in inputs[:5])
            raise ImportFailure(f"{self.path} has {len(inputs)} inputs ({names}): convcalc "
                                "models take one")
        return inputs[0]

    def input_dims(self, data_input: Any) -> tuple[int, ...]:
        dims = self.shapes[data_input.name]
        self.batch = dims[0]
        return dims

    def check_order(self) -> None:
        """Every node reads only what exists before it: ONNX requires a topological order, and
        a graph with a cycle cannot have one."""
        known = {i.name for i in self.graph.input} | set(self.consts) | {""}
        for node in self.graph.node:
            for name in node.input:
                if name not in known:
                    raise ImportFailure(f"node {_printable(node.name or node.op_type)!r} reads "
                                        f"{_printable(name)!r} before any node makes it (a "
                                        "cycle, or nodes out of order)")
            known.update(node.output)

    def sizes_computed(self) -> bool:
        """Evaluate the constants the graph computes from shapes (``Shape``, ``Gather``,
        ``Div``...), so that a second round of inference knows them; True when one feeds a
        node whose output's shape is still unknown."""
        from onnx import numpy_helper

        before = set(self.consts)
        for node in self.graph.node:
            if node.op_type == "Shape" and node.input[0] in self.shapes:
                dims = self.shapes[node.input[0]]
                a = onnx_ops.attrs(node)
                import numpy as np

                value = np.array(dims[int(a.get("start", 0)):a.get("end")], dtype=np.int64)
                self.consts[node.output[0]] = Const(value.shape, False, value, node.output[0])
            elif all(n in self.consts or not n for n in node.input):
                onnx_ops.fold(self, node)
        self.folded = [numpy_helper.from_array(self.consts[n].value, n)
                       for n in set(self.consts) - before if self.consts[n].value is not None]
        waiting = any(o not in self.shapes for node in self.graph.node for o in node.output
                      if any(n in self.consts and n not in before for n in node.input))
        for name in set(self.consts) - before:  # read again, in order, by the main pass
            del self.consts[name]
        return bool(self.folded) and waiting

    def infer(self, data_input: Any) -> None:
        """ONNX's shape inference on a light copy: weights reduced to their types, and the
        constants this reader has evaluated given as initializers."""
        import onnx
        from onnx import helper

        graph = self.graph
        folded = {t.name for t in self.folded}
        light = helper.make_graph(
            [n for n in graph.node if not folded.intersection(n.output)], graph.name or "g",
            [self.input_value(data_input),
             *(helper.make_tensor_value_info(t.name, t.data_type, list(t.dims))
               for t in graph.initializer if self.consts[t.name].value is None)],
            list(graph.output),
            [*(t for t in graph.initializer if self.consts[t.name].value is not None),
             *self.folded],
            value_info=list(graph.value_info))
        domains = {o.domain for o in self.model.opset_import}
        missing = {n.domain for n in graph.node} - domains - {"ai.onnx"}
        copy = helper.make_model(light, opset_imports=[  # an op of an undeclared domain is
            *self.model.opset_import,                    # refused by name, not here
            *(helper.make_opsetid(d, 1) for d in sorted(missing))],
            ir_version=self.model.ir_version)
        copy.functions.extend(self.model.functions)
        try:
            inferred = onnx.shape_inference.infer_shapes(copy, strict_mode=False,
                                                         data_prop=True)
        except Exception as exc:
            raise ImportFailure(f"ONNX shape inference refused {self.path}: "
                                f"{_printable(' '.join(str(exc).split()), 200)}") from None
        for value in (*inferred.graph.input, *inferred.graph.value_info,
                      *inferred.graph.output):
            dims = _dims(value.type)
            if dims is not None:
                self.shapes[value.name] = dims

    def input_value(self, data_input: Any) -> Any:
        """The data input with its dims fixed: the batch taken as 1 when symbolic, and
        ``--input`` (HxWxC) in place of the declared sizes, which it must fit."""
        from onnx import helper

        declared = data_input.type.tensor_type
        dims: list[int | None] = [d.dim_value if d.HasField("dim_value") and d.dim_value > 0
                                  else None for d in declared.shape.dim]
        shown = ["?" if d is None else d for d in dims]
        if self.input_shape is not None:
            wanted = [self.input_shape.channels, *self.input_shape.spatial]
            if len(dims) != len(wanted) + 1 or dims[1] not in (None, wanted[0]):
                raise ImportFailure(f"the input {self.input_shape} does not fit the "
                                    f"model's input {shown} (N, C, spatial)")
            dims = [dims[0] if dims else None, *wanted]
        dims = [1 if d is None and i == 0 else d for i, d in enumerate(dims)]
        fixed = [d for d in dims if d is not None]
        if len(fixed) != len(dims) or not 2 <= len(fixed) <= 5:
            raise ImportFailure(f"{self.path}: the input's shape {shown} is not fixed: give "
                                "it with --input HxWxC")
        self.shapes[data_input.name] = tuple(fixed)
        return helper.make_tensor_value_info(data_input.name, declared.elem_type, fixed)

    # --- one node --------------------------------------------------------------------------

    def node(self, node: Any) -> None:
        for index, name in enumerate(node.input):
            self.readers.setdefault(self.resolve(name), []).append((node, index))
        region = self.regions.get(id(node))
        if region is not None:  # recognised attention: one layer, made at its last node
            if node is region.last:
                onnx_attention.emit(self, region)
            return
        if node.domain not in ("", "ai.onnx"):
            self.unknown(node, f"an op of the custom domain {_printable(node.domain, 40)!r}")
            return
        if all(name in self.consts or name == "" for name in node.input) and \
                (onnx_ops.fold(self, node) or self.derived(node)):
            return
        if node.op_type == "Identity" and node.input[0] in self.consts:
            self.aliases[node.output[0]] = self.resolve(node.input[0])
            self.consts[node.output[0]] = self.consts[node.input[0]]
            return
        handler = self.handlers.get(node.op_type)
        try:
            if handler is None:
                raise Unsupported("convcalc has no layer for this op")
            if any(a.type in (5, 10) for a in node.attribute):
                raise Unsupported("an op with a subgraph")
            handler(self, node)
        except MALFORMED as exc:  # attributes missing or out of range: a broken node
            self.unknown(node, f"a malformed {_printable(node.op_type, 40)} "
                         f"({type(exc).__name__})")
        except Unsupported as exc:
            self.unknown(node, str(exc),
                         exc.fn if isinstance(exc, onnx_ops.Elementwise) else None)

    def derived(self, node: Any) -> bool:
        """A node of constants too large to evaluate (ViT's class token expanded to the
        batch) is a constant of the dims ONNX infers, its values unread."""
        if len(node.output) != 1 or node.output[0] not in self.shapes or \
                node.op_type not in onnx_ops.DERIVED:
            return False
        floating = any(self.consts[n].floating for n in node.input if n)
        self.consts[node.output[0]] = Const(self.shapes[node.output[0]], floating,
                                            source=node.output[0])
        return True

    def unknown(self, node: Any, reason: str, fn: tuple[str, float] | None = None) -> None:
        inputs = tuple(self.data[n] for n in node.input if n in self.data)
        for output in node.output:
            if output:
                self.data[output] = self.b.unsupported(self.name(node), node.op_type, inputs,
                                                       self.shapes.get(output), reason, fn)

    def resolve(self, name: str) -> str:
        while name in self.aliases:
            name = self.aliases[name]
        return name

    # --- what handlers use -----------------------------------------------------------------

    def x(self, node: Any, index: int = 0) -> int:
        name = node.input[index] if index < len(node.input) else ""
        if name not in self.data:
            raise Unsupported(f"input {index} is not a tensor that comes from the model's "
                              "input")
        return self.data[name]

    def const(self, node: Any, index: int, small: bool = False) -> Const | None:
        """A constant input (None when absent); ``small`` wants its values."""
        name = node.input[index] if index < len(node.input) else ""
        if not name:
            return None
        const = self.consts.get(name)
        if const is None:
            raise Unsupported(f"input {index} must be a constant")
        if small and const.value is None:
            raise Unsupported(f"input {index} is too large a constant to be a setting")
        return const

    def out(self, node: Any, index: int = 0) -> tuple[int, ...]:
        dims = self.shapes.get(node.output[index])
        if dims is None:
            raise Unsupported("ONNX shape inference could not say its output's shape")
        return dims

    def set(self, node: Any, tensor: int, index: int = 0) -> None:
        self.data[node.output[index]] = tensor

    def name(self, node: Any) -> str:
        """A layer name from the file: the weights' dotted name (``layer1.0.conv1``), the
        module path torch's exporters record, the node's name, or its op type."""
        merge = node.op_type in ("Add", "Mul", "Concat", "Sum")
        for index in WEIGHTS.get(node.op_type, ())[:1] if not merge else ():
            weight = self.consts.get(node.input[index]) if index < len(node.input) else None
            if weight is not None and re.fullmatch(r"[\w.]+\.weight", weight.source):
                return weight.source.removesuffix(".weight")
        scopes = _scopes(node)
        if scopes and len(scopes) >= 2:
            module = scopes[-2] if len(scopes) >= 3 else ""
            op = re.sub(r"_\d+$", "", scopes[-1])
            return (f"{module}.{op}" if merge else module) if module else op
        legacy = _legacy_path(node.name)
        if legacy is not None:
            module, op = legacy
            return (f"{module}.{op.lower()}" if merge else module) if module else op.lower()
        return str(node.name or node.op_type.lower())

    def fold_bias(self, x: int, bias: Const, node: Any) -> bool:
        """``MatMul`` then ``Add`` of a vector is one dense layer with a bias (torch's
        exporters write ``Linear`` on more than two axes so)."""
        index = self.biasable.get(x)
        data = next(n for n in node.input if self.data.get(n) == x)
        if index is None or self.uses.get(data) != 1:
            return False
        op = self.b.graph.ops[index]
        units = op.facts.output.channels
        if bias.size != units or bias.dims[-1:] != (units,):
            return False
        self.b.graph.ops[index] = dataclasses.replace(
            op, layer=dataclasses.replace(op.layer, bias=True),  # type: ignore[type-var]
            facts=Facts(op.facts.output, op.facts.params + bias.size, op.facts.buffers))
        self.set(node, x)
        return True

    def weights(self, node: Any, *indices: int) -> int:
        return sum(c.size for c in (self.const(node, i) for i in indices) if c is not None)

    # --- totals ----------------------------------------------------------------------------

    def finish(self) -> None:
        from importlib.metadata import version

        outputs = [o.name for o in self.graph.output]
        if len(outputs) != 1 or outputs[0] not in self.data:
            raise ImportFailure(f"{self.path} has {len(outputs)} outputs, or its output does "
                                "not come from its input: convcalc models have one")
        self.b.graph.output = self.data[outputs[0]]
        params, buffers, unread = self.counted()
        if unread:
            self.b.graph.notes.append(f"{unread:,} elements of initializers no node reads as "
                                      "a weight: not counted")
        producer = f", made by {_printable(self.model.producer_name, 40)} " \
                   f"{_printable(self.model.producer_version, 40)}".rstrip() \
            if self.model.producer_name else ""
        self.b.graph.source = (f"{os.path.basename(self.path)} (ONNX opset {self.opset}"
                               f"{producer}; read with onnx {version('onnx')})")
        if self.macs % self.batch:  # pragma: no cover - every count is per example times N
            raise ImportFailure("the MACs do not divide by the batch")
        self.b.graph.totals = Totals(params, buffers, self.macs // self.batch,
                                     self.b.shape(self.b.graph.output),
                                     "Conv, ConvTranspose, Gemm and MatMul counted from ONNX's "
                                     "shapes, per example")

    def counted(self) -> tuple[int, int, int]:
        """Params, buffers and unread elements of the float constants, from the file alone.

        A tensor counts once per weight input that reads it: exporters store equal
        constants once (torch's older exporter shares every all-zero bias of a freshly
        folded batch norm), so sharing in the file is not sharing in the network.
        """
        params = buffers = 0
        read: set[str] = set()
        for name, uses in self.readers.items():
            const = self.consts.get(name)
            if const is None or not const.floating:
                continue
            for node, index in uses:
                if index in BUFFERS.get(node.op_type, ()):
                    buffers += const.size
                elif self.weight(node, index, const):
                    params += const.size
                else:
                    continue
                read.add(name)
        unread = sum(c.size for n, c in self.consts.items() if c.floating and c.source == n
                     and n not in read and n not in self.readers and c.size > 1)
        return params, buffers, unread

    def weight(self, node: Any, index: int, const: Const) -> bool:
        """Whether input ``index`` of ``node`` (the constant ``const``) is a weight: a float
        at a weight input, not a number of a formula; or what a layer holds (a class token)."""
        return const.floating and ((index in WEIGHTS.get(node.op_type, ()) and not (
            const.size == 1 and node.op_type in ARITHMETIC)) or (id(node), index) in self.held)
