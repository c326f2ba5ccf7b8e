"""The constructs that make one block say what torchvision's code says: zero repeats,
conditions, the input's shape inside a block, channel splits."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from convcalc.analysis import analyze
from convcalc.language import Loaded, load_text
from convcalc.report import Report
from tests.oracles import need


def load(text: str) -> Loaded:
    return load_text(text, "spec.yaml")


def report(text: str) -> Report:
    loaded = load(text)
    assert loaded.model is not None, loaded.problems
    return analyze(loaded.model)


def codes(text: str) -> list[tuple[int, int, str]]:
    return [(p.line, p.col, p.code) for p in load(text).problems]


STAGE = """
input: 16x16x8
blocks:
  unit:
    args: {c: 8}
    layers: [conv3-$c-p1, relu]
  stage:
    args: {n: 1, c: 8}
    layers:
      - unit: {c: $c}
      - unit: {c: $c}
        repeat: $(n - 1)
layers:
  - stage: {n: N, c: 16}
"""


def test_repeat_zero_makes_no_copy() -> None:
    convs = [len([r for r in report(STAGE.replace("N", str(n))).rows if r.kind == "conv"])
             for n in (1, 2, 4)]
    assert convs == [1, 2, 4]


def test_a_negative_repeat_is_an_error() -> None:
    assert codes(STAGE.replace("N", "0")) == [(12, 17, "wrong-type")]


MBCONV = """
input: 8x8x16
blocks:
  unit:
    args: {expand: 64, out: 16, se: false, stride: 1, residual: true}
    add:
      - - layers: [conv1-$expand, bn, relu]
          if: $(expand != 16)
        - dwconv3-s$stride-p1
        - mul: [[], [gap, conv1-$(make_divisible(expand // 4, 8)), relu, conv1-$expand, sigmoid]]
          if: $se
        - conv1-$out
      - layers: []
        if: $(residual and stride == 1)
layers:
  - unit: ARGS
"""


def kinds(text: str) -> list[str]:
    return [row.kind for row in report(text).rows[1:]]


def test_if_leaves_out_a_group_a_merge_and_a_merge_branch() -> None:
    everything = kinds(MBCONV.replace("ARGS", "{se: true}"))
    assert everything == ["unit", "add", "conv", "bn", "relu", "depthwise", "mul",
                          "global-avgpool", "conv", "relu", "conv", "sigmoid", "conv"]
    # no expansion, no squeeze-excitation, no residual: the add's one branch, in place
    plain = kinds(MBCONV.replace("ARGS", "{expand: 16, stride: 2}"))
    assert plain == ["unit", "depthwise", "conv"]


def test_a_left_out_item_is_not_evaluated() -> None:
    text = """
input: 8x8x16
blocks:
  unit:
    args: {r: 0}
    layers:
      - conv1-$(16 // r):
        if: $(r > 0)
      - relu
layers: [unit, {unit: {r: 4}}]
"""
    assert kinds(text) == ["unit", "relu", "unit", "conv", "relu"]


def test_if_on_a_layer_and_a_block_call_outside_blocks() -> None:
    text = """
input: 8x8x16
blocks:
  pair: [conv1-8, relu]
layers:
  - pair:
    if: false
  - bn:
    if: true
  - relu: {}
    if: false
    repeat: 3
"""
    assert kinds(text) == ["bn"]


def test_a_condition_must_be_true_or_false() -> None:
    text = """
input: 8x8x16
blocks:
  unit:
    args: {n: 2}
    layers:
      - relu:
        if: $(n + 1)
layers:
  - unit
  - bn:
    if: maybe
  - bn:
    if: $(n > 1)
"""
    assert codes(text) == [(8, 13, "bad-condition"), (12, 9, "bad-condition"),
                           (14, 9, "undefined-argument")]


SQUEEZE = """
input: 16x16x24
blocks:
  squeeze:      # squeeze-and-excitation at a quarter of the input's channels
    mul: [[], [gap, conv1-$(make_divisible(channels // 4, 8)), relu, conv1-$channels, sigmoid]]
  pool-all:     # a window as large as the input
    layers: [avgpool: {k: $(height)x$width}]
layers:
  - squeeze
  - conv1-96
  - squeeze
  - pool-all
"""


def test_a_block_reads_its_inputs_channels_and_sizes() -> None:
    rows = report(SQUEEZE).rows
    squeezes = [row.output_shape.channels for row in rows if row.name.endswith("conv1") and
                ".b2." in row.name]
    assert squeezes == [8, 24]  # make_divisible(24 // 4, 8), make_divisible(96 // 4, 8)
    assert rows[-1].output_shape.dims == (1, 1, 96)
    loaded = load(SQUEEZE)
    assert loaded.model is not None and loaded.model.rebuild is not None


def test_a_declared_argument_wins_over_the_shapes_name() -> None:
    text = """
input: 8x8x16
blocks:
  widen:
    args: {channels: 4}
    layers: [conv1-$channels]
layers: [widen]
"""
    loaded = load(text)
    assert loaded.model is not None and loaded.model.rebuild is None
    assert report(text).totals.output_shape.channels == 4


def test_the_axes_are_named_by_the_inputs_rank() -> None:
    body = "blocks:\n  b: [conv: {filters: $(channels * 2), k: NAME}]\nlayers: [b]\n"
    assert report("input: 12x4\n" + body.replace("NAME", "$length")).rows[-1].output_shape \
        .dims == (1, 8)
    assert report("input: 5x6x7x2\n" + body.replace("NAME", "$depth")).rows[-1].output_shape \
        .dims == (1, 2, 3, 4)
    assert codes("input: 12x4\n" + body.replace("NAME", "$height")) == [(4, 10, "wrong-rank")]


def test_an_unknown_shape_names_its_first_cause() -> None:
    text = """
input: 8x8x16
blocks:
  squeeze:
    mul: [[], [gap, conv1-$(channels // 4), relu, conv1-$channels, sigmoid]]
layers:
  - add: [[conv1-32], []]
  - squeeze
"""
    assert codes(text) == [(7, 5, "channel-mismatch"), (8, 5, "unknown-shape")]


def test_another_input_builds_the_model_again() -> None:
    loaded = load(SQUEEZE)
    assert loaded.model is not None
    from convcalc.model import with_input
    from convcalc.shape import Shape

    bigger = with_input(loaded.model, Shape((32, 32), 40))
    rows = analyze(bigger).rows
    assert rows[-1].output_shape.dims == (1, 1, 96)  # the pool still covers the whole input
    assert [row.output_shape.channels for row in rows if row.name == "squeeze1.mul1.b2.conv1"] \
        == [16]  # make_divisible(40 // 4, 8)


def test_sizes_and_sweep_build_the_model_again_per_size() -> None:
    from convcalc.design import check_size, sweep

    loaded = load(SQUEEZE)
    assert loaded.model is not None
    points = sweep(loaded.model, [8, 20])
    assert [p.report.totals.output_shape.dims for p in points] == [(1, 1, 96)] * 2
    assert [p.report.problems for p in points] == [(), ()]
    assert check_size(loaded.model, 20).exact


def test_summarize_input_builds_the_model_again(cli: Any, tmp_path: Path) -> None:
    spec = tmp_path / "squeeze.yaml"
    spec.write_text(SQUEEZE)
    run = cli("summarize", str(spec), "--input", "24x24x40", "--format", "json")
    assert run.code == 0, run.err
    layers = json.loads(run.out)["layers"]
    assert [layer["output_shape"] for layer in layers if layer["name"] == "pool-all1.avgpool1"] \
        == [[1, 1, 96]]


def test_a_split_gives_each_branch_its_part_of_the_channels() -> None:
    rows = report("""
input: 4x4x8
layers:
  - split: [[], [conv1-4]]
  - split: [[conv1-2], [], [conv3-6-p1]]
    parts: [1, 3, 4]
""").rows
    assert [(row.name, str(row.input_shape), str(row.output_shape), row.params) for row in rows
            if row.depth == 1] == [("split1.b2.conv1", "4x4x4", "4x4x4", 4 * 4 + 4),
                                   ("split2.b1.conv1", "4x4x1", "4x4x2", 1 * 2 + 2),
                                   ("split2.b3.conv1", "4x4x4", "4x4x6", 9 * 4 * 6 + 6)]
    assert [str(row.output_shape) for row in rows if row.kind == "split"] == ["4x4x8", "4x4x11"]


def test_a_splits_memory_peak_holds_the_input_and_the_finished_parts() -> None:
    from convcalc.memory import inference_peak

    model = load("input: 4x4x8\nlayers: [split: [[], [conv1-4]]]\n").model
    assert model is not None
    # the input (128) stays alive; the branch's 64 are kept until the concatenation (128)
    assert inference_peak(model, analyze(model)) == 128 + 64 + 128


@pytest.mark.parametrize(("layers", "problem"), [
    ("[split: [[], [conv1-4]]]", (3, 10, "bad-split")),  # 7 channels into 2 equal parts
    ("[{split: [[], []], parts: [3, 3]}]", (3, 11, "bad-split")),  # 6 of 7
    ("[{split: [[], []], parts: [7]}]", (3, 11, "bad-split")),  # 1 part, 2 branches
])
def test_parts_that_do_not_fit_the_channels_are_a_problem(layers: str,
                                                          problem: tuple[int, int, str]) -> None:
    loaded = load(f"input: 4x4x7\n\nlayers: {layers}\n")
    assert loaded.model is not None
    assert [(p.line, p.col, p.code) for p in analyze(loaded.model).problems] == [problem]


def test_bad_split_keys_are_problems() -> None:
    assert codes("input: 4x4x8\nlayers:\n  - split: [[], []]\n    parts: [four, 4]\n") == \
        [(4, 12, "wrong-type")]
    assert codes("input: 4x4x8\nlayers:\n  - concat: [[], []]\n    parts: [4, 4]\n") == \
        [(4, 12, "unknown-key")]
    assert codes("input: 4x4x8\nlayers:\n  - split: [[], {layers: [], if: true}]\n") == \
        [(3, 17, "bad-layer")]


def test_a_split_exports_to_torch_split_and_verifies() -> None:
    from convcalc.verify import compare

    need("torch")  # the oracle: skipped without it, but in CI
    model = load("""
input: 6x6x12
layers:
  - split: [[], [conv1-6, bn, relu, dwconv3-p1, bn, conv1-6, bn, relu]]
  - channel-shuffle: {groups: 2}
  - split: [[conv1-2], [], [conv3-4-p1]]
    parts: [2, 4, 6]
""").model
    assert model is not None
    comparisons = compare(model, analyze(model), device="cpu")
    assert len(comparisons) == 10 and all(c.agrees for c in comparisons)


def test_a_block_named_like_a_newer_keyword_still_works() -> None:
    # inception-v3.yaml named a block `split` before `split` was a keyword
    kinds_found = kinds("""
input: 4x4x8
blocks:
  split:
    concat: [[conv1-4], [conv1-4]]
  parts: [relu]
layers:
  - split
  - split: {}
  - split: [[], [conv1-4]]
  - parts
""")
    assert kinds_found == ["split", "concat", "conv", "conv", "split", "concat", "conv", "conv",
                           "split", "conv", "parts", "relu"]


def test_a_default_may_compute_from_the_shape_and_earlier_arguments() -> None:
    text = """
input: 8x8x64
blocks:
  squeeze:
    args: {ratio: 4, width: $(make_divisible(channels // ratio, 8)), out: $channels}
    mul: [[], [gap, conv1-$width, relu, conv1-$out, sigmoid]]
layers:
  - squeeze
  - squeeze: {ratio: 2}
  - squeeze: {width: 3}
"""
    widths = [row.output_shape.channels for row in report(text).rows
              if row.name.endswith(".b2.conv1")]
    assert widths == [16, 32, 3]
    assert codes(text.replace("ratio: 4, width", "width").replace("), out", "), ratio: 4, out")
                 ) == [(5, 19, "undefined-argument")]  # ratio is declared after its use


def test_a_model_that_read_only_channels_keeps_its_layers_for_other_sizes() -> None:
    from convcalc.model import with_input
    from convcalc.shape import Shape

    text = """
input: 16x16x24
blocks:
  squeeze:
    mul: [[], [gap, conv1-$(channels // 4), relu, conv1-$channels, sigmoid]]
  head: [fc-$(channels // 2)]
layers: [squeeze, LAST]
"""
    model = load(text.replace("LAST", "conv1-8")).model
    assert model is not None and model.rebuild is not None
    assert with_input(model, Shape((40, 40), 24)).layers is model.layers
    wider = with_input(model, Shape((40, 40), 32))  # other channels: built again
    assert [row.output_shape.channels for row in analyze(wider).rows
            if row.name == "squeeze1.mul1.b2.conv1"] == [8]
    # a block reading a flat vector's channels (its size) is built again for other sizes
    flat = load(text.replace("LAST", "flatten, head")).model
    assert flat is not None
    assert analyze(with_input(flat, Shape((8, 8), 24))).totals.output_shape.channels == \
        8 * 8 * 24 // 2


def test_an_input_the_blocks_cannot_take_is_reported_with_exit_2(cli: Any,
                                                                  tmp_path: Path) -> None:
    spec = tmp_path / "squeeze.yaml"
    spec.write_text(SQUEEZE)
    run = cli("summarize", str(spec), "--input", "24x40")  # 1-D: no height to read
    assert run.code == 2
    assert f"{spec}:12:5: error [wrong-rank] block 'pool-all' reads height, width" in run.err


def test_a_default_may_not_read_an_argument_declared_after_it() -> None:
    text = "input: 4x4x8\nblocks:\n  b:\n    args: {w: $channels, channels: 2}\n" \
           "    layers: [conv1-$w]\nlayers: [b]\n"
    assert codes(text) == [(4, 15, "undefined-argument")]


# --- fuzzing the new constructs together -------------------------------------------------------

WORDS = ["split", "parts", "if", "layers", "add", "concat", "mul", "repeat", "relu", "bn",
         "conv1-$c", "conv1-$(channels // 2)", "conv3-$(max(c, 2), )", "$(channels > 4)",
         "$(c // 0)", "$(height)", "$c", "$(c)", "$(true)", "layernorm", "drop-path",
         "layer-scale", "b", "[]", "channels", "$(make_divisible(c, 0))", "$(c * 0.5)"]
LEAVES = st.one_of(st.sampled_from(WORDS), st.integers(-2, 9), st.booleans(), st.none())
BODIES = st.recursive(LEAVES, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(WORDS), inner, max_size=3)),
    max_leaves=25)


@settings(max_examples=int(os.environ.get("CONVCALC_FUZZ_EXAMPLES", "150")), deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(BODIES, st.sampled_from(["8x8x8", "12x6", "16", "4x4x4x4"]))
def test_any_mix_of_the_new_constructs_loads_or_gives_problems(body: object,
                                                               shape: str) -> None:
    from convcalc.export import to_pytorch
    from convcalc.render.summary import draw

    text = f"input: {shape}\n" + yaml.safe_dump({
        "blocks": {"b": {"args": {"c": 4}, "layers": body if isinstance(body, list) else [body]}},
        "layers": ["b", {"b": {"c": 6}}, {"split": [[], ["b"]]}, {"layers": ["b"], "if": True}]})
    loaded = load(text)
    assert loaded.model is not None or loaded.problems
    if loaded.model is not None:
        result = analyze(loaded.model, known=loaded.problems)
        draw(result)
        if not any(p.level == "error" for p in result.problems):
            to_pytorch(loaded.model, result)
