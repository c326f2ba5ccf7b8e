"""Shared by the rule-set oracle tests: drawn layers, and convcalc's answer under a rule set."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from convcalc.layers.base import Layer
from convcalc.problem import LayerError
from convcalc.rules import rules_named
from convcalc.shape import Shape

EXAMPLES = settings(max_examples=int(os.environ.get("CONVCALC_FUZZ_EXAMPLES", "150")),
                    deadline=None, suppress_health_check=[HealthCheck.too_slow])


@dataclass(frozen=True)
class Axes:
    """Per spatial axis: input size, kernel, stride, dilation, pads before and after."""

    sizes: tuple[int, ...]
    k: tuple[int, ...]
    stride: tuple[int, ...]
    dilation: tuple[int, ...]
    pads: tuple[tuple[int, int], ...]


@st.composite
def axes(draw: st.DrawFn, ndim: int | None = None, max_kernel: int = 5,
         symmetric: bool = False) -> Axes:
    n = draw(st.integers(1, 2)) if ndim is None else ndim

    def per(strategy: st.SearchStrategy[int]) -> tuple[int, ...]:
        return tuple(draw(strategy) for _ in range(n))

    before = per(st.integers(0, 4))
    after = before if symmetric else per(st.integers(0, 4))
    return Axes(per(st.integers(1, 14)), per(st.integers(1, max_kernel)), per(st.integers(1, 4)),
                per(st.integers(1, 3)), tuple(zip(before, after, strict=True)))


def ours(rules: str, layer: Layer, shape: Shape) -> tuple[int, ...] | None:
    """convcalc's spatial output under ``rules`` (refusals checked), None if it has none."""
    try:
        return rules_named(rules).adapt(layer, shape).apply(shape).output.spatial
    except LayerError:
        return None


def agree(mine: tuple[int, ...] | None, theirs: tuple[int, ...] | None, what: Any) -> None:
    assert mine == theirs, f"convcalc {mine}, framework {theirs}: {what}"
