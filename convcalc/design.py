"""Design questions: which layer gives this size, which input sizes work, how cost grows with
the input, and what changed between two specs. Numbers only; the renderers draw them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from convcalc.analysis import Analysis, Memo, analyze
from convcalc.arith import Status, Window, resolve_pad, span, transposed_output
from convcalc.layers import NAME_OF
from convcalc.layers.merge import MERGES
from convcalc.measure import adapted, bounded
from convcalc.model import Group, LayerNode, Merge, Model, layer_nodes, with_input
from convcalc.model import Node as ModelNode
from convcalc.problem import ERROR, LayerError, SpecError
from convcalc.report import Row, Settings
from convcalc.shape import Shape

# --- solve ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Solution:
    """One way for a layer to turn ``size`` into the target."""

    kernel: int
    stride: int
    pad: tuple[int, int]
    dilation: int
    output_padding: int  # transposed convolution only
    ceil: bool  # pooling only
    word: str | None  # "same", "valid" or "full" when the pads are that word's
    status: Status  # exact or harmless (lossy ways are not offered)

    @property
    def complexity(self) -> tuple[int, ...]:
        """Simplest first: no dilation, small stride, symmetric pads, small kernel."""
        left, right = self.pad
        return (self.dilation, self.stride, self.status is not Status.EXACT, left != right,
                self.ceil, self.output_padding, self.kernel, left + right)


@dataclass(frozen=True)
class Bounds:
    """The kernels, strides and dilations that ``solve`` searches."""

    kernels: tuple[int, ...] = tuple(range(1, 12))
    strides: tuple[int, ...] = tuple(range(1, 9))
    dilations: tuple[int, ...] = (1,)


def _word(size: int, kernel_span: int, stride: int, pad: tuple[int, int]) -> str | None:
    for word in ("valid", "same", "full"):
        if resolve_pad(word, size, kernel_span, stride) == pad:
            return word
    return None


def solve(size: int, target: int, kind: str = "conv", bounds: Bounds | None = None
          ) -> list[Solution]:
    """Every kernel, stride, padding and dilation within ``bounds`` giving ``target``.

    ``kind`` is conv, pool (also ceil mode) or conv-transpose (with output_padding). Pads
    go up to k̂ − 1 a side, and differ by at most one between the sides.
    """
    found = [Solution(kernel, stride, pad, dilation, extra, ceil,
                      None if kind == "conv-transpose" else
                      _word(size, span(kernel, dilation), stride, pad), status)
             for out, (kernel, stride, pad, dilation, extra, ceil, status)
             in _candidates(size, kind, bounds or Bounds()) if out == target]
    return sorted(found, key=lambda s: s.complexity)


def reachable(size: int, kind: str = "conv", bounds: Bounds | None = None) -> list[int]:
    """Every output size some layer within ``bounds`` can give (for a near miss)."""
    return sorted({out for out, _ in _candidates(size, kind, bounds or Bounds())})


Candidate = tuple[int, int, tuple[int, int], int, int, bool, Status]


def _candidates(size: int, kind: str, bounds: Bounds) -> Iterator[tuple[int, Candidate]]:
    """(output size, (kernel, stride, pads, dilation, output_padding, ceil, status)) of every
    layer within ``bounds`` that loses no input."""
    for dilation in bounds.dilations:
        for kernel in bounds.kernels:
            k = span(kernel, dilation)
            for stride in bounds.strides:
                if kind == "conv-transpose":
                    for extra in range(max(stride, dilation)):
                        for pad in range(k):
                            out = transposed_output(size, k, stride, (pad, pad), extra)
                            if out >= 1:
                                yield out, (kernel, stride, (pad, pad), dilation, extra, False,
                                            Status.EXACT)
                    continue
                for left in range(k):
                    for right in range(left, min(left + 1, k - 1) + 1):
                        for ceil in ((False, True) if kind == "pool" else (False,)):
                            window = Window(size, kernel, stride, (left, right), dilation, ceil)
                            if window.status in (Status.EXACT, Status.HARMLESS):
                                yield window.output, (kernel, stride, (left, right), dilation, 0,
                                                      ceil, window.status)


# --- sizes -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SizeCheck:
    """How one square input size fares through a model."""

    size: int
    exact: bool  # no layer rounds
    safe: bool  # no rounding loses real input
    strided: bool  # every strided layer's input is a multiple of its stride
    breaks: str  # the first layer that is not exact-or-harmless, or not evenly strided
    error: str  # the model cannot take this size at all


def _with_input(model: Model, size: int) -> Model:
    """The model at a square input of ``size`` (built again if its blocks read the input's
    shape; raises SpecError if it cannot be), without the spec's claims."""
    spatial = (size,) * len(model.input.spatial)
    return dataclasses.replace(with_input(model, Shape(spatial, model.input.channels)),
                               expect=(), budget=(), rules=model.rules)


