"""Repeated blocks cost no repeated work, and sharing it changes no answer."""

from __future__ import annotations

import os
from typing import Any
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import convcalc
from convcalc.analysis import analyze
from convcalc.language import bundled, load_file, load_text
from convcalc.layers.conv import Conv
from convcalc.measure import analyze_layer
from convcalc.model import layer_nodes
from convcalc.problem import ERROR
from convcalc.shape import Shape


def test_equal_layers_of_repeated_blocks_are_one_object() -> None:
    loaded = load_file(bundled()["resnet152"])
    assert loaded.model is not None
    layers = [node.layer for node in layer_nodes(loaded.model.layers)]
    distinct = set(layers)
    assert len(layers) > 10 * len(distinct)  # 36 alike blocks in one stage, and more
    assert len({id(layer) for layer in layers}) == len(distinct)


def test_each_layer_is_measured_once_per_input(monkeypatch: pytest.MonkeyPatch) -> None:
    loaded = load_file(bundled()["resnet152"])
    assert loaded.model is not None
    calls: list[tuple[Conv, Shape]] = []
    original = Conv.apply

    def counted(self: Conv, x: Shape) -> Any:
        calls.append((self, x))
        return original(self, x)

    monkeypatch.setattr(Conv, "apply", counted)
    report = analyze(loaded.model)
    conv_rows = [row for row in report.rows if row.kind == "conv"]
    assert len(calls) == len(set(calls)) < len(conv_rows) // 5
    assert len(conv_rows) == 155  # every copy still has its own row


def test_shared_work_keeps_each_copy_its_own_name_and_field() -> None:
    text = "input: 32x32x8\nlayers:\n  - conv3-8-p1\n  - conv3-8-p1\n"
    report = analyze(convcalc.load_text(text))
    first, second = report.rows[1:]
    assert (first.name, second.name) == ("conv1", "conv2")
    assert first.macs == second.macs == 32 * 32 * 8 * 8 * 9
    assert [rf.size for rf in first.receptive_field] == [3, 3]
    assert [rf.size for rf in second.receptive_field] == [5, 5]


def test_equal_values_of_other_types_are_not_confused() -> None:
    """``true`` and ``1`` are equal in Python: the second layer is still checked."""
    loaded = load_text("input: 8x8x3\nlayers:\n  - conv3-4: {bias: true}\n"
                       "  - conv3-4: {bias: 1}\n", "types.yaml")
    errors = [p for p in loaded.problems if p.level == ERROR]
    assert [(p.line, p.code) for p in errors] == [(4, "wrong-type")]


def test_block_calls_with_other_arguments_are_built_afresh() -> None:
    text = """\
input: 16x16x4
blocks:
  pair:
    args: {width: 8}
    layers: [conv3-$width-p1, conv3-$(width*2)-p1]
layers:
  - pair: {width: 8}
  - pair: {width: 8}
  - pair: {width: 4}
"""
    report = analyze(convcalc.load_text(text))
    outputs = [row.output_shape.channels for row in report.rows if row.kind == "conv"]
    assert outputs == [8, 16, 8, 16, 4, 8]


# --- the shared work gives what fresh work gives, whatever the spec -------------------------

BLOCKS = """\
input: {size}x{size}x3
blocks:
  unit:
    args: {{w: 4, k: 3, s: 1}}
    layers: [conv$k-$w-s$s-p1, bn, relu]
  pair:
    args: {{w: 4}}
    layers: [unit: {{w: $w}}, add: [[unit: {{w: $(w*2), k: 1}}], [conv1-$(w*2)]]]
layers:
"""
VALUES = st.one_of(st.integers(0, 6), st.sampled_from(['"3"', "true", "2.0", "$(1/0)", "x"]))
CALLS = st.one_of(
    st.builds(lambda w, k, s: f"  - unit: {{w: {w}, k: {k}, s: {s}}}\n", VALUES, VALUES, VALUES),
    st.builds(lambda w: f"  - pair: {{w: {w}}}\n", VALUES),
    st.just("  - conv3-4-p1\n"))


def outcome(text: str) -> tuple[object, ...]:
    loaded = load_text(text, "blocks.yaml")
    if loaded.model is None:
        return (loaded.problems,)
    report = analyze(loaded.model, known=loaded.problems)
    return tuple((row.name, row.input_shape, row.output_shape, row.params, row.macs,
                  row.sizes, row.receptive_field) for row in report.rows), report.problems


@settings(max_examples=int(os.environ.get("CONVCALC_FUZZ_EXAMPLES", "300")), deadline=None)
@given(st.integers(1, 12), st.lists(CALLS, min_size=1, max_size=8))
def test_reading_blocks_once_changes_no_answer(size: int, calls: list[str]) -> None:
    text = BLOCKS.format(size=size) + "".join(calls)
    shared = outcome(text)
    with mock.patch("convcalc.language.blocks.memo_key", lambda *_: None), \
            mock.patch("convcalc.language.builder.memo_key", lambda *_: None), \
            mock.patch("convcalc.language.builder.Builder.item_made", lambda *_: None):
        assert outcome(text) == shared


@pytest.mark.parametrize("name", sorted(bundled()))
def test_shared_numbers_equal_a_fresh_measurement(name: str) -> None:
    loaded = load_file(bundled()[name])
    if loaded.model is None:  # a block library
        return
    report = analyze(loaded.model)
    rows = {row.name: row for row in report.rows}
    for node in layer_nodes(loaded.model.layers):
        row = rows[node.name]
        fresh = analyze_layer(node.layer, row.input_shape, report.settings).row  # its rules
        assert (fresh.output_shape, fresh.params, fresh.macs, fresh.sizes) == \
            (row.output_shape, row.params, row.macs, row.sizes)
        assert row.notes[:len(fresh.notes)] == fresh.notes  # a waiver adds its note after
