"""One test (or a few) per layer kind; expected values are written as their formulas."""

from __future__ import annotations

import dataclasses
from fractions import Fraction
from typing import Any

import pytest

from convcalc.arith import Status
from convcalc.layers import ALIASES, KINDS, lookup
from convcalc.layers.base import Effect, Layer
from convcalc.layers.fields import ACTIVATIONS, PARSERS, construct
from convcalc.problem import LayerError
from convcalc.shape import Shape


def make(kind: str, **fields: Any) -> Layer:
    layer, errors = construct(KINDS[kind], fields)
    assert not errors, errors
    return layer  # type: ignore[no-any-return]


def apply(kind: str, shape: str, **fields: Any) -> Effect:
    return make(kind, **fields).apply(Shape.parse(shape))


def test_conv_course_example() -> None:
    e = apply("conv", "32x32x3", filters=10, k=5, pad=2)
    assert e.output == Shape.parse("32x32x10")
    assert e.params == (5 * 5 * 3 + 1) * 10
    assert e.macs == 32 * 32 * 10 * (5 * 5 * 3)


def test_conv_asymmetric_kernel_stride_and_padding() -> None:
    e = apply("conv", "17x17x192", filters=224, k="1x7", pad="0x3")
    assert e.output == Shape.parse("17x17x224")
    assert e.params == (1 * 7 * 192 + 1) * 224
    e = apply("conv", "10x20x1", filters=1, k=3, stride="1x2", pad=[[0, 1], [2, 0]])
    assert e.output.spatial == ((10 + 0 + 1 - 3) // 1 + 1, (20 + 2 + 0 - 3) // 2 + 1)


def test_conv_dilation_grows_the_kernel() -> None:
    e = apply("conv", "32x32x8", filters=8, k=3, dilation=2)
    assert e.output.spatial == (32 - (2 * (3 - 1) + 1) + 1,) * 2
    assert e.params == (3 * 3 * 8 + 1) * 8  # dilation adds no weights


def test_conv_groups() -> None:
    e = apply("conv", "27x27x96", filters=256, k=5, pad=2, groups=2)
    assert e.params == 5 * 5 * (96 // 2) * 256 + 256
    assert e.macs == 27 * 27 * 256 * 5 * 5 * (96 // 2)


def test_conv_1d_and_3d() -> None:
    assert apply("conv", "100x16", filters=32, k=5).output == Shape((100 - 5 + 1,), 32)
    e = apply("conv", "16x112x112x3", filters=64, k=3, pad=1, bias=False)
    assert e.output == Shape((16, 112, 112), 64)
    assert e.params == 3 * 3 * 3 * 3 * 64


def test_same_padding_with_stride_is_asymmetric() -> None:
    e = apply("conv", "224x224x3", filters=64, k=7, stride=2, pad="same")
    assert e.output.spatial == (112, 112)
    assert [w.pad for w in e.windows] == [(2, 3), (2, 3)]


def test_full_padding() -> None:
    assert apply("conv", "5x5x1", filters=1, k=3, pad="full").output.spatial == (5 + 3 - 1,) * 2


def test_conv_rejects_bad_groups_and_flat_input() -> None:
    with pytest.raises(LayerError, match="do not divide"):
        apply("conv", "8x8x6", filters=8, k=3, groups=4)
    with pytest.raises(LayerError, match="spatial"):
        apply("conv", "4096", filters=8, k=3)
    with pytest.raises(LayerError, match="larger than the padded input"):
        apply("conv", "4x4x1", filters=1, k=7)


def test_depthwise() -> None:
    e = apply("depthwise", "112x112x32", k=3, pad=1)
    assert e.output == Shape.parse("112x112x32")
    assert e.params == 3 * 3 * 32 + 32
    assert e.macs == 112 * 112 * 32 * 3 * 3
    assert apply("depthwise", "8x8x4", k=3, multiplier=2).output.channels == 4 * 2


def test_separable_is_depthwise_plus_pointwise() -> None:
    e = apply("separable", "56x56x64", filters=128, k=3, pad=1)
    assert e.params == 3 * 3 * 64 + (64 * 128 + 128)
    assert e.macs == 56 * 56 * 64 * 3 * 3 + 56 * 56 * 128 * 64


def test_transposed_conv() -> None:
    e = apply("conv-transpose", "4x4x1", filters=1, k=3, stride=2, pad=1)
    assert e.output.spatial == ((4 - 1) * 2 - 2 * 1 + 3,) * 2 == (7, 7)
    assert apply("conv-transpose", "4x4x1", filters=1, k=3, stride=2, pad=1,
                 output_padding=1).output.spatial == (8, 8)
    e = apply("conv-transpose", "4x4x1", filters=1, k=3, stride=2, pad=1, output_padding=1,
              bias=False)
    assert e.macs == 4 * 4 * 9  # per input position, not 8*8*9
    assert any("7..8" in note for note in e.notes)
    e = apply("conv-transpose", "8x8x64", filters=32, k=4, stride=2, pad=1, groups=2)
    assert e.params == 64 * (32 // 2) * 4 * 4 + 32


def test_transposed_conv_refuses_same_and_big_output_padding() -> None:
    with pytest.raises(LayerError, match="transposed"):
        apply("conv-transpose", "4x4x1", filters=1, k=3, stride=2, pad="same")
    with pytest.raises(LayerError, match="output_padding"):
        apply("conv-transpose", "4x4x1", filters=1, k=3, stride=2, output_padding=2)


def test_locally_connected_does_not_share_weights() -> None:
    e = apply("local", "32x32x3", filters=16, k=5)
    positions = 28 * 28
    assert e.params == positions * (5 * 5 * 3 + 1) * 16
    assert e.macs == positions * 16 * 5 * 5 * 3


def test_pooling() -> None:
    assert apply("maxpool", "4x4x1").output.spatial == (2, 2)
    e = apply("maxpool", "55x55x96", k=3, stride=2)
    assert (e.output.spatial, e.params, e.macs) == ((27, 27), 0, 0)
    assert apply("avgpool", "5x5x1", k=2, stride=2, pad=1, ceil=True).output.spatial == (3, 3)
    assert apply("maxpool", "7x7x1", k=3, stride=2, dilation=2).output.spatial == (2, 2)


def test_global_and_adaptive_pooling() -> None:
    assert apply("global-avgpool", "7x7x2048").output == Shape((1, 1), 2048)
    assert apply("global-maxpool", "7x7x512", keepdims=False).output == Shape((), 512)
    e = apply("adaptive-avgpool", "13x13x256", out=6)
    assert e.output == Shape((6, 6), 256)
    assert e.rf[0].kernel == 3  # cell 1 spans floor(13/6) = 2 .. ceil(26/6) = 5


def test_dense_flattens_and_counts() -> None:
    e = apply("fc", "7x7x512", units=4096)
    assert e.params == 7 * 7 * 512 * 4096 + 4096
    assert e.macs == 7 * 7 * 512 * 4096
    assert e.notes
    with pytest.raises(LayerError, match="declares"):
        apply("fc", "7x7x512", units=10, inputs=4096)


def test_batch_norm_counts_running_statistics_apart() -> None:
    e = apply("bn", "56x56x64")
    assert (e.params, e.buffers) == (2 * 64, 2 * 64)


def test_shape_only_layers() -> None:
    x = "8x8x16"
    for kind in (*ACTIVATIONS_KINDS, "dropout", "identity", "stochastic-depth"):
        e = apply(kind, x)
        assert (e.output, e.params, e.inplace) == (Shape.parse(x), 0, True), kind
    assert apply("flatten", x).output == Shape((), 8 * 8 * 16)
    assert apply("upsample", x, scale=2).output.spatial == (16, 16)
    assert apply("channel-shuffle", x, groups=4).output == Shape.parse(x)
    assert apply("zeropad", x, pad=[[0, 1], [2, 3]]).output.spatial == (8 + 1, 8 + 5)
    assert apply("lrn", x).output == Shape.parse(x)


ACTIVATIONS_KINDS = [name for name in ACTIVATIONS if name in KINDS]


def test_every_activation_word_is_a_kind() -> None:
    assert all(lookup(name) is not None for name in ACTIVATIONS)


def test_registry_is_consistent() -> None:
    assert all(target in KINDS for target in ALIASES.values())
    assert not set(ALIASES) & set(KINDS)
    for kind in KINDS.values():
        for field in dataclasses.fields(kind):  # type: ignore[arg-type]
            assert str(field.type) in PARSERS, (kind, field.name, field.type)


def test_every_kind_explains_itself() -> None:
    samples: dict[str, dict[str, Any]] = {
        "conv": {"filters": 4, "k": 3}, "conv-transpose": {"filters": 4, "k": 3},
        "separable": {"filters": 4, "k": 3}, "local": {"filters": 4, "k": 3},
        "depthwise": {"k": 3}, "fc": {"units": 4}, "adaptive-avgpool": {"out": 2},
        "adaptive-maxpool": {"out": 2}, "channel-shuffle": {"groups": 2}, "zeropad": {"pad": 1},
        "opaque": {"op": "Einsum", "output": "4x4x8"},
        "token-fc": {"units": 4}, "attention": {"heads": 2}, "window-attention": {"heads": 2},
        "block-attention": {"heads": 2, "size": 4}, "grid-attention": {"heads": 2, "size": 4},
    }
    sequences = ("grid", "class-token", "take-token")  # they read a token sequence
    for name in KINDS:
        layer = make(name, **samples.get(name, {}))
        formulas = layer.explain(Shape.parse("64x4" if name in sequences else "8x8x4"))
        assert formulas and all(f.text for f in formulas), name


def test_field_errors_name_the_key() -> None:
    _, errors = construct(KINDS["conv"], {"filters": "many", "k": 3, "colour": "red"})
    assert {(e.code, e.field) for e in errors} == {("wrong-type", "filters"),
                                                   ("unknown-key", "colour")}
    _, errors = construct(KINDS["conv"], {"k": 3})
    assert [(e.code, e.field) for e in errors] == [("missing-key", "filters")]


def test_status_of_an_effect_is_its_worst_axis() -> None:
    e = apply("conv", "32x31x1", filters=1, k=5, stride=2)
    assert [w.status for w in e.windows] == [Status.LOSSY, Status.EXACT]
    assert e.status is Status.LOSSY


def test_transposed_and_upsampling_receptive_steps_keep_centres() -> None:
    # a 2x2/2 pool then a 2x2/2 transposed convolution lands back on the input's centres
    down = apply("maxpool", "8x8x1", k=2)
    up = apply("conv-transpose", "4x4x1", filters=1, k=2, stride=2)
    step = up.rf[0]
    assert (step.kernel, step.stride) == (1, Fraction(1, 2))
    centre_after_pool = Fraction(2 - 1, 2)  # (k - 1)/2 - p with jump 1
    centre = centre_after_pool + 2 * (Fraction(step.kernel - 1, 2) - step.pad)
    assert centre == 0 and down.rf[0].stride == 2
    nearest = apply("upsample", "4x4x1", scale=2).rf[0]
    assert nearest.pad == Fraction(2 - 1, 2 * 2)  # output 0 sits a quarter pixel before input 0


def test_opaque_declares_its_output_counts_nothing_and_warns() -> None:
    effect = make("opaque", op="Einsum", output="7x7x64").apply(Shape.parse("14x14x3"))
    assert effect.output == Shape.parse("7x7x64")
    assert (effect.params, effect.buffers, effect.macs) == (0, 0, 0)
    assert [code for code, _ in effect.warnings] == ["opaque-layer"]
