"""Large and repetitive specs: bounded memory, shared work, and the same answers as before.

The timings are in benchmarks/bench.py; these tests hold what makes them possible (rows
made one at a time, copies of a block worked out once) to giving the answers a plain walk
gives.
"""

from __future__ import annotations

import itertools
import json
import os
import tracemalloc
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convcalc.analysis import Analysis, Memo, analyze
from convcalc.arith import Status
from convcalc.counting import MACS, count
from convcalc.design import Change, check_size, compare, size_checks, sweep
from convcalc.language import bundled, load_file, load_text, yamltree
from convcalc.memory import inference_peak, memory
from convcalc.model import Group, Merge, Model, with_input
from convcalc.render.json_ import row_json, summary, summary_chunks
from convcalc.render.tabular import csv_chunks, to_csv
from convcalc.report import Report, Row, covers_input
from convcalc.shape import Shape
from scripts.check_sizes import DEFAULT, fingerprint, sized_models


def model_of(text: str) -> Model:
    loaded = load_text(text, "spec.yaml")
    assert loaded.model is not None, loaded.problems
    return loaded.model


CLEAN = list(sized_models())  # the bundled specs `sizes` takes


# --- YAML: the alias bound is the aliases' own ------------------------------------------------


def test_a_plain_document_larger_than_the_alias_bound_is_read(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yamltree, "MAX_ALIASED", 100)
    items = ", ".join(["conv1-8"] * 500)
    root, _ = yamltree.parse(f"layers: [{items}]\n")  # 502 values, no alias
    assert isinstance(root, yamltree.Map)


def test_aliases_past_their_bound_are_refused_as_aliases(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yamltree, "MAX_ALIASED", 100)
    text = "a: &a [1, 2, 3, 4, 5, 6, 7, 8, 9]\nb: [" + ", ".join(["*a"] * 11) + "]\n"
    with pytest.raises(yamltree.YamlError) as refused:
        yamltree.parse(text)
    assert refused.value.code == "too-large"
    assert refused.value.message.startswith("aliases expand to more than 100 values")
    assert (refused.value.line, refused.value.col) == (2, 5 + 4 * 10)  # the eleventh *a


def test_repeated_words_are_one_text() -> None:
    root, _ = yamltree.parse("layers: [relu, relu, {conv: {k: 3}}, {conv: {k: 3}}]\n")
    assert isinstance(root, yamltree.Map)
    items = root.entries[0][1]
    assert isinstance(items, yamltree.Seq)
    first, second, third, fourth = items.items
    assert isinstance(first, yamltree.Scalar) and isinstance(second, yamltree.Scalar)
    assert first.value is second.value and (first.col, second.col) == (10, 16)
    assert isinstance(third, yamltree.Map) and isinstance(fourth, yamltree.Map)
    assert third.entries[0][0].value is fourth.entries[0][0].value == "conv"


# --- the copies of a block share their work, and it changes no answer -----------------------

AMPLIFIED = """\
input: 16x16x8
blocks:
  b: [conv1-8, conv1-8, conv1-8, conv1-8, conv1-8]
  c: [b, b, b, b, b]
layers:
  - {c: null, repeat: 40}
"""


def test_the_copies_of_a_block_are_walked_once(monkeypatch: pytest.MonkeyPatch) -> None:
    walked: list[str] = []
    original = Analysis.group

    def counted(self: Analysis, node: Group, x: Shape, field: Any) -> Any:
        walked.append(node.name)
        return original(self, node, x, field)

    monkeypatch.setattr(Analysis, "group", counted)
    analysis = Analysis(model_of(AMPLIFIED))
    assert walked == ["c1", "c1.b1"]  # c's first copy and, in it, b's first
    assert analysis.totals.params == 40 * 25 * (8 * 8 + 8)
    rows = list(analysis.rows())
    assert len(rows) == 1 + 40 * (1 + 5 * (1 + 5))  # every copy has its rows all the same
    assert rows[-1].name == "c40.b5.conv5"


