"""Counting conventions: what a "FLOP" count includes, named after the tools that use each.

The default counts multiply-accumulates of convolution and dense weights and of attention's
products of activations (the papers', torchvision's published GFLOPS, fvcore's core). The
presets reproduce other counters' rules, so a number from any of them can be explained; the
switches build a convention of one's own. Each extra operation is counted once per element
it touches, as those tools do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from math import prod

from convcalc.layers.fields import ACTIVATIONS
from convcalc.report import Report, Row

ATTENTION = ("attention", "window-attention", "block-attention", "grid-attention")
POOLS = ("maxpool", "avgpool", "global-avgpool", "global-maxpool", "adaptive-avgpool",
         "adaptive-maxpool")


@dataclass(frozen=True)
class Convention:
    """Extra operations per element, on top of the weights' multiply-accumulates."""

    name: str
    description: str
    bias: int = 0  # per output element of a conv, per output of a dense layer
    norm: int = 0  # per batch-norm element with affine scale and shift (half without)
    activations: tuple[tuple[str, int], ...] = ()  # (kind, per output element)
    pools: tuple[tuple[str, int], ...] = ()  # (kind, per input element)
    upsample: int = 0  # per output element
    merges: int = 0  # per output element, for each branch beyond the first (add and mul)
    norm_params: bool = False  # torchinfo: one per batch-norm or layer-norm parameter
    layernorm: tuple[int, int] = (0, 0)  # per layer-norm element: with a scale, without
    products: bool = True  # count attention's products of activations (QKᵀ, attention·V)
    # A tool's own count of a row where it departs from MACs plus extras (its attention
    # layers, its token-wise dense layers), or None where it does not.
    own_rule: Callable[[Row], int | None] | None = None

    def extra(self, row: Row) -> int:
        """Operations this convention adds to one layer's MACs."""
        out, inp = row.output_shape.size, row.input_shape.size
        count = 0
        if row.biases:
            count += self.bias * out
        if row.kind == "bn":
            count += self.norm * out if row.params else self.norm * out // 2
        if row.kind == "layernorm":
            count += self.layernorm[0 if row.params else 1] * out
        if row.kind in ("bn", "layernorm") and self.norm_params:
            count += row.params
        acts = dict(self.activations)
        count += acts.get(row.kind, 0) * out
        if row.act:
            count += acts.get(row.act, 0) * out
        count += dict(self.pools).get(row.kind, 0) * inp
        if row.kind == "upsample":
            count += self.upsample * out
        return count

    def own(self, row: Row) -> int:
        """A row's own operations: a layer's MACs and extras, a merge's elementwise work."""
        if row.kind in ("add", "mul"):
            return self.merges * row.output_shape.size * max(row.branches - 1, 0)
        if row.rows_below:
            return 0
        ruled = self.own_rule(row) if self.own_rule else None
        if ruled is not None:
            return ruled
        return row.macs - (0 if self.products else row.attention_macs) + self.extra(row)


def _part(row: Row, name: str) -> int:
    return dict(row.parts).get(name, 0)


def _fvcore_rule(row: Row) -> int | None:
    """fvcore traces aten ops. torch's nn.MultiheadAttention (the `attention` kind) computes
    its products in aten::scaled_dot_product_attention when asked for no weights, as
    torchvision's ViT asks (torch/nn/functional.py, multi_head_attention_forward), and
    fvcore's flop_count.py has no handle for it: projections only. Swin's products are
    aten::matmul (counted exactly); MaxViT's are aten::einsum, which jit_handles.py counts
    from numpy's einsum_path report, printed to 4 significant digits ("%.3e"), halved and
    floored."""
    if row.kind == "attention":
        return row.macs - row.attention_macs
    if row.kind in ("block-attention", "grid-attention"):
        each = row.attention_macs // 2  # QKᵀ and attention·V are the same size
        rounded = (Decimal(f"{2 * each:.3e}") / 2).to_integral_value(ROUND_FLOOR)
        return row.macs - row.attention_macs + 2 * int(rounded)
    return None


