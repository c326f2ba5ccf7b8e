"""`convcalc import` and `verify --against` from the command line, and hostile models.

Every broken or hostile model is one line on stderr and exit 2, quickly: a truncated file,
a graph with a cycle, a tensor declaring 10⁹ elements it does not hold, an op convcalc
does not know, a factory that raises.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.oracles import need

need("torch")
need("torchvision")
onnx = need("onnx")

from onnx import TensorProto, helper  # noqa: E402 - after the oracle check

from tests.onnx_graphs import Graph  # noqa: E402

ROOT = Path(__file__).parent.parent


def convcalc(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """The command as a user runs it: a fresh process."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("CONVCALC_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "convcalc", *args], capture_output=True,
                          text=True, timeout=timeout, env=env, check=False)


def one_line_error(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr and "\x1b" not in result.stderr
    for word in words:
        assert word in lines[0], lines[0]


def small_model(path: Path) -> Path:
    g = Graph((1, 3, 16, 16))
    return g.save(path, g.op("Relu", g.op("Conv", "x", g.weight(4, 3, 3, 3))))


def test_import_writes_a_spec_that_checks_and_summarizes(tmp_path: Path) -> None:
    spec = tmp_path / "resnet18.yaml"
    result = convcalc("import", "torchvision:resnet18", "-o", str(spec))
    assert result.returncode == 0, result.stderr
    text = spec.read_text()
    assert "source: " in text and "torchvision:resnet18" in text and "expect:" in text
    assert convcalc("check", str(spec)).returncode == 0
    summary = convcalc("summarize", str(spec), "--rf")
    assert summary.returncode == 0 and "11,689,512" in summary.stdout


def test_summarize_prints_the_table_and_writes_nothing(tmp_path: Path) -> None:
    result = convcalc("import", str(small_model(tmp_path / "m.onnx")), "--summarize")
    assert result.returncode == 0, result.stderr
    assert "params" in result.stdout and "14x14x4" in result.stdout
    assert "layers:" not in result.stdout


def test_a_factory_of_the_users_own_code(tmp_path: Path) -> None:
    result = convcalc("import", "tests.factories:tiny", "--input", "32x32x3", "--summarize")
    assert result.returncode == 0, result.stderr
    from tests.factories import tiny

    model = tiny()
    assert f"{sum(p.numel() for p in model.parameters()):,} trainable" in result.stdout
    needs_input = convcalc("import", "tests.factories:tiny")
    one_line_error(needs_input, "--input")


def test_verify_against_a_real_model_passes_and_names_the_first_difference(
        tmp_path: Path) -> None:
    same = convcalc("verify", "resnet18", "--against", "torchvision:resnet18")
    assert same.returncode == 0, same.stdout + same.stderr
    assert "41 alike" in same.stdout and "the spec is the model" in same.stdout
    blocks = (ROOT / "architectures" / "resnet-blocks.yaml").read_text()
    wider = blocks.replace("layers: [conv3-$out-s$stride-p1, bn, relu, conv3-$out-p1, bn]",
                           "layers: [conv3-$(out+1)-s$stride-p1, bn, relu, conv3-$out-p1, bn]")
    assert wider != blocks
    (tmp_path / "resnet-blocks.yaml").write_text(wider)
    spec = (ROOT / "architectures" / "resnet18.yaml").read_text()
    (tmp_path / "resnet18.yaml").write_text(spec.split("expect:")[0] + "layers:" +
                                            spec.split("layers:")[1])
    different = convcalc("verify", str(tmp_path / "resnet18.yaml"), "--against",
                         "torchvision:resnet18")
    assert different.returncode == 1, different.stderr
    assert "spec:  basic1.add1.b1.basic-path1.conv1 (conv): output 56x56x65" in \
        different.stdout
    assert "model: layer1.0.conv1 (conv): output 56x56x64" in different.stdout


# --- hostile and broken models ----------------------------------------------------------------


def test_a_truncated_file(tmp_path: Path) -> None:
    whole = small_model(tmp_path / "whole.onnx").read_bytes()
    (tmp_path / "cut.onnx").write_bytes(whole[:len(whole) // 2])
    one_line_error(convcalc("import", str(tmp_path / "cut.onnx")), "cut.onnx")


def hand_made(path: Path, nodes: list[Any], inits: list[Any] = (),  # type: ignore[assignment]
              shape: tuple[int, ...] = (1, 3, 8, 8)) -> Path:
    """A model saved without the checker: what a hostile file may be."""
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info(
        "x", TensorProto.FLOAT, list(shape))], [helper.make_tensor_value_info(
            "y", TensorProto.FLOAT, None)], list(inits))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, path)
    return path


def test_a_graph_with_a_cycle(tmp_path: Path) -> None:
    path = hand_made(tmp_path / "cycle.onnx", [
        helper.make_node("Add", ["x", "b"], ["a"], name="first"),
        helper.make_node("Relu", ["a"], ["b"], name="second"),
        helper.make_node("Relu", ["b"], ["y"], name="third")])
    one_line_error(convcalc("import", str(path)), "first", "cycle")


def test_a_tensor_that_declares_a_billion_elements(tmp_path: Path) -> None:
    weight = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[1000, 1000, 1000])
    path = hand_made(tmp_path / "huge.onnx",
                     [helper.make_node("MatMul", ["x", "w"], ["y"])], [weight])
    start = time.perf_counter()
    one_line_error(convcalc("import", str(path)), "1,000,000,000 elements")
    assert time.perf_counter() - start < 60


def test_a_huge_input_is_counted_not_allocated(tmp_path: Path) -> None:
    g = Graph((1, 3, 40_000, 40_000))  # 4.8 billion input elements
    path = g.save(tmp_path / "wide.onnx", g.op("MaxPool", "x", kernel_shape=[2, 2],
                                                strides=[2, 2]))
    result = convcalc("import", str(path), "--summarize", timeout=60)
    assert result.returncode == 0, result.stderr
    assert "20000x20000x3" in result.stdout


def test_unknown_and_custom_ops_are_named(tmp_path: Path) -> None:
    path = hand_made(tmp_path / "custom.onnx", [
        helper.make_node("Explode", ["x"], ["y"], name="\x1b[31mboom", domain="com.example")])
    one_line_error(convcalc("import", str(path)), "31mboom (Explode)", "com.example")


def test_a_factory_that_raises_or_is_not_a_model() -> None:
    one_line_error(convcalc("import", "tests.factories:raises"),
                   "RuntimeError: the factory fails on purpose")
    one_line_error(convcalc("import", "tests.factories:not_a_module", "--input", "8x8x3"),
                   "list")
    one_line_error(convcalc("import", "tests.no_such_module:model"), "No module named")
    one_line_error(convcalc("import", "torchvision:no_such_net"), "no_such_net")


def test_a_missing_file_and_a_missing_extra(tmp_path: Path, cli: Any,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    one_line_error(convcalc("import", str(tmp_path / "absent.onnx")), "absent.onnx")
    path = small_model(tmp_path / "m.onnx")
    monkeypatch.setitem(sys.modules, "onnx", None)
    run = cli("import", str(path))
    assert run.code == 2 and 'pip install "convcalc[onnx]"' in run.err