def check_size(model: Model, size: int) -> SizeCheck:
    """How ``size`` fares through ``model``, from a whole analysis at that size."""
    try:
        resized = _with_input(model, size)
    except SpecError as exc:
        return _unbuildable(size, exc)
    return _check_resized(resized, size)


def _unbuildable(size: int, exc: SpecError) -> SizeCheck:
    errors = [p for p in exc.problems if p.level == ERROR]
    return SizeCheck(size, False, False, False, "", errors[0].message if errors else str(exc))


def _check_resized(resized: Model, size: int) -> SizeCheck:
    report = analyze(resized)
    errors = [p for p in report.problems if p.level == ERROR and p.code != "non-integer-size"]
    if errors:
        return SizeCheck(size, False, False, False, "", errors[0].message)
    layers = [row for row in report.rows if not row.rows_below and row.kind != "input"]
    exact = all(row.size_status is Status.EXACT for row in layers)
    unsafe = next((row for row in layers if row.size_status.rank > Status.HARMLESS.rank), None)
    uneven = next((row for row in layers if _uneven(row)), None)
    culprit = unsafe or uneven
    breaks = "" if culprit is None else f"{culprit.name} ({_why(culprit)})"
    return SizeCheck(size, exact, unsafe is None, uneven is None, breaks, "")


def size_checks(model: Model, sizes: Iterable[int]) -> list[SizeCheck]:
    """``check_size`` at each size, without a whole analysis per size: a walk that carries
    only shapes and size verdicts, each layer's and each block's worked out once per input
    and shared by every size (and every copy) that gives it that input.

    A model whose layers change with its input's size (its blocks read the spatial sizes)
    is built and analysed again at each size; and at a size the model cannot take,
    ``check_size`` words the problem.
    """
    sizer = _Sizer(model)
    checks = []
    for size in sizes:
        if model.rebuild is None:
            checks.append(sizer.check(size))
            continue
        try:
            resized = _with_input(model, size)
        except SpecError as exc:
            checks.append(_unbuildable(size, exc))
            continue
        checks.append(sizer.check(size) if resized.layers is model.layers else
                      _check_resized(resized, size))
    return checks


Path = tuple[int, ...]  # a layer below a list: its index, then (in a merge) the branch's, ...


@dataclass(frozen=True, slots=True)
class _Verdict:
    """How a layer, block or merge takes one input: its output, whether every layer divides
    exactly, and the first layer (a path below it) that loses input, or whose stride does
    not divide its input, with that layer's status and input."""

    output: Shape
    exact: bool
    unsafe: tuple[Path, Status, Shape] | None
    uneven: tuple[Path, Shape] | None


