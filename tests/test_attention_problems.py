"""Bad input to the token and attention kinds: one line at the value or layer to blame, with
a stable code, and never a traceback."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from convcalc.analysis import analyze
from convcalc.language import load_text

Cli = Any
CASES = {
    "heads that do not divide the width": (
        "input: 50x100\nlayers:\n  - attention: {heads: 3}\n",
        "3:24", "bad-heads", "3 heads do not divide the width of 100 channels"),
    "a partition larger than the grid": (
        "input: 4x4x64\nlayers:\n  - block-attention: {heads: 2, size: 7}\n",
        "3:39", "invalid-size", "the partition of 7x7 is larger than the 4x4 grid"),
    "a grid the partition does not divide": (
        "input: 15x15x64\nlayers:\n  - grid-attention: {heads: 2, size: 7}\n",
        "3:38", "invalid-size", "torchvision's MaxVit refuses such an input"),
    "a class token on a spatial map": (
        "input: 14x14x768\nlayers:\n  - class-token\n",
        "3:5", "wrong-rank", "a class token needs a token sequence (L x C), got the spatial "
        "map 14x14x768; add `tokens` first"),
    "a position embedding of another length": (
        "input: 14x14x768\nlayers:\n  - tokens\n  - class-token\n"
        "  - position-embedding: {length: 196}\n",
        "5:34", "token-mismatch", "the position embedding has 196 positions but the input "
        "has 197"),
    "a grid that does not hold the tokens": (
        "input: 197x768\nlayers:\n  - grid\n",
        "3:5", "token-mismatch", "197 tokens are not a square grid"),
    "a shift as large as the window": (
        "input: 14x14x96\nlayers:\n  - window-attention: {heads: 3, window: 7, shift: 7}\n",
        "3:52", "invalid-size", "the shift 7 is not smaller than the window 7"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_one_line_at_its_position(case: str, cli: Cli, tmp_path: Path) -> None:
    text, position, code, message = CASES[case]
    spec = tmp_path / "bad.yaml"
    spec.write_text(text)
    run = cli("check", str(spec))
    assert run.code == 1
    lines = [line for line in (run.out + run.err).splitlines() if ": error [" in line]
    assert len(lines) == 1 and "Traceback" not in run.out + run.err
    assert re.fullmatch(rf".*bad\.yaml:{position}: error \[{code}\] .*", lines[0]), lines
    assert message in lines[0]


def test_a_window_larger_than_the_grid_is_padded_as_torchvision_does() -> None:
    """Swin pads the grid to one window (torch takes it): a harmless size, an error only
    under --strict, and the note says what torchvision does."""
    loaded = load_text("input: 4x4x96\nlayers:\n  - window-attention: {heads: 3, shift: 3}\n",
                       "swin.yaml")
    assert loaded.model is not None
    report = analyze(loaded.model)
    assert report.problems == ()
    row = report.rows[-1]
    assert row.size_status.value == "harmless"
    assert any("pads the grid at the end to 7 x 7" in note for note in row.notes)
    assert any("does not shift" in note for note in row.notes)
    strict = analyze(loaded.model, strict=True)
    assert [(p.code, p.line) for p in strict.problems] == [("non-integer-size", 3)]


def test_take_token_takes_an_explicit_index_of_zero() -> None:
    """Tokens count from 0 and 0 is the default, so writing it must be accepted too."""
    for layer in ("take-token: {index: 0}", "take-token0"):
        loaded = load_text(f"input: 197x768\nlayers:\n  - {layer}\n", "vit.yaml")
        assert loaded.problems == () and loaded.model is not None, loaded.problems
        assert str(analyze(loaded.model).rows[-1].output_shape) == "768"
    negative = load_text("input: 197x768\nlayers:\n  - take-token: {index: -1}\n", "vit.yaml")
    assert [p.code for p in negative.problems] == ["wrong-type"]
    assert "at least 0" in negative.problems[0].message


def test_a_grid_that_is_not_square_suggests_no_size_of_another_length() -> None:
    loaded = load_text("input: 15x8\nlayers:\n  - grid\n", "grid.yaml")
    assert loaded.model is not None
    [problem] = analyze(loaded.model).problems
    assert problem.code == "token-mismatch"
    sizes = re.findall(r"(\d+)x(\d+)", problem.message.split("(input")[0])
    assert all(int(h) * int(w) == 15 for h, w in sizes), problem.message
