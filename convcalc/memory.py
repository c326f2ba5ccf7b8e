"""Memory models: forward activations, the inference peak, training memory, and fitting a batch.

Every model is named and defined where it is printed. Element counts are per example;
bytes multiply by the batch and the bytes per element.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from convcalc.model import Group, LayerNode, Merge, Model
from convcalc.model import Node as ModelNode
from convcalc.report import DTYPE_BYTES, Summary

OPTIMIZER_STATES = {"sgd": 0, "momentum": 1, "adam": 2}  # copies of the parameters kept

DEFINITIONS = {
    "forward": "forward activations: the input and every output a framework keeps, in-place "
               "layers adding none (the lecture's column)",
    "peak": "inference peak: the largest set of activations alive at once when each output is "
            "freed after its last reader (a merge's input stays alive until every branch has "
            "run; an attention layer's scores while it runs)",
    "training": "training: the saved forward activations + attention scores + parameters + "
                "gradients + optimizer state (sgd 0, momentum 1, adam 2 copies of the "
                "parameters) + buffers",
    "scores": "attention scores: heads × queries × keys per attention layer (per group of "
              "windowed attention), the softmax that attention·V reads; inference holds one "
              "layer's at a time, training keeps every layer's for the backward pass",
    "fused": "attention scores: none held (--fused-attention: flash-style kernels compute "
             "softmax(QKᵀ)·V in tiles and keep only per-row statistics, which are not counted)",
}


@dataclass(frozen=True)
class Step:
    """One point of the liveness curve: while a row runs, this many elements are alive."""

    row: int  # the row's index in report.rows
    alive: int  # activation elements alive at once (per example)


# told each step as it is found: (the row's index, elements alive)
_Note = Callable[[int, int], None]


def liveness(model: Model, report: Summary, fused: bool = False) -> tuple[Step, ...]:
    """The activation elements alive at each step of inference, in execution order.

    Walks the model in execution order with the report's rows: the input alone, then each
    layer with its input and output alive together (an in-place layer makes no new tensor),
    an attention layer with its score tensor too (unless ``fused``), and each merge as it
    joins, its input and every finished branch's output still alive.
    """
    steps: list[Step] = []
    _Walk(report, lambda row, alive: steps.append(Step(row, alive)), fused).run(model)
    return tuple(steps)


def inference_peak(model: Model, report: Summary, fused: bool = False) -> int:
    """The most activation elements (per example) alive at once during inference: the
    highest point of the liveness curve (walked without keeping it)."""
    peak = 0

    def note(_: int, alive: int) -> None:
        nonlocal peak
        peak = max(peak, alive)

    _Walk(report, note, fused).run(model)
    return peak


class _Walk:
    """The model in execution order, with per row the elements it adds to memory, its
    output's and its attention scores (``Summary.outputs``)."""

    def __init__(self, report: Summary, note: _Note, fused: bool) -> None:
        self.rows = enumerate(report.outputs())
        self.note = note
        self.fused = fused  # attention keeps no score tensor

    def run(self, model: Model) -> None:
        _, (_, size, _) = next(self.rows)  # the input's
        self.note(0, size)
        self.sequence(model.layers, size, 0, True)

    def sequence(self, nodes: tuple[ModelNode, ...], current: int, held: int,
                 owned: bool) -> tuple[int, bool]:
        """(current size, whether the current tensor is this sequence's own); ``held``
        elements stay alive throughout."""
        for node in nodes:
            index, row = next(self.rows, (0, None))
            if row is None:  # the analysis stopped at an error: count what was computed
                break
            added, new, scores = row
            if isinstance(node, LayerNode):
                scores = 0 if self.fused else scores
                if added == 0:  # in place, or a view: no new tensor
                    self.note(index, held + (current if owned else 0) + scores)
                    continue
                self.note(index, held + (current if owned else 0) + new + scores)
                current, owned = new, True
            elif isinstance(node, Group):
                current, owned = self.sequence(node.children, current, held, owned)
            else:
                current = self.merge(node, current, held, owned, index, new)
                owned = True
        return current, owned

    def merge(self, node: Merge, current: int, held: int, owned: bool, index: int,
              merged: int) -> int:
        """The merged size: the input and the finished branches stay alive to the end."""
        base = held + (current if owned else 0)
        finished = 0
        for branch in node.branches:
            out, branch_owned = self.sequence(branch, current, base + finished, False)
            if branch_owned:  # an identity branch's output is the input, already counted
                finished += out
        self.note(index, base + finished + merged)
        return merged