def unshared(model: Model, strict: bool = False) -> Report:
    """The report of a walk that shares nothing between copies: each block and merge is a
    structure of its own."""
    numbers = itertools.count()
    own: dict[int, int] = {}

    def key(_: Memo, node: Group | Merge) -> int:
        return own.setdefault(id(node), next(numbers))

    with mock.patch.object(Memo, "key", key):
        return analyze(model, strict=strict)


def test_a_walk_that_shares_nothing_gives_the_same_report() -> None:
    for name in ("resnet152", "inception-v3", "densenet121", "efficientnet-b0",
                 "shufflenet-v2-x1_0", "convnext-tiny"):
        model = load_file(bundled()[name]).model
        assert model is not None
        assert analyze(model) == unshared(model), name


UNITS = """\
input: {size}x{size}x4
blocks:
  unit:
    args: {{k: 3, s: 1}}
    layers: [conv$k-4-s$s, bn, relu]
  waived:
    layers: [{{conv3-4-s2: {{allow: lossy, reason: ok}}}}]
  fork:
    args: {{k: 1}}
    add: [[conv$k-4-p$((k - 1) // 2)], [conv3-4-p1], []]
  up:
    layers: [upsample2, conv3-4-p1, maxpool2]
  head:
    layers: [global-avgpool, flatten, fc-4]
layers:
"""
ITEMS = st.one_of(
    st.builds(lambda k, s, n: f"  - {{unit: {{k: {k}, s: {s}}}, repeat: {n}}}\n",
              st.sampled_from([1, 2, 3]), st.sampled_from([1, 2]), st.integers(1, 4)),
    st.builds(lambda n: f"  - {{waived: null, repeat: {n}}}\n", st.integers(1, 3)),
    st.builds(lambda k, n: f"  - {{fork: {{k: {k}}}, repeat: {n}}}\n",
              st.sampled_from([1, 3, 5]), st.integers(1, 3)),
    st.builds(lambda n: f"  - {{up: null, repeat: {n}}}\n", st.integers(1, 2)),
    st.just("  - head\n"))


@settings(max_examples=int(os.environ.get("CONVCALC_FUZZ_EXAMPLES", "150")), deadline=None)
@given(st.integers(1, 40), st.lists(ITEMS, min_size=1, max_size=6), st.booleans())
def test_sharing_between_copies_changes_no_answer(size: int, items: list[str],
                                                   strict: bool) -> None:
    """Lossy and waived sizes, misaligned and global fields, fractional fields, walks that
    stop: the copies that share their work give what walking each gives."""
    loaded = load_text(UNITS.format(size=size) + "".join(items), "units.yaml")
    if loaded.model is None:
        return
    assert analyze(loaded.model, strict=strict) == unshared(loaded.model, strict)


GROWING = """\
input: 4x4x4
blocks:
  far:
    layers: [{{conv: {{filters: 4, k: 1, stride: {stride}}}}}, relu]
layers:
  - {{far: null, repeat: 5}}
"""


def test_a_field_too_large_in_a_later_copy_stops_where_a_plain_walk_stops() -> None:
    """Each copy of `far` multiplies the field's jump by 10^300: the first three copies stay
    below 10^1000 and share their work; the fourth is walked, and stops at its layer."""
    model = model_of(GROWING.format(stride=10**300))
    report = analyze(model)
    assert report.stopped is not None
    assert (report.stopped.code, report.stopped.message.split(":")[0]) == \
        ("too-large", "far4.conv1")
    assert [row.name for row in report.rows][-3:] == ["far3", "far3.conv1", "far3.relu1"]
    assert report == unshared(model)
    assert list(Analysis(model).outputs()) == list(report.outputs())


def test_a_field_below_the_bound_is_shared() -> None:
    model = model_of(GROWING.format(stride=10**100))
    report = analyze(model)
    assert report.stopped is None and report == unshared(model)


