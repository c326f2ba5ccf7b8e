"""Multi-head self-attention: global (ViT), in shifted windows (Swin v1 and v2), and in
MaxViT's blocks and grids.

Every position of the input is a token (an ``L x C`` sequence, or the positions of a grid).
An attention layer projects each token to queries, keys and values (``3C`` outputs), lets
each query score the keys of its group (``heads`` scores per pair), mixes the values with
the softmax of the scores, and projects the result back to ``C``. Its MACs are the four
projections plus the two products of activations, QKᵀ and attention·V (each ``group
tokens² · C`` per group), which torchvision's published GFLOPS count as ``bmm``. The score
tensor (heads × group tokens² per group) is what attention holds in memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from math import prod
from typing import ClassVar

from convcalc.arith import Window
from convcalc.layers.base import (
    Effect,
    Formula,
    Ints,
    Offsets,
    RFStep,
    activation_formula,
    axis_names,
    need_spatial,
    num,
    per_axis,
)
from convcalc.problem import LayerError
from convcalc.shape import Shape

POSITION_BIASES = ("table", "mlp", "none")


def head_width(channels: int, heads: int) -> int:
    """The channels of one head; the heads must split the width evenly."""
    if channels % heads:
        raise LayerError("bad-heads", f"{heads} heads do not divide the width of {channels} "
                         "channels", "heads")
    return channels // heads


def centred(kernel: int) -> RFStep:
    """A window of ``kernel`` positions around each output, stride 1: the field grows by
    kernel − 1 input steps and stays centred on its output (so residual adds stay aligned)."""
    pad = Fraction(kernel - 1, 2)
    return RFStep(kernel, 1, int(pad) if pad.denominator == 1 else pad)


@dataclass(frozen=True)
class Heads:
    """What every attention kind shares: the heads and the projections' biases."""

    count_field: ClassVar[str | None] = "heads"
    kernel_field: ClassVar[str | None] = None

    heads: int
    qkv_bias: bool = True
    proj_bias: bool = True

    def projection_params(self, c: int) -> tuple[int, int]:
        """(params, biases) of the query-key-value projection (C to 3C) and the output
        projection (C to C)."""
        biases = 3 * c * self.qkv_bias + c * self.proj_bias
        return 4 * c * c + biases, biases

    def projection_formulas(self, c: int, tokens: int, groups: int, group: int,
                            extra_params: tuple[str, ...] = (),
                            extra_macs: str = "") -> tuple[Formula, ...]:
        """params, MACs and scores of ``groups`` groups of ``group`` tokens each."""
        params, biases = self.projection_params(c)
        bias_text = " + ".join(part for part in (f"3·{c}" if self.qkv_bias else "",
                                                 f"{c}" if self.proj_bias else "") if part)
        weights = f"4·{c}² = {num(4 * c * c)}"
        shown = f"{weights}" + (f" + bias {bias_text} = {num(params)}" if biases else "")
        products = 2 * groups * group * group * c
        lines = [Formula("params", f"q, k, v and output projections {shown}"
                         + "".join(f"; {text}" for text in extra_params)),
                 Formula("MACs", f"projections {num(tokens)} tokens · 4·{c}² = "
                         f"{num(4 * tokens * c * c)}; QKᵀ and attention·V 2 · {num(groups)}"
                         f" group(s) · {group}² tokens · {c} = {num(products)}"
                         + (f"; {extra_macs}" if extra_macs else "")),
                 Formula("scores", f"{num(groups)} group(s) · {self.heads} heads · {group}² "
                         f"= {num(groups * self.heads * group * group)} elements (head width "
                         f"{c // self.heads})")]
        return tuple(lines)


@dataclass(frozen=True)
class Attention(Heads):
    """Global multi-head self-attention over every position (ViT; torch's
    ``nn.MultiheadAttention``): every output sees the whole input."""

    def apply(self, x: Shape) -> Effect:
        need_spatial(x, "attention")
        c, tokens = x.channels, prod(x.spatial)
        head_width(c, self.heads)
        params, biases = self.projection_params(c)
        products = 2 * tokens * tokens * c
        return Effect(x, params=params, biases=biases, macs=4 * tokens * c * c + products,
                      attention_macs=products, scores=self.heads * tokens * tokens,
                      global_field=True, parts=(("projections", 4 * tokens * c * c),))

    def explain(self, x: Shape) -> tuple[Formula, ...]:
        self.apply(x)
        tokens = prod(x.spatial)
        return (*self.projection_formulas(x.channels, tokens, 1, tokens),
                Formula("receptive field", "the whole input: every token attends to all "
                        f"{num(tokens)}"),
                activation_formula(x))


