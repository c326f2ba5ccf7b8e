"""Token sequences: a grid of positions as an ``L x C`` sequence and back, a class token,
learned position embeddings, taking one token, per-position dense layers and Swin's patch
merging.

A token is a position with its channels: ``14x14x768`` holds 196 tokens of width 768. The
layers here rearrange positions or act on each one alone, so each output position keeps
the receptive field of the input position(s) it comes from.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import isqrt, prod
from typing import ClassVar

from convcalc.arith import Window
from convcalc.layers.base import (
    Act,
    Effect,
    Formula,
    Index,
    Ints,
    RFStep,
    activation_formula,
    axis_names,
    need_spatial,
    num,
    product,
)
from convcalc.problem import LayerError
from convcalc.shape import Shape


def need_sequence(x: Shape, kind: str) -> int:
    """The length of a token sequence ``L x C``; a grid or a vector is the wrong rank."""
    if len(x.spatial) != 1:
        found = "a vector" if not x.spatial else f"the spatial map {x}"
        raise LayerError("wrong-rank", f"{kind} needs a token sequence (L x C), got {found}"
                         + ("; add `tokens` first to flatten its positions" if len(x.spatial) > 1
                            else ""))
    return x.spatial[0]


@dataclass(frozen=True)
class Tokens:
    """Flatten the spatial positions into a sequence of tokens: ``H x W x C`` to ``HW x C``
    (torchvision's ViT: reshape, then permute to (batch, tokens, channels)); a view."""

    count_field: ClassVar[str | None] = None
    kernel_field: ClassVar[str | None] = None

    def apply(self, x: Shape) -> Effect:
        need_spatial(x, "tokens")
        return Effect(Shape((prod(x.spatial),), x.channels), inplace=True, keeps_field=True)

    def explain(self, x: Shape) -> tuple[Formula, ...]:
        out = self.apply(x).output
        return (Formula("output", f"L = {product(x.spatial)} = {out.spatial[0]} tokens of "
                        f"{x.channels} channels (a view: no new memory)"),)


@dataclass(frozen=True)
class Grid:
    """Reshape a token sequence back to a grid of positions: ``L x C`` to ``H x W x C``.

    ``size`` gives the grid (``14`` for 14x14, ``7x28``); without it the sequence must be a
    square number of tokens."""

    count_field: ClassVar[str | None] = None
    kernel_field: ClassVar[str | None] = None

    size: Ints | None = None

    def grid(self, x: Shape) -> tuple[int, ...]:
        length = need_sequence(x, "grid")
        if self.size is None:
            side = isqrt(length)
            if side * side != length:
                raise LayerError("token-mismatch", f"{length} tokens are not a square grid: "
                                 f"give its `size`, H x W with H·W = {length}")
            return (side, side)
        sizes = self.size * 2 if len(self.size) == 1 else self.size
        if prod(sizes) != length:
            raise LayerError("token-mismatch", f"a {'x'.join(map(str, sizes))} grid holds "
                             f"{prod(sizes)} tokens, but the sequence has {length}", "size")
        return sizes

    def apply(self, x: Shape) -> Effect:
        return Effect(Shape(self.grid(x), x.channels), inplace=True, keeps_field=True)

    def explain(self, x: Shape) -> tuple[Formula, ...]:
        sizes = self.grid(x)
        return (Formula("output", f"{x.spatial[0]} tokens = {product(sizes)} positions of "
                        f"{x.channels} channels (a view: no new memory)"),)


@dataclass(frozen=True)
class ClassToken:
    """Learned tokens put before the sequence (ViT's class token): ``L x C`` to
    ``(L + count) x C``, ``count``·C params."""

    count_field: ClassVar[str | None] = "count"
    kernel_field: ClassVar[str | None] = None

    count: int = 1

    def apply(self, x: Shape) -> Effect:
        length = need_sequence(x, "a class token")
        return Effect(Shape((length + self.count,), x.channels), params=self.count * x.channels,
                      keeps_field=True)

    def explain(self, x: Shape) -> tuple[Formula, ...]:
        out = self.apply(x).output
        return (Formula("params", f"{self.count}·{x.channels} = {num(self.count * x.channels)} "
                        "trainable (the token)"),
                Formula("output", f"L = {x.spatial[0]} + {self.count} = {out.spatial[0]}"),
                activation_formula(out))


@dataclass(frozen=True)
class PositionEmbedding:
    """A learned embedding per position, added to the input: L·C params for an ``L x C``
    sequence (any grid: positions·C). ``length``, when given, is checked against the input."""

    count_field: ClassVar[str | None] = "length"
    kernel_field: ClassVar[str | None] = None

    length: int | None = None

    def apply(self, x: Shape) -> Effect:
        need_spatial(x, "a position embedding")
        positions = prod(x.spatial)
        if self.length is not None and self.length != positions:
            raise LayerError("token-mismatch", f"the position embedding has {self.length} "
                             f"positions but the input has {positions}", "length")
        return Effect(x, params=positions * x.channels)

    def explain(self, x: Shape) -> tuple[Formula, ...]:
        positions = prod(x.spatial)
        return (Formula("params", f"{product(x.spatial)}·{x.channels} = "
                        f"{num(positions * x.channels)} trainable, one vector per position; "
                        "added, so no MACs under the default convention"),
                activation_formula(x))


@dataclass(frozen=True)
class TakeToken:
    """One token of a sequence as a vector (ViT's ``x[:, 0]``, the class token); a view."""

    count_field: ClassVar[str | None] = "index"
    kernel_field: ClassVar[str | None] = None

    index: Index = 0

    def apply(self, x: Shape) -> Effect:
        length = need_sequence(x, "take-token")
        if self.index >= length:
            raise LayerError("token-mismatch", f"token {self.index} of a sequence of {length} "
                             "(counting from 0)", "index")
        return Effect(Shape((), x.channels), inplace=True)

    def explain(self, x: Shape) -> tuple[Formula, ...]:
        return (Formula("output", f"token {self.index} of {x.spatial[0]}: {x.channels} "
                        "channels (a view: no new memory)"),)


@dataclass(frozen=True)
class TokenDense:
    """A dense layer applied to the channels of every position alone (torch's ``nn.Linear``
    on a channels-last tensor; a 1x1 convolution by another name). ``fc`` flattens instead."""

    count_field: ClassVar[str | None] = "units"
    kernel_field: ClassVar[str | None] = None

    units: int
    bias: bool = True
    act: Act = None

    def apply(self, x: Shape) -> Effect:
        positions = prod(x.spatial)
        return Effect(Shape(x.spatial, self.units),
                      params=x.channels * self.units + self.units * self.bias,
                      biases=self.units * self.bias, macs=positions * x.channels * self.units,
                      keeps_field=True)

    def explain(self, x: Shape) -> tuple[Formula, ...]:
        effect = self.apply(x)
        weights = x.channels * self.units
        params = (f"({x.channels} + 1)·{self.units}" if self.bias
                  else f"{x.channels}·{self.units}")
        return (Formula("params", f"{params} = {num(effect.params)}  (weights {num(weights)}"
                        + (f" + bias {self.units})" if self.bias else ", no bias)")),
                Formula("MACs", f"{product(x.spatial)} positions · {x.channels}·{self.units} = "
                        f"{num(effect.macs)}"),
                activation_formula(effect.output))


@dataclass(frozen=True)
class PatchMerge:
    """Swin's patch merging without its norm and linear: each 2x2 neighbourhood becomes one
    position of 4C channels (torchvision's order: (0,0), (1,0), (0,1), (1,1)). An odd size
    is padded by one at the end first, as torchvision's ``_patch_merging_pad`` does."""

    count_field: ClassVar[str | None] = None
    kernel_field: ClassVar[str | None] = None

    def windows(self, x: Shape) -> tuple[Window, ...]:
        if len(x.spatial) != 2:
            raise LayerError("wrong-rank", f"patch merging needs a grid (H x W x C), got {x}")
        return tuple(Window(size, 2, 2, (0, size % 2)) for size in x.spatial)

    def apply(self, x: Shape) -> Effect:
        windows = self.windows(x)
        padded = [f"{name} {w.size} → {w.size + 1}" for name, w in
                  zip(axis_names(2), windows, strict=True) if w.pad[1]]
        notes = (f"odd size padded by one at the end, as torchvision does: "
                 f"{', '.join(padded)}",) if padded else ()
        return Effect(Shape(tuple(w.output for w in windows), 4 * x.channels), windows=windows,
                      rf=tuple(RFStep(2, 2, 0) for _ in windows), notes=notes)

    def explain(self, x: Shape) -> tuple[Formula, ...]:
        out = self.apply(x).output
        sizes = ", ".join(f"{name}: ceil({i}/2) = {o}" for name, i, o in
                          zip(axis_names(2), x.spatial, out.spatial, strict=True))
        return (Formula("output", f"{sizes}; channels 4·{x.channels} = {out.channels}"),
                activation_formula(out))

