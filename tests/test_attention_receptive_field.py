"""Receptive fields through tokens and attention (README, Conventions): global attention
covers the whole input; a window of w grows the field like a convolution of kernel w, a
shifted window like one of w + 1; grid attention like a kernel of its size dilated by its
spacing. Token layers rearrange positions and keep each one's field."""

from __future__ import annotations

from itertools import pairwise

from convcalc.analysis import analyze
from convcalc.language import load_file, load_text, resolve
from convcalc.report import Report, Row, covers_input


def spec(text: str) -> Report:
    loaded = load_text(text, "rf.yaml")
    assert loaded.model is not None, loaded.problems
    return analyze(loaded.model)


def sizes(row: Row) -> list[int | object]:
    return [field.size for field in row.receptive_field]


def true_windows_field(size: int, window: int, shifts: list[int]) -> int:
    """The widest field of one output after windows (shifted by each of ``shifts`` in turn)
    on a 1-D grid, by brute force: each output sees the union of its window's fields.
    Swin's cyclic shift with its mask is a partition cut at shift, shift + w, …"""
    fields = [(i, i) for i in range(size)]
    for shift in shifts:
        cuts = sorted({0, size, *range(shift, size, window)})
        new = list(fields)
        for start, end in pairwise(cuts):
            low = min(fields[m][0] for m in range(start, end))
            high = max(fields[m][1] for m in range(start, end))
            new[start:end] = [(low, high)] * (end - start)
        fields = new
    middle = fields[2 * window:size - 2 * window]
    return max(high - low + 1 for low, high in middle)


def test_global_attention_covers_the_whole_input() -> None:
    path = resolve("vit-b-16")
    assert path is not None
    loaded = load_file(path)
    assert loaded.model is not None
    report = analyze(loaded.model)
    rows = [row for row in report.rows if not row.rows_below]
    first = next(index for index, row in enumerate(rows) if row.kind == "attention")
    before = rows[1:first]  # the patch embedding, tokens, class token, positions, norm
    assert {row.kind for row in before} >= {"conv", "tokens", "class-token",
                                            "position-embedding"}
    assert all(sizes(row) == [16, 16] for row in before)
    assert all(covers_input(row, report.input_shape) for row in rows[first:])


def test_a_window_then_a_shifted_window_see_two_windows() -> None:
    report = spec("input: 56x56x8\nlayers:\n"
                  "  - window-attention: {heads: 2, window: 7}\n"
                  "  - window-attention: {heads: 2, window: 7, shift: 3}\n")
    first, second = (row for row in report.rows if row.kind == "window-attention")
    assert sizes(first) == [7, 7] == [true_windows_field(56, 7, [0])] * 2
    assert sizes(second) == [14, 14] == [true_windows_field(56, 7, [0, 3])] * 2


def test_the_definition_falls_one_step_short_per_later_unshifted_window() -> None:
    """As the README says: stacked alternately, each window after the first pair truly adds
    w, and the definition adds w − 1 for an unshifted one."""
    assert true_windows_field(112, 7, [0, 3, 0, 3]) == 28
    report = spec("input: 112x112x8\nlayers:\n" + "".join(
        f"  - window-attention: {{heads: 2, window: 7, shift: {shift}}}\n"
        for shift in (0, 3, 0, 3)))
    assert sizes(report.rows[-1]) == [27, 27]


def test_a_window_after_a_patch_embedding_counts_in_pixels() -> None:
    path = resolve("swin-t")
    assert path is not None
    loaded = load_file(path)
    assert loaded.model is not None
    rows = [row for row in analyze(loaded.model).rows if row.kind == "window-attention"]
    assert sizes(rows[0]) == [4 + 6 * 4] * 2  # 4x4 patches, 7 of them
    assert sizes(rows[1]) == [4 + 13 * 4] * 2  # and the shifted window: 14 patches


def test_grid_attention_is_a_dilated_window() -> None:
    report = spec("input: 56x56x64\nlayers:\n"
                  "  - block-attention: {heads: 2, size: 7}\n"
                  "  - grid-attention: {heads: 2, size: 7}\n")
    block, grid = (row for row in report.rows if row.kind.endswith("-attention"))
    assert sizes(block) == [7, 7]
    assert sizes(grid) == [7 + 6 * 8] * 2  # 7 tokens, 56 / 7 = 8 apart