@dataclass(frozen=True)
class WindowAttention(Heads):
    """Swin's (shifted) window attention on a grid, as torchvision builds it (v1: a relative
    position bias table; v2: ``position: mlp``, ``cosine: true``). A grid that the window
    does not divide is padded at the end to a multiple of the window, as torchvision does."""

    window: Ints = (7,)
    shift: Offsets = (0,)  # Swin shifts every other block by half the window
    position: str = "table"  # the relative position bias: table, mlp (v2) or none
    position_hidden: int = 512  # the width of v2's position-bias MLP
    cosine: bool = False  # v2's scaled cosine attention, with a learnt scale per head

    def partition(self, x: Shape) -> tuple[tuple[int, ...], tuple[Window, ...], tuple[int, ...]]:
        """(window per axis, the partition per axis, the shift torchvision applies per axis)."""
        if len(x.spatial) != 2:
            raise LayerError("wrong-rank", f"window attention needs a grid (H x W x C), got {x}")
        if self.position not in POSITION_BIASES:
            raise LayerError("unsupported", f"position is one of {', '.join(POSITION_BIASES)}, "
                             f"got {self.position!r}", "position")
        head_width(x.channels, self.heads)
        window = per_axis(self.window, 2, "window")
        shift = per_axis(self.shift, 2, "shift")
        for w, s in zip(window, shift, strict=True):
            if s >= w:
                raise LayerError("invalid-size", f"the shift {s} is not smaller than the "
                                 f"window {w}", "shift")
        # the partition pads the end to a multiple of the window: ceil mode, nothing lost
        windows = tuple(Window(size, w, w, ceil=True) for size, w in
                        zip(x.spatial, window, strict=True))
        # torchvision does not shift an axis that one window covers
        shifts = tuple(0 if part.output == 1 else s for part, s in
                       zip(windows, shift, strict=True))
        return window, windows, shifts

    def position_params(self, window: tuple[int, ...]) -> tuple[int, int, int]:
        """(params, buffers, MACs) of the relative position bias and the logit scale."""
        table = (2 * window[0] - 1) * (2 * window[1] - 1)
        index = prod(window) ** 2  # relative_position_index, one entry per pair of tokens
        hidden = self.position_hidden
        scale = self.heads * self.cosine
        if self.position == "table":
            return table * self.heads + scale, index, 0
        if self.position == "mlp":  # Linear(2, hidden) with bias, ReLU, Linear(hidden, heads)
            weights = 2 * hidden + hidden * self.heads
            return weights + hidden + scale, index + 2 * table, table * weights
        return scale, 0, 0

    def parts(self, window: tuple[int, ...], projections: int, position_macs: int,
              products: int) -> tuple[tuple[str, int], ...]:
        table = (2 * window[0] - 1) * (2 * window[1] - 1)
        hidden = self.position_hidden
        position = (("position", position_macs),
                    ("position-params", 3 * hidden + hidden * self.heads),
                    ("position-hidden", table * hidden)) if self.position == "mlp" else ()
        # v2 scores normalised queries against normalised keys (with the @ operator)
        cosine = (("cosine-qk", products // 2),) if self.cosine else ()
        return (("projections", projections), *position, *cosine)

    def apply(self, x: Shape) -> Effect:
        window, windows, shifts = self.partition(x)
        c = x.channels
        groups, group = prod(w.output for w in windows), prod(window)
        padded = groups * group
        params, biases = self.projection_params(c)
        extra, buffers, position_macs = self.position_params(window)
        products = 2 * groups * group * group * c
        notes = []
        if padded != prod(x.spatial):
            sizes = " x ".join(str(w.output * k) for w, k in zip(windows, window, strict=True))
            notes.append(f"torchvision's Swin pads the grid at the end to {sizes}, a multiple of "
                         "the window; the padding takes part in the attention")
        if shifts != per_axis(self.shift, 2, "shift"):
            notes.append("torchvision does not shift an axis that one window covers")
        return Effect(x, params=params + extra, biases=biases, buffers=buffers,
                      macs=4 * padded * c * c + products + position_macs,
                      attention_macs=products, scores=groups * self.heads * group * group,
                      parts=self.parts(window, 4 * padded * c * c, position_macs, products),
                      windows=windows,
                      rf=tuple(centred(w + (s > 0)) for w, s in zip(window, shifts, strict=True)),
                      notes=tuple(notes))

    def explain(self, x: Shape) -> tuple[Formula, ...]:
        effect = self.apply(x)
        window, windows, shifts = self.partition(x)
        groups, group = prod(w.output for w in windows), prod(window)
        _, buffers, position_macs = self.position_params(window)
        table = f"(2·{window[0]} − 1)·(2·{window[1]} − 1)"
        described = {"table": f"relative position bias table {table}·{self.heads} heads",
                     "mlp": f"position-bias MLP 2·{self.position_hidden} + "
                            f"{self.position_hidden} + {self.position_hidden}·{self.heads}",
                     "none": ""}[self.position]
        parts = [text for text in (described, f"logit scale {self.heads}" if self.cosine
                                   else "") if text]
        partition = "; ".join(
            f"{name}: {w.size} in windows of {k} → {w.output}"
            + (f" (padded to {w.output * k})" if w.output * k != w.size else "")
            + (f", shifted by {s}" if s else "")
            for name, w, k, s in zip(axis_names(2), windows, window, shifts, strict=True))
        return (Formula("windows", partition),
                *self.projection_formulas(
                    x.channels, groups * group, groups, group,
                    (*parts, f"= {num(effect.params)}") if parts else (),
                    f"position-bias MLP {table} offsets · (2 + {self.heads})·"
                    f"{self.position_hidden} = {num(position_macs)}, once per pass"
                    if position_macs else ""),
                Formula("buffers", f"{num(buffers)} (relative position index {group}²"
                        + (f" + coordinates table 2·{table}" if self.position == "mlp" else "")
                        + ")" if buffers else "0"),
                Formula("receptive field", "each output sees its window: a window of w acts "
                        "as a kernel of w, a shifted one as w + 1 (it straddles two windows "
                        "of the layer before)"),
                activation_formula(x))


@dataclass(frozen=True)
class PartitionAttention(Heads):
    """MaxViT's attention in a partition of ``size`` x ``size`` tokens, as torchvision's
    ``PartitionAttentionLayer`` partitions and ``RelativePositionalMultiHeadAttention``
    attends: the grid must divide by the size (torchvision refuses other inputs)."""

    dilated: ClassVar[bool] = False

    size: int = 7

    def groups(self, x: Shape) -> tuple[int, int]:
        """(number of groups, the spacing of a group's tokens) on a checked grid."""
        if len(x.spatial) != 2:
            raise LayerError("wrong-rank", f"MaxViT's attention needs a grid (H x W x C), "
                             f"got {x}")
        head_width(x.channels, self.heads)
        height, width = x.spatial
        if self.size > min(height, width):
            raise LayerError("invalid-size", f"the partition of {self.size}x{self.size} is "
                             f"larger than the {height}x{width} grid", "size")
        if height % self.size or width % self.size:
            raise LayerError("invalid-size", f"the {height}x{width} grid does not divide "
                             f"into partitions of {self.size}x{self.size} (torchvision's MaxVit "
                             "refuses such an input)", "size")
        if self.dilated and height != width:
            raise LayerError("unsupported", f"grid attention on the {height}x{width} grid: "
                             "torchvision's MaxVit groups P² tokens only on a square grid",
                             "size")
        return (height // self.size) * (width // self.size), height // self.size

    def apply(self, x: Shape) -> Effect:
        groups, spacing = self.groups(x)
        c, group = x.channels, self.size ** 2
        params, biases = self.projection_params(c)
        table = (2 * self.size - 1) ** 2 * self.heads
        products = 2 * groups * group * group * c
        reach = spacing * (self.size - 1) + 1 if self.dilated else self.size
        return Effect(x, params=params + table, biases=biases, buffers=group * group,
                      macs=4 * groups * group * c * c + products, attention_macs=products,
                      scores=groups * self.heads * group * group,
                      parts=(("projections", 4 * groups * group * c * c),),
                      rf=(centred(reach), centred(reach)))

    def explain(self, x: Shape) -> tuple[Formula, ...]:
        effect = self.apply(x)
        groups, spacing = self.groups(x)
        group = self.size ** 2
        table = f"relative position bias table (2·{self.size} − 1)²·{self.heads} heads"
        how = (f"{num(groups)} groups of {self.size}x{self.size} tokens {spacing} apart "
               f"(a dilated window: effective size {spacing * (self.size - 1) + 1})"
               if self.dilated else
               f"{num(groups)} windows of {self.size}x{self.size} tokens")
        return (Formula("partition", how),
                *self.projection_formulas(x.channels, prod(x.spatial), groups, group,
                                          (table, f"= {num(effect.params)}")),
                Formula("buffers", f"relative position index {group}² = {num(group * group)}"),
                activation_formula(x))


class BlockAttention(PartitionAttention):
    """MaxViT's block attention: self-attention inside each ``size`` x ``size`` window."""


class GridAttention(PartitionAttention):
    """MaxViT's grid attention: self-attention among ``size`` x ``size`` tokens spread evenly
    over the grid (a dilated window, spacing = grid / size)."""

    dilated = True

