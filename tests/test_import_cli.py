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
ARCHITECTURES = ROOT / "architectures"


def convcalc(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """The command as a user runs it: a fresh process."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("CONVCALC_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "convcalc", *args], capture_output=True,
                          text=True, timeout=timeout, env=env, check=False)


def one_line_error(result: Any, *words: str) -> None:
    """Exit 2 and one line on stderr (a run in a fresh process or in this one)."""
    code = result.returncode if hasattr(result, "returncode") else result.code
    err = result.stderr if hasattr(result, "stderr") else result.err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err and "\x1b" not in err
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


def test_summarize_prints_the_table_and_writes_nothing(tmp_path: Path, cli: Any) -> None:
    result = cli("import", str(small_model(tmp_path / "m.onnx")), "--summarize")
    assert result.code == 0, result.err
    assert "params" in result.out and "14x14x4" in result.out
    assert "layers:" not in result.out


def test_a_factory_of_the_users_own_code(cli: Any) -> None:
    result = cli("import", "tests.factories:tiny", "--input", "32x32x3", "--summarize")
    assert result.code == 0, result.err
    from tests.factories import tiny

    model = tiny()
    assert f"{sum(p.numel() for p in model.parameters()):,} trainable" in result.out
    one_line_error(cli("import", "tests.factories:tiny"), "--input")


def test_verify_against_a_real_model_passes_and_names_the_first_difference(
        tmp_path: Path, cli: Any) -> None:
    # the bundled ShuffleNet v2 1.0x passes; with the first 1x1 of branch 2 wider, it fails
    same = cli("verify", "shufflenet-v2-x1_0", "--against", "torchvision:shufflenet_v2_x1_0")
    assert same.code == 0, same.out + same.err
    assert "113 alike" in same.out and "the spec is the model" in same.out
    blocks = (ARCHITECTURES / "shufflenet-v2-blocks.yaml").read_text()
    wider = blocks.replace("layers: [conv1-$out, bn, relu, depthwise",
                           "layers: [conv1-$(out+2), bn, relu, depthwise")
    assert wider != blocks
    (tmp_path / "shufflenet-v2-blocks.yaml").write_text(wider)
    spec = (ARCHITECTURES / "shufflenet-v2-x1_0.yaml").read_text()
    (tmp_path / "wrong.yaml").write_text(spec.split("expect:")[0] + "layers:" +
                                         spec.split("layers:")[1])
    different = cli("verify", str(tmp_path / "wrong.yaml"), "--against",
                    "torchvision:shufflenet_v2_x1_0")
    assert different.code == 1, different.err
    assert "spec:  stage1.down-unit1.concat1.b2.branch1.conv1 (conv): output 56x56x60, " \
        "1,440 params" in different.out
    assert "model: stage2.0.branch2.0 (conv): output 56x56x58, 1,392 params" in different.out
    assert "params     2,287,304    2,278,604  DIFFERENT" in different.out


def test_verify_pairs_a_merges_branches_in_either_order(cli: Any) -> None:
    # torchvision's RegNet runs the shortcut's projection before the block's own path; the
    # bundled spec writes it as the add's second branch: the same layers, in another order
    run = cli("verify", "regnet-x-400mf", "--against", "torchvision:regnet_x_400mf")
    assert run.code == 0, run.out + run.err
    assert "143 in the spec, 143 in the model, 143 alike" in run.out


def test_a_moved_layer_that_differs_stays_a_difference() -> None:
    from convcalc.importers.compare import Pair, Side, _pair_moved
    from convcalc.shape import Shape

    def side(name: str, params: int) -> Side:
        return Side(name, "conv", params, 0, Shape((8, 8), 4))

    a, b, c = side("a", 10), side("b", 20), side("c", 30)
    # the alignment left b and c unpaired on each side: b pairs with b; c and a wider c' not
    pairs = [Pair(a, a), Pair(b, None), Pair(None, c), Pair(side("c'", 31), None),
             Pair(None, b)]
    moved = _pair_moved(pairs)
    assert [(p.spec and p.spec.name, p.model and p.model.name) for p in moved] == \
        [("a", "a"), (None, "c"), ("c'", None), ("b", "b")]
    assert sum(p.agrees for p in moved) == 2


def test_verify_against_an_onnx_file(tmp_path: Path, cli: Any) -> None:
    path = small_model(tmp_path / "m.onnx")
    (tmp_path / "m.yaml").write_text("input: 16x16x3\nlayers:\n  - conv3-4: {bias: false}\n"
                                     "  - relu\n")
    assert cli("verify", str(tmp_path / "m.yaml"), "--against", str(path)).code == 0
    (tmp_path / "n.yaml").write_text("input: 16x16x3\nlayers:\n  - conv3-5: {bias: false}\n")
    wrong = cli("verify", str(tmp_path / "n.yaml"), "--against", str(path))
    assert wrong.code == 1 and "conv1 (conv): output 14x14x5" in wrong.out


# --- hostile and broken models ----------------------------------------------------------------


def test_a_truncated_file(tmp_path: Path, cli: Any) -> None:
    whole = small_model(tmp_path / "whole.onnx").read_bytes()
    (tmp_path / "cut.onnx").write_bytes(whole[:len(whole) // 2])
    one_line_error(cli("import", str(tmp_path / "cut.onnx")), "cut.onnx")


def hand_made(path: Path, nodes: list[Any], inits: list[Any] = (),  # type: ignore[assignment]
              shape: tuple[int, ...] = (1, 3, 8, 8)) -> Path:
    """A model saved without the checker: what a hostile file may be."""
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info(
        "x", TensorProto.FLOAT, list(shape))], [helper.make_tensor_value_info(
            "y", TensorProto.FLOAT, None)], list(inits))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, path)
    return path


def test_a_graph_with_a_cycle(tmp_path: Path, cli: Any) -> None:
    path = hand_made(tmp_path / "cycle.onnx", [
        helper.make_node("Add", ["x", "b"], ["a"], name="first"),
        helper.make_node("Relu", ["a"], ["b"], name="second"),
        helper.make_node("Relu", ["b"], ["y"], name="third")])
    one_line_error(cli("import", str(path)), "first", "cycle")


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


def test_unknown_and_custom_ops_are_named(tmp_path: Path, cli: Any) -> None:
    path = hand_made(tmp_path / "custom.onnx", [
        helper.make_node("Explode", ["x"], ["y"], name="\x1b[31mboom", domain="com.example")])
    one_line_error(cli("import", str(path)), "31mboom (Explode)", "com.example")


def test_a_factory_that_raises_or_is_not_a_model(cli: Any) -> None:
    one_line_error(convcalc("import", "tests.factories:raises"),  # a fresh process, as users
                   "RuntimeError: the factory fails on purpose")
    one_line_error(cli("import", "tests.factories:not_a_module", "--input", "8x8x3"), "list")
    one_line_error(cli("import", "tests.no_such_module:model"), "No module named")
    one_line_error(cli("import", "torchvision:no_such_net"), "no_such_net")
    one_line_error(cli("import", "not a model"), "torchvision:NAME")



def test_a_factory_that_exits_or_contains_itself(cli: Any) -> None:
    """SystemExit(0) from the factory ended convcalc with exit 0 and no output; a module
    cycle was an internal error. Each is the factory's failure, in one line."""
    one_line_error(cli("import", "tests.factories:exits", "--input", "8x8x3"),
                   "the factory tests.factories:exits raised SystemExit")
    one_line_error(cli("import", "tests.factories:contains_itself", "--input", "8x8x3"),
                   "tests.factories:contains_itself", "RecursionError")


@pytest.mark.parametrize("suffix", [".onnx", ".json", ".keras", ".prototxt"])
def test_a_device_named_like_a_model_is_refused_before_it_is_read(
        tmp_path: Path, suffix: str) -> None:
    """/dev/zero reports a size of 0 and never ends: each reader read it whole (14 GB in
    20 s) instead of refusing it as a file the spec loader would not read either."""
    model = tmp_path / f"model{suffix}"
    model.symlink_to("/dev/zero")
    start = time.perf_counter()
    one_line_error(convcalc("import", str(model), "--summarize", timeout=60),
                   "not a regular file")
    assert time.perf_counter() - start < 30


def test_keras_json_nested_past_the_decoder_is_one_line(tmp_path: Path, cli: Any) -> None:
    """json.loads recurses per level: 200,000 nested lists were an internal error."""
    import zipfile

    nested = "[" * 200_000 + "]" * 200_000
    text = tmp_path / "deep.json"
    text.write_text('{"class_name": "Sequential", "config": ' + nested + "}", encoding="utf-8")
    archive = tmp_path / "deep.keras"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("config.json", nested)
    for path in (text, archive):
        one_line_error(cli("import", str(path)), "nests too deep")

def test_a_missing_file_and_a_missing_extra(tmp_path: Path, cli: Any,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    one_line_error(cli("import", str(tmp_path / "absent.onnx")), "absent.onnx")
    path = small_model(tmp_path / "m.onnx")
    monkeypatch.setitem(sys.modules, "onnx", None)
    run = cli("import", str(path))
    assert run.code == 2 and 'pip install "convcalc[onnx]"' in run.err


def test_mutated_models_are_imported_or_refused_never_crash(tmp_path: Path) -> None:
    """Every attribute of every node removed, zeroed, negated or made huge in turn: the
    import works or says why (ImportFailure), whatever the file says."""
    from convcalc.importers import ImportFailure, load

    g = Graph((1, 3, 16, 16))
    y = g.op("Conv", "x", g.weight(4, 3, 3, 3), kernel_shape=[3, 3], pads=[1, 1, 1, 1],
             strides=[1, 1])
    y = g.op("MaxPool", y, kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1)
    y = g.op("Concat", y, g.op("Relu", y), axis=1)
    y = g.op("Gemm", g.op("Flatten", g.op("GlobalAveragePool", y), axis=1),
             g.weight(5, 8), transB=1)
    original = g.save(tmp_path / "base.onnx", y)
    model = onnx.load(original)
    tried = 0
    for index, node in enumerate(model.graph.node):
        for position in range(len(node.attribute)):
            for value in (None, 0, -1, 10**12):
                mutated = onnx.ModelProto()
                mutated.CopyFrom(model)
                attributes = mutated.graph.node[index].attribute
                if value is None:
                    del attributes[position]
                elif attributes[position].ints:
                    attributes[position].ints[:] = [value] * len(attributes[position].ints)
                else:
                    attributes[position].i = value
                path = tmp_path / "mutated.onnx"
                onnx.save(mutated, path)
                tried += 1
                try:
                    load(str(path))
                except ImportFailure as exc:
                    assert exc.message
    assert tried > 30