def test_each_copy_of_a_block_warns() -> None:
    model = model_of("""\
input: 4x4x4
blocks:
  odd:
    layers: [{opaque: {op: Einsum, output: 4x4x4}}, relu]
layers:
  - {odd: null, repeat: 3}
""")
    report = analyze(model)
    warned = [p.message.split(":")[0] for p in report.problems if p.code == "opaque-layer"]
    assert warned == ["odd1.opaque1", "odd2.opaque1", "odd3.opaque1"]
    assert report == unshared(model)


def test_the_rules_of_a_spec_size_its_layers_in_both_walks() -> None:
    """Caffe rounds a pooling's size up: the shared walk and the plain one agree."""
    text = """\
input: 9x9x4
rules: caffe
blocks:
  down:
    layers: [maxpool2, conv3-4-p1]
layers:
  - {down: null, repeat: 2}
"""
    model = model_of(text)
    report = analyze(model)
    assert [row.output_shape.spatial for row in report.rows if row.kind == "maxpool"] == \
        [(5, 5), (3, 3)]
    assert report == unshared(model)

# --- rows written as they come ----------------------------------------------------------------


def test_streamed_json_is_the_document_of_the_whole_report() -> None:
    for name in ("resnet50", "inception-v3", "mobilenet-v3-small", "lenet5"):
        model = load_file(bundled()[name]).model
        assert model is not None
        report = analyze(model)
        counted = count(report, MACS)
        document = json.loads(summary(report, memory(model, report), counted))
        layers = document["layers"]
        assert len(layers) == len(report.rows)
        for row, layer, ops in zip(report.rows, layers, counted.per_row, strict=True):
            assert layer == {**row_json(row, report.settings),
                             "covers_input": covers_input(row, model.input), "ops": ops}
        analysis = Analysis(model, tallies=(MACS.own,))
        streamed = "".join(summary_chunks(
            analysis, ((row, ops) for row, (ops,) in analysis.tallied_rows()),
            memory(model, analysis), (MACS, analysis.tallied[0])))
        assert json.loads(streamed) == document
        lines = [line for line in streamed.splitlines() if line.startswith('    {"name": ')]
        assert len(lines) == len(report.rows)  # each layer on a line of its own


def test_csv_in_pieces_is_the_whole_csv() -> None:
    model = load_file(bundled()["resnet50"]).model
    assert model is not None
    report = analyze(model)
    for depth in (None, 1):
        assert "".join(csv_chunks(report, iter(report.rows), depth, lines=7)) == \
            to_csv(report, depth)


def streamed_peak(layers: int) -> int:
    """The most memory that writing a summary's JSON takes, beyond the analysis's own."""
    model = model_of("input: 16x16x8\nlayers:\n" +
                     "".join(f"  - conv: {{filters: {8 * (1 + n % 3)}, k: 1}}\n"
                             for n in range(layers)))
    analysis = Analysis(model, tallies=(MACS.own,))
    tracemalloc.start()
    written = 0
    for chunk in summary_chunks(analysis, ((row, ops) for row, (ops,) in
                                           analysis.tallied_rows())):
        written += len(chunk)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert written > 300 * layers
    return peak


def test_writing_a_summary_keeps_no_rows() -> None:
    small, large = streamed_peak(1_000), streamed_peak(10_000)
    assert large < 2 * small  # ten times the rows, not ten times the memory


def test_the_peak_needs_no_rows() -> None:
    model = load_file(bundled()["inception-v3"]).model
    assert model is not None
    assert inference_peak(model, Analysis(model)) == inference_peak(model, analyze(model))


# --- sizes, sweep and compare --------------------------------------------------------------

SAMPLE = sorted({32, 33, 224, 225, 1024, *range(35, 1024, 41)})


