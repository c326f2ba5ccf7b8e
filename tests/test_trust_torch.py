"""Regressions of issue #13 that need the real frameworks: torch (and onnxruntime).

The export and convcalc must agree with torch, and with ONNX where torch and ONNX define
the same thing; these pin what independent testing found they did not.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from convcalc.analysis import analyze
from convcalc.export import identifier, to_pytorch
from convcalc.language import load_text
from convcalc.model import Model
from convcalc.report import Report
from convcalc.verify import compare
from tests.oracles import need

torch = need("torch")
Cli = Any


def built(text: str) -> tuple[Model, Report]:
    loaded = load_text(text, "spec.yaml")
    assert loaded.model is not None, loaded.problems
    report = analyze(loaded.model)
    assert not report.problems, report.problems
    return loaded.model, report


# --- export: attribute names that nn.Module has --------------------------------------------

def _module_names() -> set[str]:
    module = torch.nn.Module()
    return set(dir(module)) | set(vars(module))


def test_no_spec_name_becomes_an_attribute_nn_module_has() -> None:
    names = _module_names()
    for name in sorted(names):
        attr = identifier(name, set())
        assert attr not in names, (name, attr)
        assert re.fullmatch(r"[a-z0-9_]+", attr)


NAMES = ["modules", "training", "parameters", "eval", "to", "float", "children", "apply",
         "buffers", "state_dict", "cuda", "_parameters", "_modules", "forward", "type", "half"]


def test_layers_named_like_nn_module_attributes_export_and_verify() -> None:
    layers = "".join(f"  - conv: {{k: 1, filters: 2, name: {name!r}}}\n" for name in NAMES)
    model, report = built(f"input: 4x4x2\nlayers:\n{layers}  - bn: {{name: training_}}\n")
    comparisons = compare(model, report, "cpu")
    assert [c.name for c in comparisons] == [*NAMES, "training_", "(network)"]
    assert all(c.agrees for c in comparisons), comparisons
    assert "self.training =" not in to_pytorch(model, report)


# --- verify compares buffers too -------------------------------------------------------------

def test_verify_compares_buffers(cli: Cli, tmp_path: Path) -> None:
    import dataclasses

    model, report = built("input: 8x8x3\nlayers: [conv3-4, bn, relu, {bn: {affine: false}}]\n")
    comparisons = compare(model, report, "cpu")
    assert [(c.our_buffers, c.torch_buffers) for c in comparisons] == \
        [(0, 0), (8, 8), (8, 8), (16, 16)]  # running mean and variance; no step counters
    assert all(c.agrees for c in comparisons)
    assert not dataclasses.replace(comparisons[1], torch_buffers=9).agrees
    spec = tmp_path / "bn.yaml"
    spec.write_text("input: 8x8x3\nlayers: [conv3-4, bn]\n")
    run = cli("verify", str(spec), "--device", "cpu")
    assert run.code == 0 and "torch buffers" in run.out.splitlines()[0]


# --- ceil-mode pooling with explicit padding ---------------------------------------------------
# The rule (PyTorch's MaxPool1d note and aten/src/ATen/native/Pool.h pooling_output_shape;
# ONNX MaxPool and AveragePool since opset 19): with ceil_mode a window may run off the end
# if it starts in the left padding or the input; one that would start in the right padding
# is dropped. convcalc applies it to explicit, asymmetric pads; onnxruntime is the second
# oracle (it takes explicit pads smaller than the kernel).

def _ort_pool(op: str, size: int, k: int, stride: int, pads: tuple[int, int],
              dilation: int = 1) -> int:
    """The output length onnxruntime gives a 1-D pool in ceil mode."""
    numpy = need("numpy")
    ort = need("onnxruntime")
    helper = need("onnx.helper")
    onnx = need("onnx")
    options: dict[str, Any] = {"kernel_shape": [k], "strides": [stride], "pads": list(pads),
                               "ceil_mode": 1}
    if op == "MaxPool":
        options["dilations"] = [dilation]
    node = helper.make_node(op, ["x"], ["y"], **options)
    graph = helper.make_graph(
        [node], "pool", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 1, size])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 22)])
    session_options = ort.SessionOptions()
    session_options.log_severity_level = 3
    session = ort.InferenceSession(model.SerializeToString(), session_options)
    x = numpy.zeros((1, 1, size), dtype=numpy.float32)
    return int(session.run(None, {"x": x})[0].shape[-1])


@pytest.mark.parametrize(("layer", "onnx"), [
    ('{maxpool: {k: 2, pad: "0,1", ceil: true}}', ("MaxPool", 2, 2, (0, 1))),
    ('{avgpool: {k: 2, pad: "0,1", ceil: true}}', ("AveragePool", 2, 2, (0, 1))),
    ("maxpool4-full-ceil", ("MaxPool", 4, 4, (3, 3))),
])
def test_the_issues_ceil_examples_agree_with_torch_and_onnx(
        layer: str, onnx: tuple[str, int, int, tuple[int, int]]) -> None:
    model, report = built(f"input: 4x1\nlayers: [{layer}]\n")
    assert report.totals.output_shape.dims == (2, 1)
    assert all(c.agrees for c in compare(model, report, "cpu"))
    op, k, stride, pads = onnx
    assert _ort_pool(op, 4, k, stride, pads) == 2


def test_summarize_layer_and_export_agree_on_a_ceil_pool(cli: Cli) -> None:
    run = cli("layer", "--kind", "maxpool", "--in", "4x1", "--k", "2", "--pad", "0,1", "--ceil")
    assert run.out.splitlines()[1].split() == ["output", "2x1"]


def _ceil_cases() -> Any:
    from hypothesis import strategies as st

    return st.tuples(st.integers(1, 24), st.integers(1, 5), st.integers(1, 4),
                     st.integers(0, 6), st.integers(0, 6), st.integers(1, 2),
                     st.sampled_from(["maxpool", "avgpool"]))


def test_ceil_pools_with_any_explicit_pads_agree_with_torch_and_onnxruntime() -> None:
    import os

    from hypothesis import given, settings

    from convcalc.arith import Window

    @settings(max_examples=int(os.environ.get("CONVCALC_FUZZ_EXAMPLES", "60")), deadline=None)
    @given(_ceil_cases())
    def check(case: tuple[int, int, int, int, int, int, str]) -> None:
        size, k, stride, left, right, dilation, kind = case
        dilation = dilation if kind == "maxpool" else 1
        window = Window(size, k, stride, (left, right), dilation, ceil=True)
        if window.output < 1:
            return
        if left < k and right < k:
            op = "MaxPool" if kind == "maxpool" else "AveragePool"
            assert _ort_pool(op, size, k, stride, (left, right), dilation) == window.output
        extra = f", dilation: {dilation}" if kind == "maxpool" else ""
        model, report = built(f"input: {size}x1\nlayers: [{{{kind}: {{k: {k}, stride: {stride}"
                              f", pad: '{left},{right}', ceil: true{extra}}}}}]\n")
        assert report.totals.output_shape.dims == (window.output, 1)
        assert all(c.agrees for c in compare(model, report, "cpu")), case

    check()


# --- upsampling modes by rank -----------------------------------------------------------------

@pytest.mark.parametrize("mode", ["nearest", "linear", "bilinear", "trilinear", "bicubic"])
@pytest.mark.parametrize("ndim", [1, 2, 3])
def test_upsample_takes_a_mode_where_torch_does(mode: str, ndim: int) -> None:
    functional = need("torch.nn.functional")
    try:
        functional.interpolate(torch.zeros(1, 1, *[4] * ndim), scale_factor=2, mode=mode)
        torch_takes = True
    except (ValueError, NotImplementedError, RuntimeError):
        torch_takes = False
    loaded = load_text(f"input: {'4x' * ndim}2\nlayers: [{{upsample: {{mode: {mode}}}}}]\n",
                       "spec.yaml")
    assert loaded.model is not None
    problems = analyze(loaded.model).problems
    assert [p.code for p in problems] == ([] if torch_takes else ["wrong-rank"])
    if torch_takes:
        assert all(c.agrees for c in compare(loaded.model, analyze(loaded.model), "cpu"))


# --- shorthand of hyphenated kinds, checked by torch ------------------------------------------

@pytest.mark.parametrize("layers", ["[adaptive-avgpool1, flatten]", "[adaptive-maxpool3x2]",
                                    "[adaptive-avgpool-2x3]", "[channel-shuffle2]",
                                    "[max-pool3-s2-ceil]", "[avg-pool2-ceil]"])
def test_hyphenated_shorthand_agrees_with_torch(layers: str) -> None:
    model, report = built(f"input: 9x7x4\nlayers: {layers}\n")
    assert all(c.agrees for c in compare(model, report, "cpu"))