class _Sizer:
    """The verdicts of one model's layers, blocks and merges, by their input."""

    def __init__(self, model: Model) -> None:
        self.model = model
        # the layers sized as ``check_size``'s analysis sizes them
        self.settings = Settings().for_model(model.rules)
        self.structures = Memo()  # the structure of each block and merge
        self.verdicts: dict[tuple[object, Shape], _Verdict | None] = {}
        self.runs: dict[int, tuple[tuple[int, ModelNode, object, int], ...]] = {}

    def check(self, size: int) -> SizeCheck:
        x = Shape((size,) * len(self.model.input.spatial), self.model.input.channels)
        verdict = self.sequence(self.model.layers, x)
        if verdict is None:  # the model cannot take this size: the analysis says why
            return check_size(self.model, size)
        breaks = ""
        if verdict.unsafe is not None:
            path, status, at = verdict.unsafe
            breaks = f"{self.node_at(path).name} ({status.value} at input {at})"
        elif verdict.uneven is not None:
            path, at = verdict.uneven
            node = self.node_at(path)
            step = "window" if NAME_OF[type(node.layer)].endswith("attention") else "stride"
            breaks = f"{node.name} (input {at} is not a multiple of the {step})"
        return SizeCheck(size, verdict.exact, verdict.unsafe is None, verdict.uneven is None,
                         breaks, "")

    def node_at(self, path: Path) -> LayerNode:
        """The layer at ``path`` below the model's list."""
        nodes, steps = self.model.layers, iter(path)
        while True:
            node = nodes[next(steps)]
            if isinstance(node, LayerNode):
                return node
            nodes = node.children if isinstance(node, Group) else node.branches[next(steps)]

    def runs_of(self, nodes: tuple[ModelNode, ...]
                ) -> tuple[tuple[int, ModelNode, object, int], ...]:
        """The list as runs of alike nodes: (index, first node, structure, length). Copies
        of a block in a row (``repeat``) are one run."""
        known = self.runs.get(id(nodes))
        if known is None:
            found: list[tuple[int, ModelNode, object, int]] = []
            for index, node in enumerate(nodes):
                key = ("layer", id(node.layer)) if isinstance(node, LayerNode) else \
                    ("block", self.structures.key(node))
                if found and found[-1][2] == key:
                    first, kept, _, count = found[-1]
                    found[-1] = (first, kept, key, count + 1)
                else:
                    found.append((index, node, key, 1))
            known = self.runs[id(nodes)] = tuple(found)  # the model keeps ``nodes``
        return known

    def sequence(self, nodes: tuple[ModelNode, ...], x: Shape) -> _Verdict | None:
        exact, unsafe, uneven = True, None, None
        for index, node, key, count in self.runs_of(nodes):
            for copy in range(count):
                verdict = self.node(node, key, x)
                if verdict is None:
                    return None
                exact = exact and verdict.exact
                if unsafe is None and verdict.unsafe is not None:
                    path, status, at = verdict.unsafe
                    unsafe = ((index + copy, *path), status, at)
                if uneven is None and verdict.uneven is not None:
                    path, at = verdict.uneven
                    uneven = ((index + copy, *path), at)
                if verdict.output == x:  # the next copies take what this one took
                    x = verdict.output
                    break
                x = verdict.output
        return _Verdict(x, exact, unsafe, uneven)

    def node(self, node: ModelNode, key: object, x: Shape) -> _Verdict | None:
        if (key, x) not in self.verdicts:  # None: it cannot take x
            self.verdicts[key, x] = self.layer(node, x) if isinstance(node, LayerNode) else \
                self.sequence(node.children, x) if isinstance(node, Group) else \
                self.merge(node, x)
        return self.verdicts[key, x]

    def layer(self, node: LayerNode, x: Shape) -> _Verdict | None:
        try:
            effect = adapted(node.layer, x, self.settings).apply(x)
            bounded(effect, None)  # its field does not depend on the size (but for padding)
        except LayerError:
            return None
        status = effect.status
        uneven = any(window.stride > 1 and size % window.stride != 0
                     for window, size in zip(effect.windows, x.spatial, strict=False))
        return _Verdict(effect.output, status is Status.EXACT,
                        ((), status, x) if status.rank > Status.HARMLESS.rank else None,
                        ((), x) if uneven else None)

    def merge(self, node: Merge, x: Shape) -> _Verdict | None:
        try:
            inputs = node.inputs(x)
        except LayerError:
            return None
        exact, unsafe, uneven, outputs = True, None, None, []
        for number, (branch, start) in enumerate(zip(node.branches, inputs, strict=True)):
            verdict = self.sequence(branch, start)
            if verdict is None:
                return None
            outputs.append(verdict.output)
            exact = exact and verdict.exact
            if unsafe is None and verdict.unsafe is not None:
                path, status, at = verdict.unsafe
                unsafe = ((number, *path), status, at)
            if uneven is None and verdict.uneven is not None:
                path, at = verdict.uneven
                uneven = ((number, *path), at)
        try:
            out = MERGES[node.op](outputs)
        except LayerError:
            return None
        return _Verdict(out, exact, unsafe, uneven)


def _uneven(row: Row) -> bool:
    """A strided layer whose input does not shrink by exactly its stride."""
    return any(axis.stride > 1 and size % axis.stride != 0
               for axis, size in zip(row.sizes, row.input_shape.spatial, strict=False))


def _why(row: Row) -> str:
    if row.size_status.rank > Status.HARMLESS.rank:
        return f"{row.size_status.value} at input {row.input_shape}"
    step = "window" if row.kind.endswith("attention") else "stride"
    return f"input {row.input_shape} is not a multiple of the {step}"