@pytest.mark.parametrize("name", CLEAN)
def test_sizes_answer_as_a_whole_analysis_per_size(name: str) -> None:
    """Every bundled spec, at a sample of the default range (scripts/check_sizes.py checks
    every size of it)."""
    model = load_file(bundled()[name]).model
    assert model is not None
    assert size_checks(model, SAMPLE) == [check_size(model, size) for size in SAMPLE]


@pytest.mark.parametrize("name", ["resnet50", "vgg16"])
def test_sizes_answer_as_a_whole_analysis_over_the_default_range(name: str) -> None:
    model = load_file(bundled()[name]).model
    assert model is not None
    sizes = range(32, 1025)
    assert size_checks(model, sizes) == [check_size(model, size) for size in sizes]


SIZES_BASELINE = json.loads((Path(__file__).parent / "data" / "sizes-baseline.json").read_text())


def test_sizes_baseline_covers_every_spec_sizes_takes() -> None:
    assert sorted(SIZES_BASELINE) == sorted(sized_models())


@pytest.mark.parametrize("name", sorted(SIZES_BASELINE))
def test_sizes_of_every_spec_over_the_default_range_are_a_whole_analysis_per_size(
        name: str) -> None:
    """Every bundled spec at every size of the default range answers as a whole analysis per
    size did when scripts/check_sizes.py recorded it (after checking at every size that
    `sizes` and a whole analysis agree; eight minutes, too long for the suite). When a spec
    or the analysis changes on purpose, run ``python scripts/check_sizes.py --write``."""
    model = load_file(bundled()[name]).model
    assert model is not None
    assert fingerprint(size_checks(model, DEFAULT)) == SIZES_BASELINE[name], \
        f"run `python scripts/check_sizes.py {name}` to see the sizes that differ"


def test_sizes_take_the_copies_of_a_block_once_per_input(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The amplified spec's 1,000 copies are one run: the layers are applied per input."""
    from convcalc.layers.conv import Conv

    applied: list[Shape] = []
    original = Conv.apply

    def counted(self: Conv, x: Shape) -> Any:
        applied.append(x)
        return original(self, x)

    model = model_of(AMPLIFIED.replace("repeat: 40", "repeat: 1000"))
    monkeypatch.setattr(Conv, "apply", counted)
    checks = size_checks(model, range(8, 40))
    assert len(applied) == len(range(8, 40))  # one convolution, one apply per size
    assert all(check.exact and check.safe and check.strided for check in checks)


def test_sweep_gives_each_size_its_totals() -> None:
    for name in ("vgg16", "resnet50"):
        model = load_file(bundled()[name]).model
        assert model is not None
        for point in sweep(model, [112, 224, 448]):
            whole = analyze(with_input(model, Shape((point.size,) * 2, 3)))
            assert point.report.totals == whole.totals
            layers = [row for row in whole.rows if not row.rows_below]
            assert point.dense_macs == sum(row.macs for row in layers if row.kind == "fc")
            assert point.conv_macs == whole.totals.macs - point.dense_macs
            assert point.dense_inputs == tuple(row.input_shape.size for row in layers
                                               if row.kind == "fc")


def rows(*named: tuple[str, int]) -> list[Row]:
    shape = Shape((4, 4), 1)
    return [Row(name, "conv", 0, shape, shape, params, 0, 0, 0, 0, Status.EXACT, (), (), ())
            for name, params in named]


def test_compare_matches_by_name_the_last_of_a_name_counting() -> None:
    first = rows(("a", 1), ("b", 2), ("a", 3), ("c", 4))
    second = rows(("b", 2), ("d", 5), ("a", 9), ("a", 3), ("d", 6))
    assert [(c.name, c.status, c.before.params if c.before else None,
             c.after.params if c.after else None) for c in compare(first, iter(second))] == \
        [("c", "removed", 4, None), ("d", "added", None, 6)]
    changed = compare(first, iter(rows(("a", 3), ("b", 7), ("c", 4))))
    assert changed == [Change("b", "changed", first[1], rows(("b", 7))[0])]