def _ptflops_rule(row: Row) -> int | None:
    """ptflops 0.7's pytorch backend (pytorch_ops.py): nn.MultiheadAttention's own hook
    counts the projections, the products, the q scaling (1 per output), the input
    projections' bias (3 per output), the output projection's bias (1 per output, "always")
    and the softmax (1 per score). torchvision's Swin calls F.linear, which ptflops does not
    patch: its projections count nothing; its products go through the patched
    Tensor.matmul, its softmax through F.softmax, and v2's position-bias MLP through the
    nn.Linear hooks (MACs and bias) and nn.ReLU's hook plus the patched F.relu (twice); v2's
    cosine scores use the @ operator (Tensor.__matmul__), which is not patched.
    MaxViT's projections are nn.Linear modules (MACs and bias per token); its products are
    torch.einsum, not patched; its softmax counts 1 per score."""
    if row.kind == "attention":
        channels = row.input_shape.channels
        in_bias = 3 if row.biases >= 3 * channels else 0
        return row.macs + (2 + in_bias) * row.output_shape.size + row.scores
    if row.kind == "window-attention":
        return row.attention_macs - _part(row, "cosine-qk") + row.scores + \
            _part(row, "position") + 3 * _part(row, "position-hidden")
    if row.kind in ("block-attention", "grid-attention"):
        tokens = prod(row.input_shape.spatial)
        return _part(row, "projections") + tokens * row.biases + row.scores
    return None


def _torchinfo_rule(row: Row) -> int | None:
    """torchinfo sums its leaf modules' mult-adds (model_statistics.py) and counts a
    non-convolution's parameters once per example (layer_info.py, calculate_macs): an
    nn.Linear on tokens counts its parameters, not its MACs. Attention modules have child
    modules, so they are not leaves: nn.MultiheadAttention and Swin's window attention
    (whose qkv and proj it applies with F.linear) count nothing but v2's position-bias MLP
    (its nn.Linear leaves); MaxViT's to_qkv and merge leaves count their parameters once."""
    if row.kind == "token-fc":
        return row.params
    if row.kind == "window-attention":
        return _part(row, "position-params")
    if row.kind in ("block-attention", "grid-attention"):
        channels = row.input_shape.channels
        return 4 * channels * channels + row.biases
    if row.kind == "attention":
        return 0
    return None



MACS = Convention("macs", "multiply-accumulates of conv and dense weights, bias excluded, and of "
                          "attention's products (QKᵀ, attention·V): the papers', torchvision's "
                          "published GFLOPS and fvcore's core")
# Layer norm and layer scale, from each tool's source: fvcore's flop_count.py maps
# aten::layer_norm to norm_flop_counter(2), 5 per element with a weight (4 without), and has
# no handle for aten::mul (layer scale: 0). ptflops' pytorch_ops.py hooks nn.LayerNorm with
# bn_flops_counter_hook, which doubles only for an `affine` attribute that LayerNorm does not
# have (it has elementwise_affine): 1 per element; the hook is found by exact type, so a
# subclass such as torchvision's LayerNorm2d counts 0, and `scale * x` (Tensor.__mul__) is not
# patched: layer scale 0. torchinfo's calculate_macs counts a non-conv module's parameters
# named weight or bias once: layer norm's 2C, not ConvNeXt's `layer_scale`. Stochastic depth
# is the identity at inference: 0 in every tool.
FVCORE = Convention(
    "fvcore", "fvcore's FlopCountAnalysis defaults: conv and linear MACs, batch norm 2 per "
              "element (eval, affine), layer norm 5 per element (4 without a scale), adaptive "
              "average pooling 1 per input element, nearest upsampling 1 per output element; "
              "ReLU, max pooling, adds and layer scale ignored; attention's products counted "
              "for matmul and einsum (Swin; MaxViT to einsum_path's 4 digits), not through "
              "nn.MultiheadAttention (ViT: scaled_dot_product_attention has no handle)",
    norm=2, pools=(("global-avgpool", 1), ("adaptive-avgpool", 1)), upsample=1,
    layernorm=(5, 4), own_rule=_fvcore_rule)
