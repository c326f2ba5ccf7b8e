"""Normalisation and per-channel scaling: batch norm (with its running statistics), layer
norm, local response norm, and layer scale."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from convcalc.layers.base import Effect, Formula, activation_formula, need_spatial
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
        # torch.nn.LocalResponseNorm and tf.nn.local_response_normalization refuse a vector
        need_spatial(x, "local response normalisation")
        return Effect(x)

    def explain(self, x: Shape) -> tuple[Formula, ...]:
        return (Formula("params", "0"), activation_formula(x))


@dataclass(frozen=True)
class LayerNorm:
    """Layer norm over the channels at each position (ConvNeXt's LayerNorm2d; torch's
    LayerNorm over the last dimension of a channels-last tensor); no running statistics."""

    count_field: ClassVar[str | None] = None
    kernel_field: ClassVar[str | None] = None

    affine: bool = True  # a learnt scale per channel (torch: elementwise_affine)
    bias: bool = True  # and a learnt shift, with the scale

    def apply(self, x: Shape) -> Effect:
        return Effect(x, params=x.channels * self.affine * (1 + self.bias))

    def explain(self, x: Shape) -> tuple[Formula, ...]:
        c = x.channels
        if not self.affine:
            trained = "0 (affine: false)"
        elif self.bias:
            trained = f"{c} (scale) + {c} (shift) = {2 * c}"
        else:
            trained = f"{c} (scale; bias: false)"
        return (Formula("params", f"{trained} trainable; each position is normalised over its "
                        f"{c} channels, so there are no running statistics (no buffers)"),
                activation_formula(x))


@dataclass(frozen=True)
class LayerScale:
    """A learnt multiplier per channel (ConvNeXt's layer scale, CaiT's LayerScale)."""

    count_field: ClassVar[str | None] = None
    kernel_field: ClassVar[str | None] = None

    def apply(self, x: Shape) -> Effect:
        return Effect(x, params=x.channels)

    def explain(self, x: Shape) -> tuple[Formula, ...]:
        return (Formula("params", f"{x.channels} trainable, one multiplier per channel; an "
                        "elementwise product, so no MACs under the default convention"),
                activation_formula(x))
