"""Which of Dumoulin & Visin's relationships a layer is, with its numbers filled in.

V. Dumoulin and F. Visin, "A guide to convolution arithmetic for deep learning" (2016)
numbers the cases of the output-size formula: relationships 1-6 for convolution, 7 for
pooling, 8-14 for transposed convolution and 15 for dilated convolution. The guide pads
symmetrically (p each side); an asymmetric pad p_l + p_r takes the place of 2p.
"""

from __future__ import annotations

from dataclasses import dataclass

from convcalc.arith import transposed_output
from convcalc.layers.base import Formula, Layer, axis_names, explicit_pads, per_axis
from convcalc.layers.conv import ConvTranspose
from convcalc.layers.pool import AvgPool, MaxPool
from convcalc.report import Row


@dataclass(frozen=True)
class Case:
    """One of Dumoulin & Visin's numbered relationships."""

    number: int
    title: str
    formula: str  # in the guide's symbols
    filled: str  # with this layer's numbers


def _pad_text(left: int, right: int) -> str:
    return f"2·{left}" if left == right else f"({left} + {right})"


def window_case(i: int, k: int, s: int, left: int, right: int, d: int, pool: bool) -> Case:
    """Relationships 1-7 and 15: convolution and pooling."""
    o_floor = (i + left + right - (d * (k - 1) + 1)) // s + 1
    pads = _pad_text(left, right)
    if d > 1:
        return Case(15, "dilated convolution", "o = ⌊(i + 2p − k − (k − 1)(d − 1))/s⌋ + 1",
                    f"⌊({i} + {pads} − {k} − ({k} − 1)({d} − 1))/{s}⌋ + 1 = {o_floor}")
    if pool:
        return Case(7, "pooling", "o = ⌊(i − k)/s⌋ + 1 (with padding: as relationship 6)",
                    f"⌊({i} + {pads} − {k})/{s}⌋ + 1 = {o_floor}")
    if s == 1:
        if left == right == 0:
            return Case(1, "no zero padding, unit strides", "o = (i − k) + 1",
                        f"({i} − {k}) + 1 = {o_floor}")
        if left == right == (k - 1) // 2 and k % 2 == 1:
            return Case(3, "half (same) padding, unit strides", "o = i  (k = 2n + 1, p = n)",
                        f"o = i = {o_floor}")
        if left == right == k - 1:
            return Case(4, "full padding, unit strides", "o = i + (k − 1)",
                        f"{i} + ({k} − 1) = {o_floor}")
        return Case(2, "zero padding, unit strides", "o = (i − k) + 2p + 1",
                    f"({i} − {k}) + {pads} + 1 = {o_floor}")
    if left == right == 0:
        return Case(5, "no zero padding, non-unit strides", "o = ⌊(i − k)/s⌋ + 1",
                    f"⌊({i} − {k})/{s}⌋ + 1 = {o_floor}")
    return Case(6, "zero padding, non-unit strides", "o = ⌊(i + 2p − k)/s⌋ + 1",
                f"⌊({i} + {pads} − {k})/{s}⌋ + 1 = {o_floor}")


def transposed_case(i: int, k: int, s: int, p: int, a: int) -> Case:
    """Relationships 8-14: a transposed convolution, from the convolution it transposes."""
    o = transposed_output(i, k, s, (p, p), a)
    if s == 1:
        if p == 0:
            return Case(8, "transposed: no zero padding, unit strides", "o' = i' + (k − 1)",
                        f"{i} + ({k} − 1) = {o}")
        if k % 2 == 1 and p == (k - 1) // 2:
            return Case(10, "transposed: half (same) padding, unit strides", "o' = i'",
                        f"o' = i' = {o}")
        if p == k - 1:
            return Case(11, "transposed: full padding, unit strides", "o' = i' − (k − 1)",
                        f"{i} − ({k} − 1) = {o}")
        return Case(9, "transposed: zero padding, unit strides", "o' = i' + (k − 1) − 2p",
                    f"{i} + ({k} − 1) − 2·{p} = {o}")
    if p == 0 and a == 0:
        return Case(12, "transposed: no zero padding, non-unit strides", "o' = s(i' − 1) + k",
                    f"{s}·({i} − 1) + {k} = {o}")
    if a == 0:
        return Case(13, "transposed: zero padding, non-unit strides",
                    "o' = s(i' − 1) + k − 2p", f"{s}·({i} − 1) + {k} − 2·{p} = {o}")
    return Case(14, "transposed: zero padding, non-unit strides, a = output_padding",
                "o' = s(i' − 1) + a + k − 2p", f"{s}·({i} − 1) + {a} + {k} − 2·{p} = {o}")


def explain(layer: Layer, row: Row) -> tuple[Formula, ...]:
    """The guide's relationship for each axis (alike axes share a line), and for a strided
    transposed convolution the ambiguity that output_padding resolves. Layers without a
    kernel (attention's windows, patch merging) are not the guide's cases: none."""
    if not hasattr(layer, "k"):
        return ()
    cases = _transposed_cases(layer, row) if isinstance(layer, ConvTranspose) else \
        _window_cases(layer, row)
    lines: dict[str, list[str]] = {}
    for axis, case in zip(axis_names(len(cases)), cases, strict=True):
        key = f"relationship {case.number} ({case.title}): {case.formula}; here {case.filled}"
        lines.setdefault(key, []).append(axis)
    formulas = [Formula(f"Dumoulin & Visin, {', '.join(names)}", text)
                for text, names in lines.items()]
    if any(case.number in (12, 13, 14) for case in cases):
        formulas.append(Formula("ambiguity", "a stride-s convolution maps s input sizes to one "
                                "output size; output_padding a picks which of them this "
                                "transposed convolution restores"))
    return tuple(formulas)


def _window_cases(layer: Layer, row: Row) -> list[Case]:
    pool = isinstance(layer, MaxPool | AvgPool)
    ndim = len(row.input_shape.spatial)
    kernels = per_axis(getattr(layer, "k", (1,)), ndim, "k")
    dilations = per_axis(getattr(layer, "dilation", (1,)), ndim, "dilation")
    return [window_case(size, kernels[index], axis.stride, axis.pad[0], axis.pad[1],
                        dilations[index], pool)
            for index, (axis, size) in enumerate(zip(row.sizes, row.input_shape.spatial,
                                                     strict=False))]


def _transposed_cases(layer: ConvTranspose, row: Row) -> list[Case]:
    ndim = len(row.input_shape.spatial)
    pads = tuple(before for before, _ in explicit_pads(layer.pad, ndim))
    kernels, strides = per_axis(layer.k, ndim, "k"), per_axis(layer.stride, ndim, "stride")
    extras = per_axis(layer.output_padding or (0,), ndim, "output_padding")
    return [transposed_case(size, kernels[index], strides[index], pads[index], extras[index])
            for index, size in enumerate(row.input_shape.spatial)]