PTFLOPS = Convention(
    "ptflops", "ptflops 0.7's pytorch (module-hook) backend: conv and linear MACs plus bias (1 "
               "per output), batch norm 2 per element, ReLU-family modules and pooling modules "
               "counted twice (once by the module hook, once by the patched torch.nn.functional "
               "call inside them), SiLU and softmax once through the functional patch, "
               "nn.LayerNorm 1 per element; in-place adds and layer scale not counted; "
               "nn.MultiheadAttention by its hook (projections, products, biases, q scaling, "
               "softmax), Swin's F.linear projections not at all (products but v2's @ cosine, "
               "softmax, v2's position-bias MLP), "
               "MaxViT's einsum products not at all (projections, biases and softmax)",
    bias=1, norm=2, layernorm=(1, 1), own_rule=_ptflops_rule,
    activations=(("relu", 2), ("relu6", 2), ("leaky-relu", 2), ("gelu", 2), ("silu", 1),
                 ("softmax", 1)),
    pools=tuple((kind, 2) for kind in POOLS), upsample=2)
TORCHINFO = Convention(
    "torchinfo", "torchinfo's mult-adds: each conv parameter (weights and bias) times the output "
                 "positions, each other parameter (dense, batch norm, layer norm) once, "
                 "token-wise dense layers too; attention modules (not leaves) nothing but "
                 "their nn.Linear children's parameters once (MaxViT's projections, Swin v2's "
                 "position-bias MLP)",
    bias=1, norm_params=True, own_rule=_torchinfo_rule)

PRESETS: dict[str, Convention] = {c.name: c for c in (MACS, FVCORE, PTFLOPS, TORCHINFO)}
PRESETS["paper"] = MACS
SWITCHES = ("bias", "norm", "act", "pool", "add", "attention")


def custom(switches: list[str]) -> Convention:
    """A convention from switches: each counts 1 per element (norm: 2, as scale and shift);
    ``attention`` adds attention's products, which the weights' MACs leave out."""
    unknown = set(switches) - set(SWITCHES)
    if unknown:
        raise ValueError(f"unknown count switch(es) {', '.join(sorted(unknown))}; "
                         f"choose from {', '.join(SWITCHES)}")
    chosen = set(switches)
    return Convention(
        "custom:" + "+".join(sorted(chosen)),
        "conv and dense MACs" + "".join(f" + {s}" for s in sorted(chosen)) +
        ("" if "attention" in chosen else " (attention's products not counted)"),
        bias=int("bias" in chosen), norm=2 * ("norm" in chosen),
        layernorm=(2, 1) if "norm" in chosen else (0, 0),
        activations=tuple((kind, 1) for kind in ACTIVATIONS) if "act" in chosen else (),
        pools=tuple((kind, 1) for kind in POOLS) if "pool" in chosen else (),
        merges=int("add" in chosen), products="attention" in chosen)


@dataclass(frozen=True)
class Counted:
    """Operations per row and in total under one convention."""

    convention: Convention
    per_row: tuple[int, ...]  # aligned with report.rows (blocks and merges hold their totals)
    total: int


def count(report: Report, convention: Convention) -> Counted:
    """Every row's operations under ``convention``; a block's or merge's row sums its own."""
    own = [convention.own(row) for row in report.rows]
    per_row = [sum(own[index: index + row.rows_below + 1])
               for index, row in enumerate(report.rows)]
    top = sum(value for value, row in zip(per_row, report.rows, strict=True) if row.depth == 0)
    return Counted(convention, tuple(per_row), top)
