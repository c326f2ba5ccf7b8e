"""The per-axis window arithmetic, with expected values written as the formula."""

from __future__ import annotations

from fractions import Fraction

import pytest

from convcalc.arith import Status, Window, format_fraction, resolve_pad, span


def test_exact_division() -> None:
    w = Window(32, 5, 1, (2, 2))
    assert w.output == (32 + 2 * 2 - 5) // 1 + 1 == 32
    assert w.status is Status.EXACT
    assert w.fixes() == ()


def test_lossy_division_keeps_the_exact_value() -> None:
    w = Window(32, 5, 2)
    assert w.exact == Fraction(32 - 5, 2) + 1 == Fraction(29, 2)
    assert w.output == 14
    assert w.lost == 1  # the 32nd column is never seen
    assert w.status is Status.LOSSY


def test_harmless_division_drops_only_padding() -> None:
    w = Window(224, 7, 2, (3, 3))  # ResNet's stem: 112.5
    assert w.exact == Fraction(224 + 6 - 7, 2) + 1
    assert (w.output, w.lost, w.status) == (112, 0, Status.HARMLESS)


def test_alexnet_224_is_lossy() -> None:
    w = Window(224, 11, 4)
    assert w.exact == Fraction(224 - 11, 4) + 1 == Fraction(5425, 100)
    assert w.status is Status.LOSSY


def test_seven_by_three() -> None:
    assert [Window(7, 3, s).exact for s in (1, 2, 3)] == [5, 3, Fraction(7 - 3, 3) + 1]
    assert Window(7, 3, 3).status is Status.LOSSY


def test_kernel_larger_than_input_is_invalid() -> None:
    assert Window(3, 5, 1).status is Status.INVALID


@pytest.mark.parametrize(("size", "kernel", "stride", "pad", "dilation", "expected"), [
    (5, 2, 2, (1, 1), 1, 3),  # not 4: the last window would start in the padding
    (3, 2, 5, (0, 0), 3, 1),  # dilated kernel 4 > input 3, allowed: it starts inside
    (6, 3, 2, (0, 0), 1, 3),  # ceil((6 - 3)/2) + 1 = 3
    (4, 2, 2, (0, 0), 1, 2),  # exact: ceil equals floor
])
def test_ceil_mode(size: int, kernel: int, stride: int, pad: tuple[int, int], dilation: int,
                   expected: int) -> None:
    assert Window(size, kernel, stride, pad, dilation, ceil=True).output == expected


def test_same_padding_is_tensorflows() -> None:
    assert resolve_pad("same", 224, 7, 2) == (2, 3)  # total 5: the extra one after
    assert resolve_pad("same", 28, 3, 1) == (1, 1)
    assert resolve_pad("same", 5, 1, 2) == (0, 0)
    assert resolve_pad("valid", 28, 3, 1) == (0, 0)
    assert resolve_pad("full", 28, span(3, 2), 1) == (4, 4)


def test_fixes_make_the_axis_exact() -> None:
    w = Window(32, 5, 2)
    fixes = w.fixes()
    assert {f.param for f in fixes} == {"pad", "stride", "kernel", "input"}
    for fix in fixes:
        if fix.param == "pad":
            left, right = fix.value.split(",")
            changed = Window(32, 5, 2, (int(left), int(right)))
        else:
            value = int(fix.value)
            changed = {"stride": Window(32, 5, value), "kernel": Window(32, value, 2),
                       "input": Window(value, 5, 2)}[fix.param]
        assert changed.status is Status.EXACT, fix
        assert changed.output == fix.output


def test_format_fraction() -> None:
    assert format_fraction(Fraction(29, 2)) == "14.5"
    assert format_fraction(Fraction(217, 4)) == "54.25"
    assert format_fraction(Fraction(7, 3)) == "2.33…"
    assert format_fraction(Fraction(-1, 2)) == "-0.5"
    assert format_fraction(Fraction(12)) == "12"
