"""The results of an analysis: plain frozen values that renderers draw and JSON carries."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import Protocol

from convcalc.arith import Fix, Status
from convcalc.layers.base import Formula
from convcalc.problem import Problem
from convcalc.shape import Shape

DTYPE_BYTES: dict[str, int] = {"float64": 8, "float32": 4, "float16": 2, "bfloat16": 2,
                               "int8": 1}

CONVENTIONS: tuple[str, ...] = (
    "MACs = multiply-accumulates of conv and dense weights, bias excluded, and of attention's "
    "products QKᵀ and attention·V (fvcore, torchvision); FLOPs = 2 × MACs",
    "params = weights + biases; batch-norm running statistics are non-trainable buffers, "
    "not params",
    "activations = output elements kept; in-place layers (activations, dropout, flatten) "
    "add none",
    "MB = 10^6 B, MiB = 2^20 B",
    "non-integer sizes are floored as frameworks do: harmless if no real input is lost to the "
    "rounding, lossy if some is",
)

RULES_FROM = ("default", "spec", "--rules")
# PyTorch's size rules are convcalc's own arithmetic (convcalc.rules): a run under them,
# unless it checks their refusals, needs not import the rule sets (start-up time).
DEFAULT_RULES, DEFAULT_FRAMEWORK = "pytorch", "PyTorch"


@dataclass(frozen=True)
class Settings:
    """What the numbers were computed for."""

    batch: int = 1
    dtype: str = "float32"
    rules: str = DEFAULT_RULES  # the framework whose size rules apply (convcalc.rules)
    rules_from: str = "default"  # "default", "spec" (its `rules:` key) or "--rules"

    def __post_init__(self) -> None:
        if self.rules != DEFAULT_RULES:
            from convcalc.rules import RULES

            if self.rules not in RULES:
                raise ValueError(f"unknown rules {self.rules!r} ({', '.join(RULES)})")
        if self.rules_from not in RULES_FROM:
            raise ValueError(f"rules_from is one of {', '.join(RULES_FROM)}")
        if self.dtype not in DTYPE_BYTES:
            raise ValueError(f"unknown dtype {self.dtype!r} ({', '.join(DTYPE_BYTES)})")
        if self.batch < 1:
            raise ValueError(f"batch must be at least 1, got {self.batch}")

    @property
    def checks_refusals(self) -> bool:
        """A framework named by the spec or the command line is held to what it refuses."""
        return self.rules_from != "default"

    def for_model(self, declared: str | None) -> Settings:
        """These settings with a spec's declared rules, unless --rules overrides them."""
        if declared is None or self.rules_from != "default":
            return self
        from dataclasses import replace

        return replace(self, rules=declared, rules_from="spec")

    @property
    def dtype_bytes(self) -> int:
        return DTYPE_BYTES[self.dtype]

    def bytes_of(self, elements: int) -> int:
        """The bytes of ``elements`` per example, at this batch and element type."""
        return elements * self.dtype_bytes * self.batch


@dataclass(frozen=True)
class AxisSize:
    """How one spatial axis divided: the exact value, the size used, and what it cost."""

    axis: str
    exact: Fraction
    output: int
    status: Status
    lost: int  # real input positions no window covers
    pad: tuple[int, int]  # the concrete pads (a padding word resolved)
    ceil: bool  # ceil mode (pooling)
    fixes: tuple[Fix, ...]
    stride: int = 1


@dataclass(frozen=True)
class ReceptiveField:
    """One axis of the region of the input that one output position sees.

    ``size`` r, effective stride (jump) j and effective padding P (Araujo et al. 2019):
    output position n sees input positions n·j − P to n·j − P + r − 1. For a single layer
    on its own input these are its effective kernel, stride and padding.
    """

    axis: str
    size: int | Fraction
    stride: int | Fraction
    pad: int | Fraction


@dataclass(frozen=True)
class Row:
    """One layer, merge or block of a report.

    A block's or merge's numbers are the totals of everything below it (``rows_below``
    rows follow it at a greater depth), so a table can collapse it to this one row.
    """

    name: str
    kind: str
    depth: int
    input_shape: Shape
    output_shape: Shape
    params: int
    biases: int  # the part of params that is bias
    non_trainable_params: int
    macs: int
    activations: int  # elements this row adds to memory (0 when in place)
    size_status: Status
    sizes: tuple[AxisSize, ...]
    receptive_field: tuple[ReceptiveField, ...]  # () where the field covers the whole input
    notes: tuple[str, ...]
    line: int = 0
    col: int = 0
    rows_below: int = 0
    file: str = ""  # the file of line:col: a block's layers may be in an included one
    act: str | None = None  # a fused activation (conv: {act: relu})
    branches: int = 0  # a merge's number of branches
    attention_macs: int = 0  # the part of macs that is attention products (QKᵀ, attention·V)
    scores: int = 0  # attention score elements per example (heads × queries × keys)
    parts: tuple[tuple[str, int], ...] = ()  # an attention layer's parts (Effect.parts)

    @property
    def weights(self) -> int:
        return self.params - self.biases

    @property
    def trainable_params(self) -> int:
        return self.params


@dataclass(frozen=True)
class LayerReport:
    """``convcalc layer``: one row, its formulas, and the settings used."""

    row: Row
    formulas: tuple[Formula, ...]
    settings: Settings


@dataclass(frozen=True)
class Totals:
    """The whole network's numbers: the sums of the top-level rows."""

    params: int
    biases: int
    non_trainable_params: int
    macs: int
    activations: int  # including the input
    output_shape: Shape
    attention_macs: int = 0  # the part of macs that is attention products
    scores: int = 0  # attention score elements of every attention layer, per example


@dataclass(frozen=True)
class Report:
    """``convcalc summarize``: every row, the totals, the settings and the problems."""

    name: str
    source: str
    path: str
    input_shape: Shape
    rows: tuple[Row, ...]
    totals: Totals
    settings: Settings
    problems: tuple[Problem, ...]
    stopped: Problem | None = None  # the problem of the layer or merge the walk stopped at

    @property
    def complete(self) -> bool:
        return self.stopped is None

    def outputs(self) -> Iterator[tuple[int, int, int]]:
        """Per row: the elements it adds to memory, its output's, its attention scores."""
        return ((row.activations, row.output_shape.size, row.scores) for row in self.rows)


class Summary(Protocol):
    """What a whole report and an analysis that gives its rows one at a time both have."""

    @property
    def name(self) -> str: ...
    @property
    def source(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def input_shape(self) -> Shape: ...
    @property
    def totals(self) -> Totals: ...
    @property
    def settings(self) -> Settings: ...
    @property
    def problems(self) -> tuple[Problem, ...]: ...
    @property
    def stopped(self) -> Problem | None: ...

    def outputs(self) -> Iterator[tuple[int, int, int]]:
        """Per row in order, the input's first: the elements it adds to memory, its
        output's and its attention score elements (all the inference peak needs)."""


def covers_input(row: Row, input_shape: Shape) -> bool:
    """Whether one output position of ``row`` sees as much as the whole input, on every axis.

    After a flatten or a dense layer the field is the whole input by construction.
    """
    if not row.receptive_field:
        return row.kind != "input"
    return all(field.size >= size for field, size in
               zip(row.receptive_field, input_shape.spatial, strict=False))