def describe(sizes: list[int], low: int, high: int) -> str:
    """A rule for a set of sizes within [low, high]: every size, multiples of m, m·k + r."""
    chosen = set(sizes)
    universe = range(low, high + 1)
    if not chosen:
        return "none"
    if len(chosen) == len(universe):
        return "every size"
    for modulus in range(2, high + 1):
        remainder = min(chosen) % modulus
        if chosen == {s for s in universe if s % modulus == remainder}:
            return f"multiples of {modulus}" if remainder == 0 else \
                f"{modulus}k + {remainder}"
    shown = ", ".join(map(str, sorted(chosen)[:8]))
    return f"{len(chosen)} sizes: {shown}" + (", …" if len(chosen) > 8 else "")


# --- sweep -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Point:
    """A model's totals at one input size."""

    size: int
    report: Analysis  # its totals and problems (its rows are made again when asked for)
    conv_macs: int  # every layer's but the dense layers' and attention's products
    dense_macs: int
    attention_macs: int  # attention's products of activations (QKᵀ, attention·V)
    dense_inputs: tuple[int, ...]  # what each dense layer reads


def _leaf(row: Row) -> bool:
    return not row.rows_below and row.kind != "input"


def _dense_layer(row: Row) -> int:
    return 1 if _leaf(row) and row.kind == "fc" else 0


# How many dense layers a model has: without any, a sweep needs only the totals (all MACs
# are then the convolutions'); with some, it walks the rows for what each one reads.
_DENSE = (_dense_layer,)


def sweep(model: Model, sizes: list[int], settings: Settings | None = None) -> list[Point]:
    """The totals at each size. The sizes share the work of layers and blocks that get the
    same input at several of them (all but the first layers, often)."""
    memo = Memo(tallies=_DENSE)
    points = []
    for size in sizes:
        resized = _with_input(model, size)
        shared = memo if resized.layers is model.layers else Memo(tallies=_DENSE)
        analysis = Analysis(resized, settings, tallies=_DENSE, memo=shared)
        if analysis.tallied == (0,) and analysis.complete:
            totals = analysis.totals
            points.append(Point(size, analysis, totals.macs - totals.attention_macs, 0,
                                totals.attention_macs, ()))
            continue
        layers = [row for row in analysis.rows() if _leaf(row)]  # as far as the walk went
        dense = [row for row in layers if row.kind == "fc"]
        attention = sum(row.attention_macs for row in layers)
        points.append(Point(size, analysis,
                            conv_macs=sum(row.macs for row in layers if row.kind != "fc")
                            - attention,
                            dense_macs=sum(row.macs for row in dense), attention_macs=attention,
                            dense_inputs=tuple(row.input_shape.size for row in dense)))
    return points


def find_layer(model: Model, name: str) -> LayerNode | None:
    """The layer called ``name``: its full name, or a unique last part of it."""
    found = list(layer_nodes(model.layers))
    exact = [node for node in found if node.name == name]
    if exact:
        return exact[0]
    tails = [node for node in found if node.name.endswith("." + name)]
    return tails[0] if len(tails) == 1 else None


# --- compare ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """One layer that differs between two reports, matched by name."""

    name: str
    status: str  # "added", "removed" or "changed"
    before: Row | None
    after: Row | None


def compare(first: Iterable[Row], second: Iterable[Row]) -> list[Change]:
    """Layers added, removed, or with another shape, parameter count or MAC count, matched
    by name (the last of a name counts): the rows of two reports. The second's may come one
    at a time: of it, only the layers that differ are kept."""

    def facts(row: Row) -> tuple[object, ...]:
        return row.kind, row.output_shape, row.params, row.macs

    before = {row.name: row for row in first if not row.rows_below}
    after: dict[str, Row | None] = {}  # a layer of both: its row if it differs, else None
    added: dict[str, Row] = {}
    for new in second:
        if new.rows_below:
            continue
        old = before.get(new.name)
        if old is None:
            added[new.name] = new
        else:
            after[new.name] = new if facts(new) != facts(old) else None
    changes = []
    for name, old in before.items():
        if name not in after:
            changes.append(Change(name, "removed", old, None))
        elif after[name] is not None:
            changes.append(Change(name, "changed", old, after[name]))
    return changes + [Change(name, "added", None, new) for name, new in added.items()]