@dataclass(frozen=True)
class Training:
    """Training memory at one batch, as a breakdown (bytes)."""

    optimizer: str
    mixed: bool
    activations: int
    parameters: int
    gradients: int
    optimizer_state: int
    buffers: int
    attention_scores: int = 0  # every attention layer's scores, kept for the backward pass

    @property
    def total(self) -> int:
        return (self.activations + self.attention_scores + self.parameters + self.gradients
                + self.optimizer_state + self.buffers)


def training(report: Summary, optimizer: str, mixed: bool = False,
             batch: int | None = None, fused: bool = False) -> Training:
    """Training memory: saved activations and attention scores + parameters + gradients +
    optimizer state.

    Plain precision keeps everything in ``--dtype``. Mixed precision computes in the 16-bit
    ``--dtype`` with fp32 master weights: activations at 2 B, parameters at 4 B (master) +
    2 B (the working copy), gradients and optimizer state at 4 B. ``fused`` attention keeps
    no scores.
    """
    settings, totals = report.settings, report.totals
    batch = settings.batch if batch is None else batch
    element = settings.dtype_bytes
    weight = DTYPE_BYTES["float32"] if mixed else element
    copy = element if mixed else 0
    return Training(
        optimizer=optimizer, mixed=mixed,
        activations=totals.activations * batch * element,
        parameters=totals.params * (weight + copy),
        gradients=totals.params * weight,
        optimizer_state=totals.params * weight * OPTIMIZER_STATES[optimizer],
        buffers=totals.non_trainable_params * weight,
        attention_scores=0 if fused else totals.scores * batch * element)


def inference(report: Summary, peak: int, batch: int | None = None) -> int:
    """Inference memory (bytes): the activation peak at the batch, parameters and buffers."""
    settings, totals = report.settings, report.totals
    batch = settings.batch if batch is None else batch
    return (peak * batch + totals.params + totals.non_trainable_params) * settings.dtype_bytes


@dataclass(frozen=True)
class Fit:
    """The largest batch whose memory stays within a budget."""

    budget: int
    batch: int  # 0 when not even one example fits
    memory: int  # at that batch
    next_memory: int  # at one more


def fit(budget: int, memory_at: Callable[[int], int]) -> Fit:
    """Memory grows linearly with the batch: solve for the largest batch that fits."""
    fixed = memory_at(0)
    per_example = memory_at(1) - fixed
    batch = max((budget - fixed) // per_example, 0) if per_example else 0
    return Fit(budget, batch, memory_at(batch), memory_at(batch + 1))


@dataclass(frozen=True)
class Memory:
    """The memory models of one summary, in bytes at the report's batch and dtype."""

    forward: int
    peak_elements: int  # per example
    inference: int
    training: Training | None
    fit: Fit | None
    attention_scores: int = 0  # bytes of every attention layer's scores (0 when fused)
    fused: bool = False  # attention modelled as fused (flash-style): no scores held


def memory(model: Model, report: Summary, optimizer: str | None = None, mixed: bool = False,
           fit_budget: int | None = None, fused: bool = False) -> Memory:
    """Forward, inference and (with an optimizer) training memory, and the batch that fits.

    ``fit_budget`` fits the training memory when an optimizer is given, else inference.
    ``fused`` models attention that holds no score tensor.
    """
    settings = report.settings
    peak = inference_peak(model, report, fused)
    plan = training(report, optimizer, mixed, fused=fused) if optimizer else None
    fitted = None
    if fit_budget is not None:
        if optimizer:
            fitted = fit(fit_budget,
                         lambda b: training(report, optimizer, mixed, b, fused).total)
        else:
            fitted = fit(fit_budget, lambda b: inference(report, peak, b))
    scores = 0 if fused else settings.bytes_of(report.totals.scores)
    return Memory(settings.bytes_of(report.totals.activations), peak,
                  inference(report, peak), plan, fitted, scores, fused)
