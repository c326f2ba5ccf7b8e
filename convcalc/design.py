"""Design questions: which layer gives this size, which input sizes work, how cost grows with
the input, and what changed between two specs. Numbers only; the renderers draw them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass

from convcalc.analysis import analyze
from convcalc.arith import Status, Window, resolve_pad, span, transposed_output
from convcalc.model import LayerNode, Model, layer_nodes, with_input
from convcalc.problem import ERROR, SpecError
from convcalc.report import Report, Row, Settings
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
    try:
        resized = _with_input(model, size)
    except SpecError as exc:
        errors = [p for p in exc.problems if p.level == ERROR]
        return SizeCheck(size, False, False, False, "", errors[0].message if errors else
                         str(exc))
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
    report: Report
    conv_macs: int  # every layer's but the dense layers' and attention's products
    dense_macs: int
    attention_macs: int  # attention's products of activations (QKᵀ, attention·V)
    dense_inputs: tuple[int, ...]  # what each dense layer reads


def sweep(model: Model, sizes: list[int], settings: Settings | None = None) -> list[Point]:
    points = []
    for size in sizes:
        report = analyze(_with_input(model, size), settings)
        layers = [row for row in report.rows if not row.rows_below]
        dense = [row for row in layers if row.kind == "fc"]
        attention = sum(r.attention_macs for r in layers)
        points.append(Point(size, report,
                            conv_macs=sum(r.macs for r in layers if r.kind != "fc") - attention,
                            dense_macs=sum(r.macs for r in dense), attention_macs=attention,
                            dense_inputs=tuple(r.input_shape.size for r in dense)))
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


def compare(first: Report, second: Report) -> list[Change]:
    """Layers added, removed, or with another shape, parameter count or MAC count."""
    before = {row.name: row for row in first.rows if not row.rows_below}
    after = {row.name: row for row in second.rows if not row.rows_below}
    changes = []
    for name in dict.fromkeys([*before, *after]):
        old, new = before.get(name), after.get(name)
        if old is None:
            changes.append(Change(name, "added", None, new))
        elif new is None:
            changes.append(Change(name, "removed", old, None))
        elif (old.kind, old.output_shape, old.params, old.macs) != \
                (new.kind, new.output_shape, new.params, new.macs):
            changes.append(Change(name, "changed", old, new))
    return changes
