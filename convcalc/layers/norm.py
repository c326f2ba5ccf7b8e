"""Normalisation: batch norm (with its running statistics) and local response norm."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from convcalc.layers.base import Effect, Formula, activation_formula
from convcalc.shape import Shape


@dataclass(frozen=True)
class BatchNorm:
    """Batch norm: scale and shift are trained; running mean and variance are buffers."""

    count_field: ClassVar[str | None] = None
    kernel_field: ClassVar[str | None] = None

    affine: bool = True

    def apply(self, x: Shape) -> Effect:
        return Effect(x, params=2 * x.channels * self.affine, buffers=2 * x.channels)

    def explain(self, x: Shape) -> tuple[Formula, ...]:
        trained = (f"2·{x.channels} = {2 * x.channels} trainable (scale, shift)" if self.affine
                   else "0 trainable (affine: false)")
        return (Formula("params", f"{trained} + 2·{x.channels} = {2 * x.channels} non-trainable "
                        "running statistics (buffers, not parameters)"),
                activation_formula(x))


@dataclass(frozen=True)
class LRN:
    """Local response normalisation across channels (AlexNet); no parameters."""

    count_field: ClassVar[str | None] = "size"
    kernel_field: ClassVar[str | None] = None

    size: int = 5
    alpha: float = 1e-4
    beta: float = 0.75
    k: float = 1.0

    def apply(self, x: Shape) -> Effect:
        return Effect(x)

    def explain(self, x: Shape) -> tuple[Formula, ...]:
        return (Formula("params", "0"), activation_formula(x))
