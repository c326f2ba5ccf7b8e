"""Self-attention as torch's ONNX exporters decompose it, recognised as one ``attention``.

ONNX (before opset 23) has no attention op: ``nn.MultiheadAttention`` and
``scaled_dot_product_attention`` reach the file as MatMuls, a Softmax and a dozen moves
(Reshape, Transpose, Gather, Squeeze...), differently from each exporter. What they share is
recognised here, before the nodes are read one by one:

- the *core*: a Softmax of a MatMul of two tensors computed from the input (QKᵀ, perhaps
  scaled by a number), whose result multiplies a third such tensor (attention·V);
- walking back from Q, K and V through moves and scalings reaches the *projections* (a
  MatMul by a constant matrix with the Add of its bias, or a Gemm), which all read one
  tensor; walking forward from attention·V through moves reaches the output projection;
- the layer's input X and output Y are the nearest tensors, one move after another before
  the projections and after the output projection, that have the same dims, batch first
  (``nn.MultiheadAttention`` works sequence first in between).

Every node between X and Y becomes one layer, whose params (the projections' weights, read
as every other weight) and MACs (each MatMul and Gemm from ONNX's shapes) are the file's;
convcalc's analysis of the layer must give the same, or the import fails. A core that is
found but not understood, or any constant added to the scores (a position bias the
exporter has folded from a learnt table, a mask), is a one-line error naming the nodes:
convcalc never counts part of an attention as something else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import prod
from typing import TYPE_CHECKING, Any

from convcalc.importers import layers
from convcalc.importers.graph import ImportFailure, Unsupported

# What a broken node raises when read (missing inputs or attributes), as in from_onnx
MALFORMED = (KeyError, IndexError, ValueError, TypeError, ZeroDivisionError, OverflowError)

if TYPE_CHECKING:
    from convcalc.importers.from_onnx import _Reader

MOVES = frozenset({"Reshape", "Transpose", "Squeeze", "Unsqueeze", "Flatten", "Identity",
                   "Gather", "Split", "Slice", "Concat", "Pad", "Cast", "Expand", "Dropout"})
SCORES = frozenset({"Add", "Sub", "Mul", "Div", "Where", "Reshape", "Cast", "Identity",
                    "Unsqueeze", "Squeeze"})  # between QKᵀ and the Softmax
AFTER_SOFTMAX = frozenset({"Dropout", "Identity", "Cast"})
PRODUCTS = ("MatMul", "Einsum")  # of two tensors: QKᵀ and attention·V


class NotAttention(Exception):
    """Why a core found in the graph is not an attention convcalc can write."""


def quoted(text: str) -> str:
    """A name from the file, printable, at most 80 characters, quoted."""
    from convcalc.importers.from_onnx import _printable

    return repr(_printable(text, 80))


@dataclass
class Region:
    """One recognised attention: the nodes from input ``x`` to output ``y``."""

    x: str
    y: str
    last: Any  # the node that makes y, where the layer is made
    softmax: Any
    nodes: list[Any] = field(default_factory=list)
    heads: int = 1
    qkv_bias: bool = False
    proj_bias: bool = False
    macs: int = 0


def find(r: _Reader, data_input: str) -> dict[int, Region]:
    """Every recognised attention, by the id of each of its nodes; ImportFailure for a
    core that is not understood."""
    net = _Net(r, data_input)
    regions: dict[int, Region] = {}
    for node in r.nodes:
        if node.op_type != "Softmax" or not node.input or node.input[0] not in net.data:
            continue
        try:
            core = net.core(node)
        except (NotAttention, *MALFORMED):  # a broken node: its handler will say so
            continue
        if core is None:
            continue
        try:
            region = net.region(node, *core)
        except (NotAttention, *MALFORMED) as exc:
            named = ", ".join(f"{n.op_type} {net.named(n)}" for n in (core[0], node, core[2]))
            why = str(exc) if isinstance(exc, NotAttention) else \
                f"a malformed node ({type(exc).__name__})"
            raise ImportFailure(f"decomposed attention at {named}: {why}") from None
        for member in region.nodes:
            if id(member) in regions:
                raise ImportFailure(f"decomposed attention at {net.named(member)} overlaps "
                                    "another one")
            regions[id(member)] = region
    return regions


def emit(r: _Reader, region: Region) -> None:
    """The layer of a recognised attention, reading X, made where Y is."""
    name, origin = r.name(region.softmax), "MatMul, Softmax, MatMul (decomposed attention)"
    dims = r.shapes[region.y]
    x = r.data.get(region.x)
    if x is None:
        r.data[region.y] = r.b.unsupported(name, origin, (), dims, "its input is not a "
                                           "tensor that comes from the model's input")
        return
    try:
        if r.b.layout(x).form != "last":
            raise Unsupported(f"attention over a tensor laid out as ({r.b.layout(x)}): "
                              "convcalc's reads tokens with their channels last")
        params = sum(const.size for node in region.nodes
                     for index, const in ((i, r.consts.get(n)) for i, n in enumerate(node.input))
                     if const is not None and r.weight(node, index, const))
        layer = layers.make("attention", heads=region.heads, qkv_bias=region.qkv_bias,
                            proj_bias=region.proj_bias)
        tensor = r.b.layer(name, origin, "attention", layer, x, dims, params=params)
        r.macs += region.macs
    except Unsupported as exc:
        tensor = r.b.unsupported(name, origin, (x,), dims, str(exc))
    r.data[region.y] = tensor


class _Net:
    """Who makes and who reads each value, which values come from the input (not through
    ``Shape``: sizes are constants here), and every value's dims."""

    def __init__(self, r: _Reader, data_input: str) -> None:
        self.r = r
        self.input = data_input
        self.producer: dict[str, Any] = {}
        self.readers: dict[str, list[Any]] = {}
        self.data = {data_input}
        self.outputs = {o.name for o in r.graph.output}
        self.order = {id(n): i for i, n in enumerate(r.nodes)}
        for node in r.nodes:
            for name in node.input:
                self.readers.setdefault(name, []).append(node)
            for name in node.output:
                self.producer[name] = node
            if node.op_type != "Shape" and any(n in self.data for n in node.input):
                self.data.update(o for o in node.output if o)

    def named(self, node: Any) -> str:
        return quoted(node.name or (node.output[0] if node.output else node.op_type))

    def dims(self, name: str) -> tuple[int, ...]:
        const = self.r.consts.get(name)
        if const is not None:
            return const.dims
        if name in self.r.shapes:
            return self.r.shapes[name]
        node = self.producer.get(name)
        if node is not None and node.op_type == "Constant":
            for a in node.attribute:
                if a.name == "value":
                    return tuple(int(d) for d in a.t.dims)
                if a.name in ("value_float", "value_int"):
                    return ()
        raise NotAttention(f"ONNX shape inference could not say the dims of {quoted(name)}")

    def data_inputs(self, node: Any) -> list[str]:
        return [n for n in node.input if n in self.data]

    def follow(self, name: str) -> list[Any]:
        """The nodes that read ``name``, but Shape (a size, which is known anyway)."""
        return [n for n in self.readers.get(name, []) if n.op_type != "Shape"]

    def projection(self, node: Any) -> bool:
        """A dense layer: a tensor times a constant matrix (MatMul, or Gemm)."""
        if node.op_type not in ("MatMul", "Gemm") or len(node.input) < 2:
            return False
        weight = node.input[1]
        return node.input[0] in self.data and weight not in self.data and (
            node.op_type == "Gemm" or len(self.dims(weight)) == 2)

    # --- the core -------------------------------------------------------------------------

    def core(self, softmax: Any) -> tuple[Any, list[Any], Any, list[Any], str] | None:
        """(QKᵀ, the ops on the scores, attention·V, the ops between, V) around a Softmax
        over the keys, or None when it is no attention's."""
        if int(next((a.i for a in softmax.attribute if a.name == "axis"), -1)) not in (
                -1, len(self.dims(softmax.input[0])) - 1):
            return None
        scores: list[Any] = []
        name = softmax.input[0]
        while True:
            node = self.producer.get(name)
            if node is None:
                return None
            data = self.data_inputs(node)
            if node.op_type in PRODUCTS and len(data) == 2 and data == list(node.input[:2]):
                qk = node
                break
            if node.op_type not in SCORES or len(data) != 1:
                return None
            scores.append(node)
            name = data[0]
        after: list[Any] = []
        name = softmax.output[0]
        while True:
            readers = self.follow(name)
            if len(readers) != 1:
                return None
            node = readers[0]
            others = [n for n in node.input[:2] if n != name]
            if node.op_type in PRODUCTS and len(others) == 1 and others[0] in self.data and \
                    len(node.input) == 2:
                return qk, scores, node, after, others[0]
            if node.op_type not in AFTER_SOFTMAX:
                return None
            after.append(node)
            name = node.output[0]

    def region(self, softmax: Any, qk: Any, scores: list[Any], av: Any, after: list[Any],
               v: str) -> Region:
        self.no_constants(scores)
        nodes = [qk, *scores, softmax, *after, av]
        projections, qkv_bias = [], False
        for name in (qk.input[0], qk.input[1], v):
            path, projection, bias = self.back_to_projection(name)
            nodes += path
            projections.append(projection)
            qkv_bias |= bias or (projection.op_type == "Gemm" and len(projection.input) > 2
                                 and bool(projection.input[2]))
        sources = {p.input[0] for p in projections}
        if len(sources) != 1:
            raise NotAttention("its queries, keys and values are projected from different "
                               "tensors (convcalc's attention is self-attention)")
        nodes += projections
        out, proj_bias, made = self.forward_to_output(av)
        x, before, y, after_out = self.ends(sources.pop(), made)
        nodes += [*out, *before, *after_out]
        unique = list({id(n): n for n in nodes}.values())  # Q, K and V share their moves
        region = Region(x, y, self.producer[y], softmax, unique, qkv_bias=qkv_bias,
                        proj_bias=proj_bias)
        self.check_closed(region)
        self.measure(region, qk)
        region.nodes.sort(key=lambda n: self.order[id(n)])
        return region

    def no_constants(self, scores: list[Any]) -> None:
        """Only numbers may touch the scores (the scaling); a tensor added is a position
        bias or a mask, which convcalc's attention does not hold."""
        for node in scores:
            for name in node.input:
                if not name or name in self.data or prod(self.dims(name)) <= 1:
                    continue
                dims = "x".join(map(str, self.dims(name)))
                folded = name in self.r.consts and self.r.consts[name].floating
                raise NotAttention(
                    f"{node.op_type} {self.named(node)} brings the {dims} constant {quoted(name)} "
                    "into the scores" + (
                        ": a position bias the exporter folded from the model's learnt table "
                        "(Swin's and MaxViT's relative position bias) into one value per pair "
                        "of tokens, so the file no longer holds the table's params"
                        if folded else ": a position bias or a mask, which convcalc's "
                        "attention does not hold"))

    def back_to_projection(self, name: str) -> tuple[list[Any], Any, bool]:
        """From Q, K or V back to its projection: (the moves, the projection, whether an Add
        of a bias follows it)."""
        path: list[Any] = []
        bias = False
        while True:
            node = self.producer.get(name)
            if node is None:
                raise NotAttention("its queries, keys or values come from the input without "
                                   "a projection")
            if self.projection(node):
                return path, node, bias
            data = self.data_inputs(node)
            constants = [n for n in node.input if n and n not in self.data]
            scaling = node.op_type in ("Mul", "Div") and all(
                prod(self.dims(n)) <= 1 for n in constants)
            biasing = node.op_type == "Add" and self.projection(
                self.producer.get(data[0]) if len(data) == 1 else node)
            if len(data) != 1 or not (node.op_type in MOVES or scaling or biasing):
                raise NotAttention(f"{node.op_type} {self.named(node)} stands between the "
                                   "projections and the scores")
            bias |= biasing
            path.append(node)
            name = data[0]

    def forward_to_output(self, av: Any) -> tuple[list[Any], bool, str]:
        """From attention·V to the output projection and its bias: (those nodes, whether
        there is a bias, the tensor they make)."""
        nodes: list[Any] = []
        name = av.output[0]
        while True:
            readers = self.follow(name)
            node = readers[0] if len(readers) == 1 else None
            if node is None or not (self.projection(node) or node.op_type in MOVES):
                raise NotAttention("attention·V does not reach an output projection through "
                                   "moves alone")
            nodes.append(node)
            name = node.output[0]
            if self.projection(node):
                break
        bias = node.op_type == "Gemm" and len(node.input) > 2 and bool(node.input[2])
        readers = self.follow(name)
        if len(readers) == 1 and readers[0].op_type == "Add" and \
                len(self.data_inputs(readers[0])) == 1:
            nodes.append(readers[0])
            name = readers[0].output[0]
            bias = True
        return nodes, bias, name

    def chain(self, name: str, forward: bool) -> list[tuple[str, Any]]:
        """The tensors one move after another from ``name`` (forward: each read by one move
        alone; back: each made by a move of one input), with the move that links each to the
        one before (None for ``name`` itself)."""
        found: list[tuple[str, Any]] = [(name, None)]
        while len(found) <= len(self.order):
            if forward:
                readers = self.follow(name)
                node = readers[0] if len(readers) == 1 else None
            else:
                node = self.producer.get(name)
            if node is None or node.op_type not in MOVES or len(self.data_inputs(node)) != 1:
                break
            name = node.output[0] if forward else self.data_inputs(node)[0]
            found.append((name, node))
        return found

    def ends(self, source: str, made: str) -> tuple[str, list[Any], str, list[Any]]:
        """The layer's input and output: the nearest tensors before the projections and
        after the output projection, one move after another, that have the same dims with
        the batch first (the exporters' sequence-first layout in between is the
        attention's own). (input, its moves, output, its moves)."""
        batch = self.dims(self.input)[0]
        back, ahead = self.chain(source, False), self.chain(made, True)
        pairs = sorted((i + j, i, j) for i, (x, _) in enumerate(back)
                       for j, (y, _) in enumerate(ahead)
                       if self.dims(x) == self.dims(y) and self.dims(x)[:1] == (batch,))
        if not pairs:
            raise NotAttention("no tensor before its projections has the dims of one after "
                               "its output projection")
        _, i, j = pairs[0]
        return (back[i][0], [node for _, node in back[:i + 1] if node is not None],
                ahead[j][0], [node for _, node in ahead[:j + 1] if node is not None])

    def check_closed(self, region: Region) -> None:
        """The region reads only X (and constants), and only Y leaves it."""
        members = {id(n) for n in region.nodes}
        made = {o for n in region.nodes for o in n.output if o}
        for node in region.nodes:
            for name in self.data_inputs(node):
                if name not in made and name != region.x:
                    raise NotAttention(f"{node.op_type} {self.named(node)} reads {quoted(name)}, "
                                       "from outside the attention")
            for name in node.output:
                outside = [n for n in self.follow(name) if id(n) not in members]
                if name and name != region.y and (outside or name in self.outputs):
                    raise NotAttention(f"{quoted(name)}, inside the attention, is read outside it "
                                       + (f"by {outside[0].op_type} {self.named(outside[0])}"
                                          if outside else "(a model output)"))

    def einsum_macs(self, node: Any) -> int:
        """An Einsum of two tensors multiplies once per combination of its indices: the
        product of every index's size (``bghid,bghjd->bghij``: b·g·h·i·j·d)."""
        equation = next((a.s.decode("ascii", "replace") for a in node.attribute
                         if a.name == "equation"), "").replace(" ", "")
        operands = equation.split("->")[0].split(",")
        if "." in equation or len(operands) != 2 or len(node.input) != 2:
            raise NotAttention(f"an Einsum {quoted(equation)} that is not a product of two tensors "
                               "without ellipses")
        sizes: dict[str, int] = {}
        for letters, name in zip(operands, node.input, strict=True):
            dims = self.dims(name)
            if len(letters) != len(dims):
                raise NotAttention(f"the Einsum {quoted(equation)} does not fit its inputs' dims")
            for letter, size in zip(letters, dims, strict=True):
                if sizes.setdefault(letter, size) != size:
                    raise NotAttention(f"the Einsum {quoted(equation)} broadcasts its inputs")
        return prod(sizes.values())

    def measure(self, region: Region, qk: Any) -> None:
        """Heads from the dims of Q, and the MACs of every product (ONNX's shapes); only
        global attention (one group of every token) is written."""
        x = self.dims(region.x)
        width, head = x[-1], self.dims(qk.input[0])[-1]
        scores = self.dims(qk.output[0])
        if len(x) < 3 or width % head or scores[-1] != scores[-2]:
            raise NotAttention(f"heads of width {head} do not divide its {width} channels, or "
                               "its queries and keys differ in number")
        region.heads = width // head
        tokens, group = prod(x[1:-1]), scores[-1]
        groups, rest = divmod(prod(scores), region.heads * group * group * x[0])
        if rest or groups != 1 or group != tokens:
            raise NotAttention(f"attention within groups of {group} of its {tokens} tokens "
                               "(window attention): from ONNX, convcalc recognises global "
                               "attention only")
        for node in region.nodes:
            if node.op_type == "MatMul":
                region.macs += prod(self.dims(node.output[0])) * self.dims(node.input[0])[-1]
            elif node.op_type == "Einsum":
                region.macs += self.einsum_macs(node)
            elif node.op_type == "Gemm":
                a = self.dims(node.input[0])
                transposed = any(t.name == "transA" and t.i for t in node.attribute)
                region.macs += prod(self.dims(node.output[0])) * a[0 if transposed else 1]
