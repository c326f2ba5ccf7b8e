"""Small ONNX models written node by node, for the importer's tests.

Each is a valid model (onnx.checker accepts it) that onnxruntime can run, so a test can
compare what convcalc imports with what the runtime computes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17


class Graph:
    """A graph under construction: ``x`` is the input; each call adds one node."""

    def __init__(self, shape: tuple[int, ...], opset: int = OPSET) -> None:
        self.nodes: list[Any] = []
        self.inits: list[Any] = []
        self.opset = opset
        self.input = helper.make_tensor_value_info("x", TensorProto.FLOAT, list(shape))
        self.count = 0
        self.rng = np.random.default_rng(0)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(d.dim_value for d in self.input.type.tensor_type.shape.dim)

    def const(self, value: Any, name: str | None = None, dtype: Any = np.float32) -> str:
        self.count += 1
        name = name or f"c{self.count}"
        self.inits.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def weight(self, *dims: int, name: str | None = None) -> str:
        return self.const(self.rng.standard_normal(dims).astype(np.float32), name)

    def op(self, op_type: str, *inputs: str, outputs: int = 1, name: str = "",
           **attrs: Any) -> Any:
        self.count += 1
        names = [f"t{self.count}_{i}" for i in range(outputs)]
        self.nodes.append(helper.make_node(op_type, list(inputs), names,
                                           name=name or f"{op_type.lower()}{self.count}",
                                           **attrs))
        return names[0] if outputs == 1 else names

    def save(self, path: Path, output: str) -> Path:
        graph = helper.make_graph(self.nodes, "g", [self.input], [], self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", self.opset)])
        model.ir_version = 8
        inferred = onnx.shape_inference.infer_shapes(model)  # the output's type, for the file
        found = [v for v in inferred.graph.value_info if v.name == output]
        model.graph.output.extend(found)
        onnx.checker.check_model(model)
        onnx.save(model, path)
        return path


def run(path: Path, shape: tuple[int, ...]) -> tuple[int, ...]:
    """The output shape onnxruntime computes."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    result = session.run(None, {"x": np.zeros(shape, dtype=np.float32)})[0]
    return tuple(result.shape)
