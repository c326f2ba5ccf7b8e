"""Property tests: convcalc's shapes and parameter counts equal PyTorch's.

Hypothesis draws layers (1-3 spatial axes; kernel, stride, padding, dilation, groups,
ceil mode, padding words) and the same layer is built and run in torch. Where torch
refuses a layer, convcalc must refuse it too. Skipped without torch, except in CI
(CONVCALC_REQUIRE_TORCH=1), where a missing torch is a failure.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from convcalc.layers import KINDS
from convcalc.layers.fields import construct
from convcalc.problem import LayerError
from convcalc.shape import Shape

if os.environ.get("CONVCALC_REQUIRE_TORCH"):
    import torch
else:
    torch = pytest.importorskip("torch")

torch.set_num_threads(1)
EXAMPLES = settings(max_examples=500, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
MAX_SIZE = {1: 24, 2: 12, 3: 7}


@st.composite
def windows(draw: st.DrawFn, max_kernel: int = 5) -> dict[str, Any]:
    """Input sizes and per-axis kernel, stride, padding and dilation."""
    ndim = draw(st.integers(1, 3))
    axis = st.lists
    return {
        "ndim": ndim,
        "sizes": draw(axis(st.integers(1, MAX_SIZE[ndim]), min_size=ndim, max_size=ndim)),
        "k": draw(axis(st.integers(1, max_kernel), min_size=ndim, max_size=ndim)),
        "stride": draw(axis(st.integers(1, 3), min_size=ndim, max_size=ndim)),
        "pad": draw(axis(st.integers(0, 3), min_size=ndim, max_size=ndim)),
        "dilation": draw(axis(st.integers(1, 3), min_size=ndim, max_size=ndim)),
    }


def ours(kind: str, shape: Shape, **fields: Any) -> tuple[list[int], int] | None:
    """convcalc's (NCHW output shape, params), or None when it refuses the layer."""
    layer, errors = construct(KINDS[kind], fields)
    assert not errors, errors
    try:
        effect = layer.apply(shape)
    except LayerError:
        return None
    return [1, effect.output.channels, *effect.output.spatial], effect.params


def theirs(module: Any, shape: Shape) -> tuple[list[int], int] | None:
    """torch's (output shape, params) for one zero input, or None when it refuses."""
    try:
        with torch.no_grad():
            out = module(torch.zeros(1, shape.channels, *shape.spatial))
    except RuntimeError:
        return None
    if 0 in out.shape:  # torch returns an empty tensor where no window fits; convcalc refuses
        return None
    return list(out.shape), sum(p.numel() for p in module.parameters())


def build(factory: Any, *args: Any, **kwargs: Any) -> Any:
    """A torch module, or None when torch refuses its arguments."""
    try:
        return factory(*args, **kwargs)
    except (RuntimeError, ValueError):
        return None


def agree(kind: str, module: Any, shape: Shape, **fields: Any) -> None:
    expected = None if module is None else theirs(module, shape)
    assert ours(kind, shape, **fields) == expected


@EXAMPLES
@given(w=windows(), groups=st.integers(1, 3), per_in=st.integers(1, 3), per_out=st.integers(1, 3),
       bias=st.booleans())
def test_conv(w: dict[str, Any], groups: int, per_in: int, per_out: int, bias: bool) -> None:
    shape = Shape(tuple(w["sizes"]), groups * per_in)
    filters = groups * per_out
    conv = getattr(torch.nn, f"Conv{w['ndim']}d")
    module = build(conv, shape.channels, filters, w["k"], w["stride"], w["pad"], w["dilation"],
                   groups=groups, bias=bias)
    agree("conv", module, shape, filters=filters, k=w["k"], stride=w["stride"],
          pad=w["pad"], dilation=w["dilation"], groups=groups, bias=bias)


@EXAMPLES
@given(w=windows(), word=st.sampled_from(["same", "valid"]), channels=st.integers(1, 4))
def test_conv_padding_words(w: dict[str, Any], word: str, channels: int) -> None:
    """Stride 1: torch's own 'same'/'valid'. Stride > 1: TensorFlow's rule o = ceil(i/s)."""
    shape = Shape(tuple(w["sizes"]), channels)
    stride = w["stride"] if word == "valid" else [1] * w["ndim"]
    conv = getattr(torch.nn, f"Conv{w['ndim']}d")
    module = build(conv, channels, 2, w["k"], stride, word, w["dilation"])
    agree("conv", module, shape, filters=2, k=w["k"], stride=stride, pad=word,
          dilation=w["dilation"])
    result = ours("conv", shape, filters=2, k=w["k"], stride=w["stride"], pad="same",
                  dilation=w["dilation"])
    assert result is not None
    assert result[0][2:] == [-(-i // s) for i, s in zip(w["sizes"], w["stride"], strict=True)]


@EXAMPLES
@given(w=windows(), groups=st.integers(1, 2), extra=st.lists(st.integers(0, 2), min_size=3,
                                                             max_size=3), bias=st.booleans())
def test_conv_transpose(w: dict[str, Any], groups: int, extra: list[int], bias: bool) -> None:
    shape = Shape(tuple(w["sizes"]), groups * 2)
    output_padding = extra[: w["ndim"]]
    conv = getattr(torch.nn, f"ConvTranspose{w['ndim']}d")
    module = build(conv, shape.channels, groups * 3, w["k"], w["stride"], w["pad"],
                   output_padding, groups, bias, w["dilation"])
    agree("conv-transpose", module, shape, filters=groups * 3, k=w["k"], stride=w["stride"],
          pad=w["pad"], output_padding=output_padding, dilation=w["dilation"], groups=groups,
          bias=bias)


@EXAMPLES
@given(w=windows(max_kernel=4), ceil=st.booleans())
def test_max_pool(w: dict[str, Any], ceil: bool) -> None:
    # torch allows at most half the kernel as padding; convcalc has no such limit
    assume(all(p <= k // 2 for p, k in zip(w["pad"], w["k"], strict=True)))
    shape = Shape(tuple(w["sizes"]), 2)
    pool = getattr(torch.nn, f"MaxPool{w['ndim']}d")
    module = pool(w["k"], w["stride"], w["pad"], w["dilation"], ceil_mode=ceil)
    agree("maxpool", module, shape, k=w["k"], stride=w["stride"], pad=w["pad"],
          dilation=w["dilation"], ceil=ceil)


@EXAMPLES
@given(w=windows(max_kernel=4), ceil=st.booleans())
def test_avg_pool(w: dict[str, Any], ceil: bool) -> None:
    assume(all(p <= k // 2 for p, k in zip(w["pad"], w["k"], strict=True)))
    if w["ndim"] == 3:  # torch's 3-D average pooling alone refuses inputs below the kernel
        assume(all(i >= k for i, k in zip(w["sizes"], w["k"], strict=True)))
    shape = Shape(tuple(w["sizes"]), 3)
    pool = getattr(torch.nn, f"AvgPool{w['ndim']}d")
    module = pool(w["k"], w["stride"], w["pad"], ceil_mode=ceil)
    agree("avgpool", module, shape, k=w["k"], stride=w["stride"], pad=w["pad"], ceil=ceil)
