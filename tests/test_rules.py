"""Rule sets: each framework's sizes, from vectors in its own source and tests, and what it
refuses; the spec's `rules:` key and --rules; check --portable and summarize --rules a,b.

Caffe, MXNet and Darknet do not run here: their vectors come from their source and test
files, each cited where it is used. The frameworks that run here are held to the rule sets
by hypothesis in test_rules_oracles.py.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

from convcalc.analysis import analyze
from convcalc.language import bundled, load_file, load_text
from convcalc.layers.base import Layer
from convcalc.layers.conv import Conv, ConvTranspose
from convcalc.layers.pool import AvgPool, MaxPool
from convcalc.portability import bundled_table, compare, portable_to
from convcalc.problem import LayerError
from convcalc.report import Settings
from convcalc.rules import RULES, rules_named
from convcalc.shape import Shape

Cli = Any
ROOT = Path(__file__).parent.parent


def sizes(rules: str, layer: Layer, *spatial: int, channels: int = 1) -> tuple[int, ...]:
    """The spatial output of ``layer`` under ``rules``, refusals checked."""
    x = Shape(spatial, channels)
    return rules_named(rules).adapt(layer, x).apply(x).output.spatial


def refusal(rules: str, layer: Layer, *spatial: int) -> LayerError:
    with pytest.raises(LayerError) as caught:
        sizes(rules, layer, *spatial)
    assert caught.value.code == "refused"
    return caught.value


def as_tuple(value: Any) -> tuple[Any, ...]:
    return value if isinstance(value, tuple) else (value,)


def pool(k: int | tuple[int, ...], stride: int | tuple[int, ...] | None = None,
         pad: Any = None, ceil: bool | None = None, kind: type[Any] = MaxPool) -> Any:
    """A pooling layer; a pad is one number (both sides) or (before, after), per axis."""
    pads = None if pad is None else tuple(p if isinstance(p, tuple) else (p, p)
                                          for p in as_tuple(pad))
    return kind(k=as_tuple(k), stride=None if stride is None else as_tuple(stride),
                pad=pads, ceil=ceil)


# --- Caffe ---------------------------------------------------------------------------------
# BVLC/caffe src/caffe/test/test_pooling_layer.cpp: PoolingLayerTest::SetUp reshapes the
# bottom blob to 2x3x6x5 (height 6, width 5).

def test_caffe_pooling_test_setup() -> None:
    # TYPED_TEST(PoolingLayerTest, TestSetup): kernel 3, stride 2 -> height 3, width 2
    assert sizes("caffe", pool(3, 2), 6, 5) == (3, 2)


def test_caffe_pooling_test_setup_padded() -> None:
    # TYPED_TEST(PoolingLayerTest, TestSetupPadded): kernel 3, stride 2, pad 1 -> 4 x 3
    assert sizes("caffe", pool(3, 2, 1, kind=AvgPool), 6, 5) == (4, 3)


def test_caffe_pooling_test_forward_max_padded() -> None:
    # TYPED_TEST(PoolingLayerTest, TestForwardMaxPadded): a 3x3 bottom, kernel 3, stride 2,
    # pad 2 -> 3x3. Caffe takes a pad up to kernel - 1; PyTorch refuses more than k // 2.
    assert sizes("caffe", pool(3, 2, 2), 3, 3) == (3, 3)
    assert "at most k // 2" in refusal("pytorch", pool(3, 2, 2), 3, 3).message


def test_caffe_pooling_test_forward_ave() -> None:
    # TYPED_TEST(PoolingLayerTest, TestForwardAve): 3x3, kernel 3, stride 1, pad 1 -> 3x3
    assert sizes("caffe", pool(3, 1, 1, kind=AvgPool), 3, 3) == (3, 3)


def test_caffe_rounds_up_unless_round_mode_floor() -> None:
    # pooling_layer.cpp PoolingLayer::Reshape: ceil((6 - 3)/2) + 1 = 3 with the default
    # round_mode CEIL (caffe.proto: `optional RoundMode round_mode = 13 [default = CEIL]`);
    # FLOOR, which a spec says with ceil: false, floors to 2.
    assert sizes("caffe", pool(3, 2), 6) == (3,)
    assert sizes("caffe", pool(3, 2, ceil=False), 6) == (2,)
    assert sizes("pytorch", pool(3, 2), 6) == (2,)


def test_caffe_drops_the_last_window_only_when_padded() -> None:
    # pooling_layer.cpp Reshape: `if (pad_h_ || pad_w_) { if ((pooled_height_ - 1) *
    # stride_h_ >= height_ + pad_h_) --pooled_height_; }`. Kernel 1, stride 3 on 5:
    # ceil(4/3) + 1 = 3 windows, the last starting at 6, past the input. Unpadded, Caffe
    # keeps it; PyTorch drops it (Pool.h pooling_output_shape_pad_lr, in ceil mode always).
    assert sizes("caffe", pool(1, 3), 5) == (3,)
    assert sizes("pytorch", pool(1, 3, ceil=True), 5) == (2,)
    # padded (pad 1, kernel 3, stride 3): ceil(4/3) + 1 = 3, the last window would start
    # at 6 >= 5 + 1, so Caffe drops it too
    assert sizes("caffe", pool(3, 3, 1), 5) == (2,)


def test_caffe_convolution_test_setup() -> None:
    # BVLC/caffe src/caffe/test/test_convolution_layer.cpp:195, TestSetup: a 2x3x6x4 bottom,
    # kernel 3, stride 2 -> height 2, width 1 (conv_layer.cpp compute_output_shape)
    assert sizes("caffe", Conv(4, (3,), (2,)), 6, 4, channels=3) == (2, 1)


def test_caffe_and_darknet_divide_toward_zero() -> None:
    # conv_layer.cpp: (input_dim + 2 * pad - kernel_extent) / stride + 1 in C: (2 - 3)/2
    # truncates to 0, so one output; darknet's convolutional_out_height is the same
    # expression. PyTorch has no window that fits.
    conv = Conv(1, (3,), (2,))
    assert sizes("caffe", conv, 2) == (1,)
    assert sizes("darknet", conv, 2) == (1,)
    with pytest.raises(LayerError) as caught:
        sizes("pytorch", conv, 2)
    assert caught.value.code == "invalid-size"


def test_caffe_deconvolution() -> None:
    # deconv_layer.cpp compute_output_shape: stride * (input_dim - 1) + kernel_extent - 2 *
    # pad; Caffe has no output padding
    assert sizes("caffe", ConvTranspose(1, (4,), (2,), ((1, 1),)), 7) == (14,)
    refusal("caffe", ConvTranspose(1, (4,), (2,), ((1, 1),), output_padding=(1,)), 7)


def test_caffe_refuses_asymmetric_pads_and_pool_dilation() -> None:
    # caffe.proto: ConvolutionParameter and PoolingParameter have pad / pad_h / pad_w, one
    # number for both sides; PoolingParameter has no dilation
    refusal("caffe", Conv(1, (3,), pad=((0, 1),)), 8)
    refusal("caffe", MaxPool((3,), dilation=(2,)), 8)


# --- MXNet ---------------------------------------------------------------------------------

def test_mxnet_full_pooling_keeps_the_last_window() -> None:
    # apache/mxnet tests/python/gpu/test_operator_gpu.py test_pooling_full_2d: data 10x10,
    # kernel (4, 5), pad (1, 2), stride (3, 4), pooling_convention 'full' -> "o_h =
    # ceil((10 + 1 + 1 - 4) / 3) + 1 = 4, o_w = ceil((10 + 2 + 2 - 5) / 4) + 1 = 4"
    # (pooling-inl.h PoolingProp::InferShape, no window dropped). PyTorch drops the last
    # column's window: it would start at 12, in the right padding (10 + 2).
    layer = pool((4, 5), (3, 4), ((1, 1), (2, 2)), ceil=True)
    assert sizes("mxnet", layer, 10, 10) == (4, 4)
    assert sizes("pytorch", layer, 10, 10) == (4, 3)


def test_mxnet_valid_pooling_floors() -> None:
    # pooling-inl.h InferShape, kValid: 1 + (10 + 2 - 4) / 3 = 3 (integer division)
    assert sizes("mxnet", pool(4, 3, 1), 10) == (3,)


# --- Darknet -------------------------------------------------------------------------------

def test_darknet_maxpool_pads_size_minus_one() -> None:
    # pjreddie/darknet src/parser.c parse_maxpool: `padding = option_find_int_quiet(options,
    # "padding", size-1)`; src/maxpool_layer.c make_maxpool_layer: `l.out_w = (w + padding -
    # size)/stride + 1`. cfg/yolov3-tiny.cfg's last [maxpool] (size=2, stride=1) keeps
    # 13x13: (13 + 1 - 2)/1 + 1 = 13, where PyTorch gives 12.
    layer = pool(2, 1)
    assert sizes("darknet", layer, 13, 13) == (13, 13)
    assert sizes("pytorch", layer, 13, 13) == (12, 12)
    # yolov3-tiny's other [maxpool] layers (size=2, stride=2): 416 -> 208
    assert sizes("darknet", pool(2, 2), 416) == (208,)


def test_darknet_maxpool_puts_half_the_padding_first() -> None:
    # maxpool_layer.c forward_maxpool_layer: `int w_offset = -l.pad/2;`: a total pad of 1
    # goes after (0 before), so pads 1,0 are refused and 0,1 taken
    x = Shape((13,), 1)
    adapted = rules_named("darknet").adapt(pool(2, 1), x)
    assert isinstance(adapted, MaxPool) and adapted.pad == ((0, 1),)
    refusal("darknet", pool(2, 1, ((1, 0),)), 13)
    assert sizes("darknet", pool(2, 1, ((0, 1),)), 13) == (13,)


def test_darknet_has_no_windowed_average_pooling_or_ceil() -> None:
    # src/parser.c parse_avgpool takes no size or stride: [avgpool] is global
    refusal("darknet", pool(2, kind=AvgPool), 8)
    refusal("darknet", pool(2, ceil=True), 8)


def test_darknet_deconvolution() -> None:
    # src/deconvolutional_layer.c: `l.out_h = (l.h - 1) * l.stride + l.size - 2*l.pad;`
    assert sizes("darknet", ConvTranspose(1, (4,), (2,), ((1, 1),)), 13) == (26,)


# --- Keras, ONNX, TensorFlow, PyTorch: the rules that need no framework to state ----------

def test_keras_infers_the_transposed_output_padding() -> None:
    # keras/src/backend/common/backend_utils.py _get_output_shape_given_tf_padding:
    # valid, unset: (i - 1)s + max(k, s) -> (5 - 1)3 + 3 = 15 for kernel 2, stride 3,
    # where PyTorch's (i - 1)s + k = 14
    layer = ConvTranspose(1, (2,), (3,))
    assert sizes("keras", layer, 5) == (15,)
    assert sizes("pytorch", layer, 5) == (14,)
    # same, unset: i*s; same with output_padding 0: (i - 1)s + k % 2 + 0
    assert sizes("keras", ConvTranspose(1, (3,), (2,), "same"), 5) == (10,)
    assert sizes("keras", ConvTranspose(1, (3,), (2,), "same", output_padding=(0,)), 5) == (9,)


def test_same_lower_puts_the_odd_pixel_first() -> None:
    x = Shape((6,), 1)
    for word, pads in (("same", (0, 1)), ("same-lower", (1, 0))):
        effect = rules_named("onnx").adapt(Conv(1, (2,), (1,), word), x).apply(x)
        assert effect.windows[0].pad == pads


@pytest.mark.parametrize(("rules", "layer", "field"), [
    ("pytorch", Conv(1, (3,), (2,), "same"), "pad"),  # torch/nn/modules/conv.py
    ("pytorch", Conv(1, (3,), pad=((0, 1),)), "pad"),
    ("pytorch", MaxPool((3,), pad=((2, 2),)), "pad"),
    ("keras", Conv(1, (3,), (2,), dilation=(2,)), "dilation"),  # base_conv.py
    ("keras", Conv(1, (3,), pad=((2, 2),)), "pad"),
    ("keras", MaxPool((2,), ceil=True), "ceil"),
    ("keras", ConvTranspose(1, (3,), (2,), output_padding=(2,)), "output_padding"),
    ("tensorflow", AvgPool((2,), pad=((1, 1),)), "pad"),  # tf.nn.avg_pool2d: words only
    ("tensorflow", MaxPool((2,), pad=((3, 3),)), "pad"),  # no larger than the window
    ("keras", Conv(1, (2,), pad="same-lower"), "pad"),  # 'valid' and 'same' only
    ("onnx", MaxPool((2,), pad=((2, 0),)), "pad"),  # onnxruntime pool_attributes.h
    ("mxnet", MaxPool((3,), dilation=(2,)), "dilation"),
    ("darknet", Conv(1, (3,), dilation=(2,)), "dilation"),
])
def test_what_each_framework_refuses(rules: str, layer: Layer, field: str) -> None:
    error = refusal(rules, layer, 16)
    assert error.field == field
    assert f"[{rules}: " in error.message  # the source is cited


def test_every_rule_set_cites_its_sources() -> None:
    for name, rules in RULES.items():
        for family in (rules.conv, rules.pool, rules.transposed):
            assert family.source.startswith(f"{name}: ") and family.formula


# --- the spec and the command line ---------------------------------------------------------

CAFFE_SPEC = """\
name: pools
rules: caffe
input: 6x5x3
layers:
  - maxpool: {k: 3, stride: 2}
