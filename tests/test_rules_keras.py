"""Keras' and TensorFlow's rule sets against Keras 3 (torch backend): Conv, pooling and
transposed convolution layers' compute_output_shape. What Keras refuses, convcalc refuses
under ``--rules keras``; what it takes, it sizes alike. TensorFlow's tf.nn arithmetic for
the padding words is the same (tf.nn module docs, Notes on padding), so ``--rules
tensorflow`` is held to the same layers."""

from __future__ import annotations

import os
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from convcalc.layers.conv import Conv, ConvTranspose
from convcalc.layers.pool import AvgPool, MaxPool
from convcalc.shape import Shape
from tests.oracles import need
from tests.rules_oracle import EXAMPLES, Axes, agree, axes, ours

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = need("keras")
WORDS = st.sampled_from(["valid", "same"])


def shape_of(make: Any, x: Axes) -> tuple[int, ...] | None:
    """Keras' spatial output for a (1, *sizes, 1) input, or None when it refuses."""
    try:
        out = make().compute_output_shape((1, *x.sizes, 1))
    except ValueError:
        return None
    spatial = tuple(out[1:-1])
    return None if any(size is None or size < 1 for size in spatial) else spatial


@EXAMPLES
@given(x=axes(), word=WORDS, rules=st.sampled_from(["keras", "tensorflow"]))
def test_conv(x: Axes, word: str, rules: str) -> None:
    n = len(x.sizes)
    layer = Conv(1, x.k, x.stride, word, x.dilation)
    theirs = shape_of(lambda: getattr(keras.layers, f"Conv{n}D")(
        1, x.k, x.stride, word, dilation_rate=x.dilation), x)
    mine = ours(rules, layer, Shape(x.sizes, 1))
    if rules == "tensorflow" and max(x.stride) > 1 and max(x.dilation) > 1:
        # tf.nn.convolution takes both; only the Keras layer refuses the pair
        assert theirs is None
        return
    agree(mine, theirs, (x, word, rules))


@EXAMPLES
@given(x=axes(max_kernel=4), word=WORDS, average=st.booleans(),
       rules=st.sampled_from(["keras", "tensorflow"]))
def test_pooling(x: Axes, word: str, average: bool, rules: str) -> None:
    n = len(x.sizes)
    kind = "Average" if average else "Max"
    layer = (AvgPool if average else MaxPool)(x.k, x.stride, word)
    theirs = shape_of(lambda: getattr(keras.layers, f"{kind}Pooling{n}D")(x.k, x.stride, word),
                      x)
    agree(ours(rules, layer, Shape(x.sizes, 1)), theirs, (x, word, average, rules))


@EXAMPLES
@given(x=axes(), word=WORDS, extra=st.one_of(st.none(), st.integers(0, 3)))
def test_conv_transpose(x: Axes, word: str, extra: int | None) -> None:
    """Keras infers the output padding when it is unset (backend_utils.py)."""
    n = len(x.sizes)
    extras = None if extra is None else (extra,) * n
    layer = ConvTranspose(1, x.k, x.stride, word, extras, x.dilation)
    theirs = shape_of(lambda: getattr(keras.layers, f"Conv{n}DTranspose")(
        1, x.k, x.stride, word, output_padding=extras, dilation_rate=x.dilation), x)
    agree(ours("keras", layer, Shape(x.sizes, 1)), theirs, (x, word, extras))
