"""Design questions: solve, sizes, sweep, compare and explain."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from convcalc.arith import Status, Window
from convcalc.design import Bounds, describe, solve

Cli = Any


def test_solve_lists_exact_and_harmless_ways(cli: Cli) -> None:
    run = cli("solve", "--in", "224", "--out", "112", "--k", "7")
    assert run.code == 0
    lines = run.out.splitlines()
    assert any(line.split() == ["7", "2", "2,3", "1", "same", "exact"] for line in lines)
    assert any(line.split() == ["7", "2", "3", "1", "harmless"] for line in lines)


def test_every_solution_really_gives_the_target() -> None:
    for size, target in ((224, 56), (32, 15), (7, 3)):
        found = solve(size, target, "conv", Bounds())
        assert found
        for s in found:
            window = Window(size, s.kernel, s.stride, s.pad, s.dilation)
            assert window.output == target
            assert window.status in (Status.EXACT, Status.HARMLESS)


def test_solve_transposed_and_pooling() -> None:
    transposed = solve(4, 8, "conv-transpose", Bounds(kernels=(3,), strides=(2,)))
    assert [(s.pad, s.output_padding) for s in transposed] == [((1, 1), 1)]
    pooled = solve(5, 3, "pool", Bounds(kernels=(2,), strides=(2,)))
    assert any(s.ceil and s.pad == (1, 1) for s in pooled)


def test_unreachable_target_names_the_nearest_sizes(cli: Cli) -> None:
    run = cli("solve", "--in", "224", "--out", "500", "--k", "3", "--stride", "1:2")
    assert run.code == 1
    assert "no conv within the bounds turns 224 into 500" in run.out
    assert "nearest sizes it can reach are 226" in run.out


def test_describe_finds_rules() -> None:
    assert describe(list(range(32, 1025, 32)), 32, 1024) == "multiples of 32"
    assert describe(list(range(33, 1025, 32)), 32, 1024) == "32k + 1"
    assert describe(list(range(32, 1025)), 32, 1024) == "every size"
    assert describe([], 32, 64) == "none"


def test_sizes_resnet50(cli: Cli) -> None:
    run = cli("sizes", "resnet50")
    assert run.code == 0
    assert "evenly strided (every stride divides): multiples of 32" in run.out
    assert "exact or harmless (no input lost):     every size" in run.out
    assert "recommended: multiples of 32" in run.out
    assert "stem1.conv1: 496 size(s), e.g. 33" in run.out  # where the others break


def test_sweep_vgg16(cli: Cli) -> None:
    run = cli("sweep", "vgg16", "--sizes", "224,448")
    assert run.code == 0
    assert "conv MACs ×4.00" in run.out
    assert "25,088 → 100,352" in run.out and "flattened size" in run.out


def test_compare_the_inception_modules(cli: Cli) -> None:
    run = cli("compare", "inception-naive", "inception-module")
    assert run.code == 0
    assert "854,196,224" in run.out and "271,351,808" in run.out
    assert "28x28x672" in run.out and "28x28x480" in run.out
    assert "+  concat1.b2.conv2" in run.out


def test_compare_two_versions_of_a_file(cli: Cli, tmp_path: Path) -> None:
    old, new = tmp_path / "old.yaml", tmp_path / "new.yaml"
    old.write_text("input: 32x32x3\nlayers: [conv3-16-p1, maxpool, fc-10]\n")
    new.write_text("input: 32x32x3\nlayers: [conv3-32-p1, maxpool, fc-10]\n")
    run = cli("compare", str(old), str(new))
    assert "~  conv1" in run.out and "~  fc1" in run.out and "maxpool1" in run.out


def test_explain_names_the_relationship(cli: Cli) -> None:
    run = cli("explain", "alexnet", "conv1")
    assert run.code == 0
    assert "relationship 5 (no zero padding, non-unit strides)" in run.out
    assert "⌊(227 − 11)/4⌋ + 1 = 55" in run.out
    assert "(11·11·3 + 1)·96 = 34,944" in run.out
    assert cli("explain", "alexnet", "conv9").code == 2


def test_layer_explain_shows_the_transposed_ambiguity(cli: Cli) -> None:
    run = cli("layer", "--kind", "conv-transpose", "--in", "4x4x1", "-f", "1", "--k", "3",
              "-s", "2", "-p", "1", "--output-padding", "1", "--explain")
    assert "relationship 14" in run.out and "2·(4 − 1) + 1 + 3 − 2·1 = 8" in run.out
    assert "output_padding a picks" in run.out
