"""ONNX's rule set against onnxruntime: one-node graphs (Conv, MaxPool, AveragePool,
ConvTranspose) with explicit pads or auto_pad, ceil_mode and dilations. What onnxruntime
refuses, convcalc refuses under ``--rules onnx``; what it runs, it sizes alike."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from convcalc.layers.conv import Conv, ConvTranspose
from convcalc.layers.pool import AvgPool, MaxPool
from convcalc.shape import Shape
from tests.oracles import need
from tests.rules_oracle import EXAMPLES, Axes, agree, axes, ours

onnx = need("onnx")
np = need("numpy")  # onnx brings it
ort = need("onnxruntime")
helper, TensorProto = onnx.helper, onnx.TensorProto
ort.set_default_logger_severity(4)

AUTO_PAD = {"same": "SAME_UPPER", "same-lower": "SAME_LOWER", "valid": "VALID"}
WORDS = st.sampled_from([None, "same", "same-lower", "valid"])


def run(op: str, x: Axes, attributes: dict[str, Any], weight: tuple[int, ...] = ()
        ) -> tuple[int, ...] | None:
    """onnxruntime's spatial output for a zero input, or None when it will not run."""
    inputs, initializers = ["x"], []
    if weight:
        initializers.append(helper.make_tensor("w", TensorProto.FLOAT, weight,
                                               np.zeros(weight, np.float32).ravel().tolist()))
        inputs.append("w")
    graph = helper.make_graph(
        [helper.make_node(op, inputs, ["y"], **attributes)], "one",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, *x.sizes])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 22)])
    model.ir_version = 10
    options = ort.SessionOptions()
    options.log_severity_level = 4
    try:
        session = ort.InferenceSession(model.SerializeToString(), options,
                                       providers=["CPUExecutionProvider"])
        out = session.run(None, {"x": np.zeros((1, 1, *x.sizes), np.float32)})[0]
    except Exception:  # onnxruntime raises its own exception types
        return None
    return None if 0 in out.shape else tuple(out.shape[2:])


def padding(x: Axes, word: str | None) -> tuple[Any, dict[str, Any]]:
    """The spec's pad and the ONNX attributes that say the same."""
    if word is not None:
        return word, {"auto_pad": AUTO_PAD[word]}
    return x.pads, {"pads": [a for a, _ in x.pads] + [b for _, b in x.pads]}


@EXAMPLES
@given(x=axes(), word=WORDS)
def test_conv(x: Axes, word: str | None) -> None:
    pad, attributes = padding(x, word)
    layer = Conv(1, x.k, x.stride, pad, x.dilation)
    theirs = run("Conv", x, {"kernel_shape": list(x.k), "strides": list(x.stride),
                             "dilations": list(x.dilation), **attributes}, (1, 1, *x.k))
    agree(ours("onnx", layer, Shape(x.sizes, 1)), theirs, (x, word))


@EXAMPLES
@given(x=axes(max_kernel=4), word=WORDS, ceil=st.booleans(), average=st.booleans())
def test_pooling(x: Axes, word: str | None, ceil: bool, average: bool) -> None:
    pad, attributes = padding(x, word)
    attributes |= {"kernel_shape": list(x.k), "strides": list(x.stride),
                   "ceil_mode": int(ceil)}
    if average:
        layer: Any = AvgPool(x.k, x.stride, pad, ceil)
        theirs = run("AveragePool", x, attributes)
    else:
        layer = MaxPool(x.k, x.stride, pad, x.dilation, ceil)
        theirs = run("MaxPool", x, attributes | {"dilations": list(x.dilation)})
        if word in ("same", "same-lower") and max(x.dilation) > 1:
            # onnxruntime pads a dilated pooling's SAME as if undilated, where ONNX's
            # formula says ceil(i/s): convcalc refuses it as not portable, whatever runs
            assert ours("onnx", layer, Shape(x.sizes, 1)) is None
            return
    agree(ours("onnx", layer, Shape(x.sizes, 1)), theirs, (x, word, ceil, average))


@EXAMPLES
@given(x=axes(), word=WORDS, extra=st.integers(0, 3))
def test_conv_transpose(x: Axes, word: str | None, extra: int) -> None:
    pad, attributes = padding(x, word)
    extras = tuple(min(extra, max(s, d) - 1) for s, d in zip(x.stride, x.dilation, strict=True))
    layer = ConvTranspose(1, x.k, x.stride, pad, extras, x.dilation)
    theirs = run("ConvTranspose", x, {"kernel_shape": list(x.k), "strides": list(x.stride),
                                      "dilations": list(x.dilation),
                                      "output_padding": list(extras), **attributes},
                 (1, 1, *x.k))
    agree(ours("onnx", layer, Shape(x.sizes, 1)), theirs, (x, word, extras))
