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
