"""The constructs that make one block say what torchvision's code says: zero repeats,
conditions, the input's shape inside a block, channel splits."""

from __future__ import annotations

from convcalc.analysis import analyze
from convcalc.language import Loaded, load_text
from convcalc.report import Report


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
