"""Caffe deploy prototxts in (the BVLC reference models, written in tests/caffe_nets.py), with
no Caffe: their sizes under Caffe's rules, their parameters, and the text format's reader."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from convcalc.analysis import analyze
from convcalc.importers import ImportFailure, load
from convcalc.importers.from_caffe import parse
from convcalc.language import load_text
from convcalc.shape import Shape
from tests import caffe_nets

Cli = Any


def imported(tmp_path: Path, name: str, text: str) -> Any:
    path = tmp_path / f"{name}.prototxt"
    path.write_text(text, encoding="utf-8")
    return load(str(path))


def outputs(result: Any) -> dict[str, Shape]:
    return {row.name: row.output_shape for row in analyze(result.model).rows}


def conv_params(k: int, cin: int, cout: int, groups: int = 1) -> int:
    return k * k * cin // groups * cout + cout


ALEXNET_PARAMS = (conv_params(11, 3, 96) + conv_params(5, 96, 256, 2) + conv_params(3, 256, 384)
                  + conv_params(3, 384, 384, 2) + conv_params(3, 384, 256, 2)
                  + 6 * 6 * 256 * 4096 + 4096 + 4096 * 4096 + 4096 + 4096 * 1000 + 1000)


@pytest.mark.parametrize("caffenet", [False, True], ids=["alexnet", "caffenet"])
def test_alexnet_and_caffenet(tmp_path: Path, caffenet: bool) -> None:
    result = imported(tmp_path, "net", caffe_nets.alexnet(caffenet))
    assert result.model.rules == "caffe"
    report = analyze(result.model)
    assert not report.problems
    assert report.totals.params == ALEXNET_PARAMS == 60_965_224
    shapes = outputs(result)
    # Caffe's AlexNet blobs at 227: conv1 55, pool1 27, conv2 27, pool2 13, pool5 6
    assert shapes["conv1"] == Shape((55, 55), 96) and shapes["pool1"] == Shape((27, 27), 96)
    assert shapes["pool2"] == Shape((13, 13), 256) and shapes["pool5"] == Shape((6, 6), 256)


def test_vgg16_in_the_old_layers_format(tmp_path: Path) -> None:
    result = imported(tmp_path, "vgg16", caffe_nets.vgg16())
    report = analyze(result.model)
    assert report.totals.params == 138_357_544  # ../shared/REFERENCE.md: vgg16
    assert outputs(result)["pool5"] == Shape((7, 7), 512)


# Szegedy et al. 2015, Table 1: each layer's output size, as bvlc_googlenet's blobs have them
GOOGLENET_BLOBS = {
    "conv1_7x7_s2": ((112, 112), 64), "pool1_3x3_s2": ((56, 56), 64),
    "conv2_3x3": ((56, 56), 192), "pool2_3x3_s2": ((28, 28), 192),
    "inception_3a_output": ((28, 28), 256), "inception_3b_output": ((28, 28), 480),
    "pool3_3x3_s2": ((14, 14), 480), "inception_4a_output": ((14, 14), 512),
    "inception_4b_output": ((14, 14), 512), "inception_4c_output": ((14, 14), 512),
    "inception_4d_output": ((14, 14), 528), "inception_4e_output": ((14, 14), 832),
    "pool4_3x3_s2": ((7, 7), 832), "inception_5a_output": ((7, 7), 832),
    "inception_5b_output": ((7, 7), 1024), "pool5_7x7_s1": ((1, 1), 1024),
    "loss3_classifier": ((), 1000),
}


def test_googlenet_has_its_published_blob_dimensions(tmp_path: Path) -> None:
    result = imported(tmp_path, "googlenet", caffe_nets.googlenet())
    shapes = outputs(result)
    for name, (spatial, channels) in GOOGLENET_BLOBS.items():
        assert shapes[name] == Shape(spatial, channels), name
    expected = conv_params(7, 3, 64) + conv_params(1, 64, 64) + conv_params(3, 64, 192)
    channels = 192
    for c1, r3, c3, r5, c5, pp in caffe_nets.INCEPTIONS.values():
        expected += (conv_params(1, channels, c1) + conv_params(1, channels, r3)
                     + conv_params(3, r3, c3) + conv_params(1, channels, r5)
                     + conv_params(5, r5, c5) + conv_params(1, channels, pp))
        channels = c1 + c3 + c5 + pp
    expected += 1024 * 1000 + 1000
    assert analyze(result.model).totals.params == expected == 6_998_552


def test_under_pytorchs_rules_googlenets_pools_floor(tmp_path: Path) -> None:
    from convcalc.report import Settings

    result = imported(tmp_path, "googlenet", caffe_nets.googlenet())
    torch_rules = analyze(result.model, Settings(rules="pytorch", rules_from="--rules"))
    sizes = {row.name: row.output_shape for row in torch_rules.rows}
    assert sizes["pool1_3x3_s2"] == Shape((55, 55), 64)


def test_the_spec_written_says_rules_caffe(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "googlenet.prototxt"
    path.write_text(caffe_nets.googlenet(), encoding="utf-8")
    run = cli("import", str(path))
    assert run.code == 0, run.err
    assert "\nrules: caffe\n" in run.out
    loaded = load_text(run.out, "written.yaml")
    assert loaded.model is not None and loaded.model.rules == "caffe"
    assert analyze(loaded.model).totals.output_shape == Shape((), 1000)


BN_NET = """\
name: "bn"
input: "data"
input_dim: 1
input_dim: 8
input_dim: 12
input_dim: 12
layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"
        convolution_param { num_output: 16 kernel_size: 3 pad: 1 bias_term: false } }
