"""A stand-in for an op convcalc cannot express: its declared output shape, nothing counted.

``convcalc import --allow-opaque`` writes one for each such op of an imported model, so the
rest of the network can still be analysed. Its params, buffers and MACs are zero whatever
the real op costs, so every report that includes one carries a warning saying so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from convcalc.layers.base import Effect, Formula, activation_formula
from convcalc.shape import Shape


@dataclass(frozen=True)
class Opaque:
    """An op of another framework, kept only for its output shape: counts are not known."""

    count_field: ClassVar[str | None] = None
    kernel_field: ClassVar[str | None] = None

    op: str  # what the op is in its framework, e.g. Einsum
    output: Shape  # the shape the framework says the op gives

    def apply(self, x: Shape) -> Effect:
        return Effect(self.output, warnings=(("opaque-layer", f"an opaque {self.op}: its "
                                              f"output {self.output} is as declared, and its "
                                              "params, buffers and MACs are counted as 0, "
                                              "whatever it really costs"),))

    def explain(self, x: Shape) -> tuple[Formula, ...]:
        return (Formula("output", f"declared: {self.output} (an opaque {self.op}; not computed)"),
                Formula("params", "not known: counted as 0"), activation_formula(self.output))
