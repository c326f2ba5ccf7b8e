"""``convcalc verify``: convcalc's and torch's shapes and parameters, layer by layer."""

from __future__ import annotations

from convcalc.render.grid import table
from convcalc.verify import Comparison

HEADERS = ("layer", "convcalc shape", "torch shape", "convcalc params", "torch params",
           "convcalc buffers", "torch buffers", "")
RIGHT = (False, True, True, True, True, True, True, False)


def draw(comparisons: list[Comparison], torch_version: str, device: str) -> str:
    rows = [[c.name, "x".join(map(str, c.our_shape)), "x".join(map(str, c.torch_shape)),
             f"{c.our_params:,}", f"{c.torch_params:,}", f"{c.our_buffers:,}",
             f"{c.torch_buffers:,}", "ok" if c.agrees else "DIFFERENT"]
            for c in comparisons]
    different = sum(not c.agrees for c in comparisons)
    return "\n".join([*table(HEADERS, rows, RIGHT), f"{len(comparisons)} compared with torch "
                      f"{torch_version} on {device}: {different} difference(s)"]) + "\n"