layer { name: "conv_bn" type: "BatchNorm" bottom: "conv" top: "conv" }
layer { name: "conv_scale" type: "Scale" bottom: "conv" top: "conv"
        scale_param { bias_term: true } }
layer { name: "relu" type: "ReLU" bottom: "conv" top: "conv" relu_param { negative_slope: 0.1 } }
layer { name: "bare_bn" type: "BatchNorm" bottom: "conv" top: "bare" }
layer { name: "up" type: "Deconvolution" bottom: "bare" top: "up"
        convolution_param { num_output: 4 kernel_size: 4 stride: 2 pad: 1 } }
layer { name: "pool" type: "Pooling" bottom: "up" top: "pool"
        pooling_param { pool: AVE kernel_size: 3 stride: 2 round_mode: FLOOR } }
layer { name: "split" type: "Split" bottom: "pool" top: "a" top: "b" }
layer { name: "sum" type: "Eltwise" bottom: "a" bottom: "b" eltwise_param { operation: SUM } }
layer { name: "gap" type: "Pooling" bottom: "sum" top: "gap"
        pooling_param { pool: MAX global_pooling: true } }
"""


def test_batchnorm_scale_deconvolution_eltwise(tmp_path: Path) -> None:
    result = imported(tmp_path, "bn", BN_NET)
    report = analyze(result.model)
    rows = {row.name: row for row in report.rows}
    assert (rows["conv_bn"].params, rows["conv_bn"].non_trainable_params) == (32, 32)
    assert (rows["bare_bn"].params, rows["bare_bn"].non_trainable_params) == (0, 32)
    # deconv_layer.cpp: 2(12 - 1) + 4 - 2 = 24; a floored 3/2 pool: (24 - 3)//2 + 1 = 11
    assert rows["up"].output_shape == Shape((24, 24), 4)
    assert rows["pool"].output_shape == Shape((11, 11), 4)
    assert report.totals.output_shape == Shape((1, 1), 4)


def test_the_text_format() -> None:
    message = parse('name: "a \\"b\\"" # a comment\nlayer { dim: [1, 2] x: 1.5e2 on: true }\n'
                    "layer < k: -3 >")
    assert message["name"] == ['a "b"']
    assert message["layer"][0] == {"dim": [1, 2], "x": [150.0], "on": [True]}
    assert message["layer"][1] == {"k": [-3]}


@pytest.mark.parametrize("text", ["layer { name: 'x'", "a: @", "{", "layer " * 3,
                                  "a { " * 40 + "}" * 40, 'input: "d"\ninput_dim: 0\n'])
def test_bad_text_is_one_line(cli: Cli, tmp_path: Path, text: str) -> None:
    path = tmp_path / "bad.prototxt"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ImportFailure):
        load(str(path))
    run = cli("import", str(path))
    assert run.code == 2 and run.err.count("\n") <= 2 and "Traceback" not in run.err


def test_unsupported_layers_are_named(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "odd.prototxt"
    path.write_text(BN_NET + 'layer { name: "spp" type: "SPP" bottom: "gap" top: "spp" }\n',
                    encoding="utf-8")
    run = cli("import", str(path))
    assert run.code == 2 and "spp (SPP)" in run.err


@pytest.mark.parametrize("settings", [
    "convolution_param { num_output: 8 kernel_size: 0 }",
    "convolution_param { num_output: 8 kernel_size: 3 stride: 0 }",
    "convolution_param { num_output: 8 kernel_size: 3 stride_h: 0 stride_w: 1 }",
    "convolution_param { num_output: 8 kernel_size: 3 dilation: 0 }",
    "convolution_param { num_output: 8 kernel_size: 3 group: 0 }",
    "convolution_param { num_output: 8 kernel_size: 3 pad: -1 }",
    "pooling_param { pool: MAX kernel_size: 2 stride: 0 }",
])
def test_settings_out_of_range_name_the_layer(cli: Cli, tmp_path: Path, settings: str) -> None:
    """A stride or group of 0 was an internal error (division by zero); a kernel of 0, a
    dilation of 0 or a negative pad gave a summary with made-up sizes and an internal error
    on writing the spec. Each is the layer's problem, as the spec language would say."""
    kind = "Pooling" if settings.startswith("pooling") else "Convolution"
    path = tmp_path / "odd.prototxt"
    path.write_text('input: "data"\ninput_shape { dim: 1 dim: 3 dim: 32 dim: 32 }\n'
                    f'layer {{ name: "c1" type: "{kind}" bottom: "data" top: "c1" '
                    f'{settings} }}\n', encoding="utf-8")
    for args in (("-o", str(tmp_path / "odd.yaml")), ("--summarize",)):
        run = cli("import", str(path), *args)
        assert run.code == 2, run.out + run.err
        assert f"c1 ({kind})" in run.err and "out of range" in run.err
        assert "internal error" not in run.err and "Traceback" not in run.err