"""


def test_a_spec_declares_its_rules() -> None:
    loaded = load_text(CAFFE_SPEC, "pools.yaml")
    assert loaded.model is not None and loaded.model.rules == "caffe"
    report = analyze(loaded.model)
    assert (report.settings.rules, report.settings.rules_from) == ("caffe", "spec")
    assert report.totals.output_shape == Shape((3, 2), 3)
    # --rules (here: settings chosen on the command line) overrides the spec
    report = analyze(loaded.model, Settings(rules="pytorch", rules_from="--rules"))
    assert report.totals.output_shape == Shape((2, 2), 3)


def test_unknown_rules_are_a_problem_at_their_position() -> None:
    loaded = load_text(CAFFE_SPEC.replace("rules: caffe", "rules: theano"), "pools.yaml")
    assert [(p.line, p.col, p.code) for p in loaded.problems] == [(2, 8, "unknown-rules")]


def test_the_schema_knows_the_rules_key() -> None:
    from convcalc.schema import schema

    assert schema()["properties"]["rules"]["enum"] == list(RULES)


def test_layer_rules_option(cli: Cli) -> None:
    run = cli("layer", "--in", "13x13x512", "--kind", "maxpool", "--k", "2", "--stride", "1",
              "--rules", "darknet", "--format", "json")
    assert run.code == 0, run.err
    document = run.json()
    assert document["output_shape"] == [13, 13, 512]
    assert (document["settings"]["rules"], document["settings"]["rules_from"]) == \
        ("darknet", "--rules")
    assert document["formulas"][0]["label"] == "darknet rule"
    assert "src/maxpool_layer.c" in document["formulas"][0]["text"]


def test_layer_refused_under_rules_is_one_line(cli: Cli) -> None:
    run = cli("layer", "--in", "224x224x3", "--filters", "8", "--k", "3", "--stride", "2",
              "--pad", "same", "--rules", "pytorch")
    assert run.code == 2
    assert run.err.count("\n") == 1 and "refuses padding 'same'" in run.err
    # with no rules named, the size is TensorFlow's arithmetic, as before
    assert cli("layer", "--in", "224x224x3", "--filters", "8", "--k", "3", "--stride", "2",
               "--pad", "same").code == 0


def test_unknown_rules_option_is_unusable(cli: Cli) -> None:
    run = cli("summarize", "vgg16", "--rules", "theano")
    assert run.code == 2 and "one of: pytorch" in run.err


def test_summarize_names_the_rules_in_force(cli: Cli) -> None:
    assert "size rules: PyTorch (the default" in cli("summarize", "vgg16").out
    assert "size rules: Caffe (declared by the spec)" in cli("summarize", "googlenet-bvlc").out
    document = json.loads(cli("summarize", "googlenet-bvlc", "--rules", "mxnet",
                              "--format", "json").out)
    assert document["settings"]["rules"] == "mxnet"


def test_explain_shows_the_frameworks_formula(cli: Cli) -> None:
    run = cli("explain", "googlenet-bvlc", "pool1")
    assert run.code == 0, run.err
    assert "caffe rule" in run.out and "pooling_layer.cpp" in run.out
    assert "ceil((112 − 3)/2) + 1 = 56" in run.out


def test_sizes_and_check_take_rules(cli: Cli, tmp_path: Path) -> None:
    spec = tmp_path / "pools.yaml"
    spec.write_text(CAFFE_SPEC, encoding="utf-8")
    assert cli("check", str(spec)).code == 0
    # under MXNet's rules a pool with no ceil key floors: 2.5 -> 2, losing input
    run = cli("check", str(spec), "--rules", "mxnet")
    assert run.code == 1 and "non-integer-size" in run.out
    # VGG-16's 2x2/2 pools lose a row at odd sizes when they floor, none when they round up
    floored = cli("sizes", "vgg16", "--range", "32:96").out
    rounded = cli("sizes", "vgg16", "--range", "32:96", "--rules", "caffe").out
    assert "exact or harmless (no input lost):     every size" in rounded
    assert "exact or harmless (no input lost):     every size" not in floored


# --- portability ---------------------------------------------------------------------------

def googlenet_without_ceil(tmp_path: Path) -> Path:
    """The bundled (torchvision) GoogLeNet with its pooling written without ceil flags."""
    text = (ROOT / "architectures" / "googlenet.yaml").read_text(encoding="utf-8")
    text = text.replace("maxpool: {k: 3, stride: 2, ceil: true}", "maxpool: {k: 3, stride: 2}")
    path = tmp_path / "googlenet.yaml"
    path.write_text(text.split("expect:")[0] + "blocks:" + text.split("blocks:", 1)[1],
                    encoding="utf-8")
    return path


def test_portable_flags_exactly_the_pooling_layers_that_differ(cli: Cli,
                                                              tmp_path: Path) -> None:
    # Under Caffe the stride-2 pools round up (112 -> 56 -> 28 -> 14 -> 7, Table 1); under
    # PyTorch they floor (112 -> 55, 56 -> 27, 28 -> 13, 14 -> 6). The stride-1 pools of
    # the inception branches are exact either way, and everything after a pool differs only
    # because the pool did.
    path = googlenet_without_ceil(tmp_path)
    run = cli("check", "--portable", "pytorch,caffe", str(path), "--format", "json")
    found = [p for p in json.loads(run.out) if p["code"] == "not-portable"]
    lines = path.read_text(encoding="utf-8").splitlines()
    stride_two_pools = [number for number, line in enumerate(lines, 1)
                        if line.strip().startswith("- maxpool") and "stride: 1" not in line]
    assert [p["line"] for p in found] == stride_two_pools and len(found) == 4
    assert "pytorch 55x55x64, caffe 56x56x64" in found[0]["message"]
    assert "final output: pytorch 1000, caffe 1000" in found[0]["message"]
    assert run.code == 1


def test_portable_reports_a_refusal(tmp_path: Path) -> None:
    loaded = load_file(bundled()["mobilenet-v1"])
    assert loaded.model is not None
    found = compare(loaded.model, ("tensorflow", "pytorch")).problems()
    assert found and all(p.code == "not-portable" for p in found)
    assert "pytorch refuses it" in found[0].message
    assert "final output: tensorflow 1000, pytorch stops at line" in found[0].message


def test_portable_needs_two_rule_sets(cli: Cli) -> None:
    assert cli("check", "--portable", "caffe", "x.yaml").code == 2


def test_summarize_shows_differing_sizes_side_by_side(cli: Cli) -> None:
    run = cli("summarize", "googlenet-bvlc", "--rules", "caffe,pytorch", "--depth", "0")
    table = run.out.split("Sizes under caffe, pytorch", 1)[1].splitlines()
    pool1 = next(line for line in table if line.startswith("pool1 "))
    assert pool1.split()[:3] == ["pool1", "56x56x64", "55x55x64"]
    assert "the rules disagree here" in pool1
    norm1 = next(line for line in table if line.startswith("norm1 "))
    assert "disagree" not in norm1  # differs only because pool1 did
    document = json.loads(cli("summarize", "googlenet-bvlc", "--rules", "caffe,pytorch",
                              "--format", "json").out)
    assert [d["name"] for d in document["rules_compared"]["not_portable"]] == \
        ["pool1", "pool2", "pool3", "pool4"]



@pytest.mark.parametrize("fmt", ["csv", "markdown", "html"])
def test_several_rule_sets_in_a_format_without_the_comparison_is_refused(
        cli: Cli, fmt: str, tmp_path: Path) -> None:
    """The comparison is drawn in the table and the JSON only: elsewhere it would vanish
    without a word, so the command says so instead of printing half of what was asked."""
    page = ["-o", str(tmp_path / "page.html")] if fmt == "html" else []
    run = cli("summarize", "googlenet-bvlc", "--rules", "caffe,pytorch", "--format", fmt,
              *page)
    assert run.code == 2
    assert "table and json" in run.err and "Traceback" not in run.err
    assert not (tmp_path / "page.html").exists()
    assert cli("summarize", "googlenet-bvlc", "--rules", "caffe", "--format", fmt,
               *page).code == 0

def test_every_bundled_spec_under_every_rule_set(cli: Cli) -> None:
    for name, path in bundled().items():
        loaded = load_file(path)
        if loaded.model is None:  # a block library
            continue
        for rules in RULES:
            report = analyze(loaded.model, Settings(rules=rules, rules_from="--rules"))
            assert report.rows[0].kind == "input", (name, rules)
    for rules in RULES:  # and through the command line: problems, never an internal error
        assert cli("summarize", "resnet18", "--rules", rules).code in (0, 1)


def test_googlenet_bvlc_is_portable_where_pools_round_up() -> None:
    loaded = load_file(bundled()["googlenet-bvlc"])
    assert loaded.model is not None
    # every other framework floors a pool that names no rounding mode
    assert portable_to(loaded.model) == ("caffe",)


def test_the_readme_lists_each_specs_portability() -> None:
    spec = importlib.util.spec_from_file_location("frameworks_table",
                                                  ROOT / "scripts" / "frameworks_table.py")
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert script.rewritten(readme, bundled_table()) == readme, \
        "README's table is stale: run python scripts/frameworks_table.py"


def test_the_python_api_takes_rules() -> None:
    import convcalc

    model = convcalc.load_text(CAFFE_SPEC)
    assert convcalc.analyze(model).totals.output_shape == Shape((3, 2), 3)
    assert convcalc.analyze(model, rules="onnx").totals.output_shape == Shape((2, 2), 3)
