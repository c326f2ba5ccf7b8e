"""ONNX import, op by op: small graphs written node by node, run by onnxruntime.

Each test writes a model, imports it, writes the spec, reads the spec back and compares
the spec's analysis with what onnxruntime computes (the output shape) and with the
parameter and MAC counts worked out by hand from the graph.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from convcalc.analysis import analyze
from convcalc.importers import Imported, ImportFailure, load
from convcalc.language import load_text
from convcalc.language.writer import write_spec
from convcalc.model import LayerNode, Merge, layer_nodes
from convcalc.report import Report
from convcalc.shape import Shape
from tests.oracles import need

need("onnx")
np = need("numpy")  # onnx brings it
need("onnxruntime")

from onnx import TensorProto, helper  # noqa: E402 - after the oracle check

from tests.onnx_graphs import Graph, run  # noqa: E402

IMAGE = (1, 3, 16, 16)


def channels_last(dims: tuple[int, ...]) -> Shape:
    return Shape((), dims[1]) if len(dims) == 2 else Shape(tuple(dims[2:]), dims[1])


def imported(graph: Graph, output: str, tmp_path: Path, **options: object) -> Imported:
    path = graph.save(tmp_path / "model.onnx", output)
    result = load(str(path), **options)  # type: ignore[arg-type]
    assert result.totals.output == channels_last(run(path, graph.input_shape))
    return result


def spec_report(result: Imported) -> Report:
    """The written spec, read back and analysed: what a user of the spec sees."""
    loaded = load_text(write_spec(result.model), "imported.yaml")
    assert loaded.ok and loaded.model is not None, loaded.problems
    report = analyze(loaded.model)
    assert not [p for p in report.problems if p.level == "error"], report.problems
    return report


def kinds(result: Imported) -> list[str]:
    return [node.kind for node in layer_nodes(result.model.layers)]


@pytest.mark.parametrize(("attrs", "pads"), [
    ({"pads": [1, 1, 1, 1]}, ((1, 1),)),
    ({"pads": [0, 1, 2, 1]}, ((0, 2), (1, 1))),  # asymmetric: begins then ends
    ({"auto_pad": "SAME_UPPER", "strides": [2, 2]}, ((0, 1),)),
    ({"auto_pad": "SAME_LOWER", "strides": [2, 2]}, ((1, 0),)),
    ({"auto_pad": "VALID"}, ((0, 0),)),
])
def test_conv_padding(tmp_path: Path, attrs: dict[str, Any], pads: object) -> None:
    g = Graph(IMAGE)
    y = g.op("Conv", "x", g.weight(8, 3, 3, 3), g.weight(8), kernel_shape=[3, 3], **attrs)
    result = imported(g, y, tmp_path)
    conv = next(layer_nodes(result.model.layers))
    assert conv.layer.pad == pads  # type: ignore[attr-defined]
    out = result.totals.output
    assert result.totals.params == 8 * 27 + 8
    assert result.totals.macs == out.size * 27
    assert spec_report(result).totals.macs == result.totals.macs


def test_grouped_depthwise_and_dilated_convolutions(tmp_path: Path) -> None:
    g = Graph((1, 8, 20, 20))
    y = g.op("Conv", "x", g.weight(16, 2, 3, 3), group=4, kernel_shape=[3, 3])
    y = g.op("Conv", y, g.weight(32, 1, 3, 3), group=16, pads=[1, 1, 1, 1])
    y = g.op("Conv", y, g.weight(4, 32, 3, 3), dilations=[2, 2])
    result = imported(g, y, tmp_path)
    assert kinds(result) == ["conv", "depthwise", "conv"]
    assert result.totals.params == 16 * 2 * 9 + 32 * 9 + 4 * 32 * 9
    assert result.totals.macs == 18 * 18 * 16 * 18 + 18 * 18 * 32 * 9 + 14 * 14 * 4 * 288
    assert spec_report(result).totals.params == result.totals.params


@pytest.mark.parametrize("attrs", [
    {"strides": [2, 2], "pads": [1, 1, 1, 1], "output_padding": [1, 1]},
    {"strides": [2, 2], "output_shape": [15, 15]},
    {"strides": [2, 2], "auto_pad": "SAME_UPPER"},
])
def test_transposed_convolution(tmp_path: Path, attrs: dict[str, Any]) -> None:
    g = Graph((1, 4, 8, 8))
    y = g.op("ConvTranspose", "x", g.weight(4, 6, 3, 3), g.weight(6), kernel_shape=[3, 3],
             **attrs)
    result = imported(g, y, tmp_path)
    assert kinds(result) == ["conv-transpose"]
    assert result.totals.params == 4 * 6 * 9 + 6
    assert result.totals.macs == 8 * 8 * 4 * 6 * 9  # per input position
    assert spec_report(result).totals.output_shape == result.totals.output


def test_pooling(tmp_path: Path) -> None:
    g = Graph((1, 3, 15, 15))
    y = g.op("MaxPool", "x", kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1)
    y = g.op("AveragePool", y, kernel_shape=[3, 3], pads=[1, 1, 1, 1], count_include_pad=0)
    y = g.op("GlobalMaxPool", y)
    result = imported(g, y, tmp_path)
    assert kinds(result) == ["maxpool", "avgpool", "global-maxpool"]
    assert spec_report(result).totals.output_shape == Shape((1, 1), 3)


def test_batch_norm_unfolded_keeps_its_running_statistics_as_buffers(tmp_path: Path) -> None:
    g = Graph(IMAGE)
    y = g.op("BatchNormalization", "x", *(g.weight(3) for _ in range(2)),
             g.const(np.zeros(3)), g.const(np.ones(3)))
    result = imported(g, y, tmp_path)
    assert (result.totals.params, result.totals.buffers) == (6, 6)
    report = spec_report(result)
    assert (report.totals.params, report.totals.non_trainable_params) == (6, 6)


def test_dense_layers_gemm_and_matmul_with_its_bias(tmp_path: Path) -> None:
    g = Graph(IMAGE)
    y = g.op("GlobalAveragePool", "x")
    y = g.op("Flatten", y, axis=1)
    y = g.op("Gemm", y, g.weight(10, 3), g.weight(10), transB=1)
    y = g.op("Relu", y)
    y = g.op("MatMul", y, g.weight(10, 5))
    y = g.op("Add", y, g.weight(5))  # the bias of the same dense layer
    result = imported(g, y, tmp_path)
    assert kinds(result) == ["global-avgpool", "flatten", "fc", "relu", "fc"]
    assert result.totals.params == 3 * 10 + 10 + 10 * 5 + 5
    assert result.totals.macs == 30 + 50
    assert spec_report(result).totals.params == result.totals.params


def test_a_channels_last_matmul_is_a_dense_layer_on_each_position(tmp_path: Path) -> None:
    g = Graph(IMAGE)
    y = g.op("Transpose", "x", perm=[0, 2, 3, 1])
    y = g.op("MatMul", y, g.weight(3, 12))
    y = g.op("Add", y, g.weight(12))
    y = g.op("Transpose", y, perm=[0, 3, 1, 2])
    result = imported(g, y, tmp_path)
    assert kinds(result) == ["token-fc"]
    assert result.totals.macs == 16 * 16 * 3 * 12
    assert spec_report(result).totals.macs == result.totals.macs


@pytest.mark.parametrize(("op", "attrs", "inputs", "kind"), [
    ("Relu", {}, (), "relu"), ("Sigmoid", {}, (), "sigmoid"), ("Tanh", {}, (), "tanh"),
    ("LeakyRelu", {"alpha": 0.2}, (), "leaky-relu"), ("HardSwish", {}, (), "hard-swish"),
    ("HardSigmoid", {"alpha": 1 / 6}, (), "hard-sigmoid"), ("Softmax", {"axis": 1}, (), "softmax"),
    ("Clip", {}, (0.0, 6.0), "relu6"), ("Dropout", {}, (), "dropout"),
])
def test_activations(tmp_path: Path, op: str, attrs: dict[str, Any],
                     inputs: tuple[float, ...], kind: str) -> None:
    g = Graph(IMAGE)
    y = g.op(op, "x", *(g.const(np.float32(v)) for v in inputs), **attrs)
    result = imported(g, y, tmp_path)
    assert kinds(result) == [kind]


def test_decomposed_silu_and_gelu_are_one_layer_each(tmp_path: Path) -> None:
    g = Graph(IMAGE)
    y = g.op("Mul", "x", g.op("Sigmoid", "x"))  # x · sigmoid(x)
    e = g.op("Erf", g.op("Div", y, g.const(np.float32(np.sqrt(2)))))
    y = g.op("Mul", g.op("Mul", y, g.op("Add", e, g.const(np.float32(1)))),
             g.const(np.float32(0.5)))
    result = imported(g, y, tmp_path)
    assert kinds(result) == ["silu", "gelu"]
    assert result.totals.params == 0  # 0.5, √2 and 1 are constants of the formula


def test_residual_concat_and_squeeze_excitation_are_merges(tmp_path: Path) -> None:
    g = Graph((1, 4, 8, 8))
    a = g.op("Relu", g.op("Conv", "x", g.weight(4, 4, 3, 3), pads=[1, 1, 1, 1]))
    y = g.op("Add", a, "x")
    gate = g.op("Sigmoid", g.op("Conv", g.op("GlobalAveragePool", y), g.weight(4, 4, 1, 1)))
    y = g.op("Mul", y, gate)
    y = g.op("Concat", y, g.op("MaxPool", y, kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             axis=1)
    result = imported(g, y, tmp_path)
    merges = [node.op for node in result.model.layers if isinstance(node, Merge)]
    assert merges == ["add", "mul", "concat"]
    add = result.model.layers[0]
    assert isinstance(add, Merge) and add.branches[1] == ()  # the identity shortcut
    assert spec_report(result).totals.output_shape == Shape((8, 8), 8)


def test_views_channel_shuffle_pad_resize_and_mean(tmp_path: Path) -> None:
    g = Graph((1, 4, 8, 8))
    y = g.op("Reshape", "x", g.const([1, 2, 2, 8, 8], dtype=np.int64))
    y = g.op("Transpose", y, perm=[0, 2, 1, 3, 4])
    y = g.op("Reshape", y, g.const([1, 4, 8, 8], dtype=np.int64))
    y = g.op("Pad", y, g.const([0, 0, 1, 2, 0, 0, 1, 2], dtype=np.int64))
    y = g.op("Resize", y, "", g.const([1, 1, 2, 2]), mode="nearest")
    y = g.op("ReduceMean", y, axes=[2, 3], keepdims=1)
    y = g.op("Squeeze", y, g.const([2, 3], dtype=np.int64))
    result = imported(g, y, tmp_path)
    assert kinds(result) == ["channel-shuffle", "zeropad", "upsample", "global-avgpool",
                             "flatten"]
    assert spec_report(result).totals.output_shape == Shape((), 4)


def test_a_vector_made_an_image_again_is_refused_by_name(tmp_path: Path) -> None:
    g = Graph(IMAGE)
    y = g.op("Flatten", g.op("GlobalAveragePool", "x"))
    y = g.op("Unsqueeze", y, g.const([2, 3], dtype=np.int64), name="back_to_image")
    with pytest.raises(ImportFailure) as failure:
        imported(g, y, tmp_path)
    assert "back_to_image (Unsqueeze): a reshape from [1, 3] to [1, 3, 1, 1]" in \
        failure.value.problems[0].message


def test_a_channel_split_by_split_or_by_slices(tmp_path: Path) -> None:
    g = Graph((1, 6, 8, 8), opset=18)
    first, second = g.op("Split", "x", g.const([2, 4], dtype=np.int64), axis=1, outputs=2)
    y = g.op("Concat", first, g.op("Relu", second), axis=1)
    # ShuffleNet's halves as torch's older exporter writes them: two Slices
    half = g.op("Slice", y, g.const([0], dtype=np.int64), g.const([3], dtype=np.int64),
                g.const([1], dtype=np.int64))
    rest = g.op("Slice", y, g.const([3], dtype=np.int64), g.const([6], dtype=np.int64),
                g.const([1], dtype=np.int64))
    y = g.op("Concat", half, g.op("Conv", rest, g.weight(3, 3, 1, 1)), axis=1)
    result = imported(g, y, tmp_path)
    splits = [node for node in result.model.layers if isinstance(node, Merge)]
    assert [(m.op, m.parts) for m in splits] == [("split", (2, 4)), ("split", None)]
    assert splits[1].branches[0] == ()  # the half that passes untouched
    assert spec_report(result).totals.params == 9


def test_layer_norm_and_layer_scale_between_transposes(tmp_path: Path) -> None:
    g = Graph((1, 4, 8, 8))
    y = g.op("Transpose", "x", perm=[0, 2, 3, 1])
    y = g.op("LayerNormalization", y, g.weight(4), g.weight(4), axis=-1)
    y = g.op("Transpose", y, perm=[0, 3, 1, 2])
    y = g.op("Mul", g.weight(4, 1, 1), y)  # ConvNeXt's layer scale
    result = imported(g, y, tmp_path)
    assert kinds(result) == ["layernorm", "layer-scale"]
    assert result.totals.params == 8 + 4
    assert spec_report(result).totals.params == 12


def test_an_op_convcalc_cannot_express_is_named_or_opaque(tmp_path: Path) -> None:
    g = Graph(IMAGE)
    y = g.op("Conv", "x", g.weight(4, 3, 1, 1))
    y = g.op("LpNormalization", y, axis=1, name="the_norm")
    with pytest.raises(ImportFailure) as failure:
        imported(g, y, tmp_path)
    assert [p.code for p in failure.value.problems] == ["unsupported-op"]
    assert "the_norm (LpNormalization)" in failure.value.problems[0].message
    result = imported(g, y, tmp_path, allow_opaque=True)
    assert kinds(result) == ["conv", "opaque"]
    report = spec_report(result)
    warnings = [p for p in report.problems if p.code == "opaque-layer"]
    assert len(warnings) == 1 and "LpNormalization" in warnings[0].message


def test_names_come_from_the_weights_and_the_exporters_scopes(tmp_path: Path) -> None:
    g = Graph(IMAGE)
    y = g.op("Conv", "x", g.weight(3, 3, 1, 1, name="layer1.0.conv1.weight"))
    y = g.op("Relu", y, name="/layer1/layer1.0/relu/Relu")
    y = g.op("Add", y, "x", name="/layer1/layer1.0/Add")
    y = g.op("Sigmoid", y, name="/features/features.1/block/block.0/block.0.2/Sigmoid")
    result = imported(g, y, tmp_path)
    names = [n.name for n in layer_nodes(result.model.layers)]
    assert names[0] == "layer1.0.conv1"
    assert "layer1.0.relu" in names
    assert names[-1] == "features.1.block.0.2"
    assert any(isinstance(n, Merge) and n.name == "layer1.0.add" for n in result.model.layers)
    assert all(isinstance(n, LayerNode | Merge) for n in result.model.layers)


def test_a_batch_is_divided_out_and_free_sizes_need_an_input(tmp_path: Path) -> None:
    g = Graph((4, 3, 16, 16))
    result = imported(g, g.op("Conv", "x", g.weight(8, 3, 3, 3)), tmp_path)
    assert result.totals.macs == 14 * 14 * 8 * 27  # per example, not for the batch of 4
    free = Graph((1, 3, 16, 16))
    free.input = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, "H", "W"])
    path = free.save(tmp_path / "free.onnx", free.op("Conv", "x", free.weight(8, 3, 3, 3)))
    with pytest.raises(ImportFailure, match="--input"):
        load(str(path))
    assert load(str(path), Shape((32, 32), 3)).totals.output == Shape((30, 30), 8)
    with pytest.raises(ImportFailure, match="does not fit"):
        load(str(path), Shape((32, 32), 4))


def test_a_size_the_model_floors_with_loss_is_allowed_in_the_spec(tmp_path: Path) -> None:
    g = Graph(IMAGE)  # (16 − 3)/2 + 1 = 7.5: the last row and column are never read
    result = imported(g, g.op("Conv", "x", g.weight(4, 3, 3, 3), strides=[2, 2]), tmp_path)
    text = write_spec(result.model)
    assert "allow: lossy" in text and "as the imported model computes it" in text
    assert spec_report(result).totals.output_shape == Shape((7, 7), 4)
