"""Fully connected layers and flattening."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from convcalc.layers.base import Act, Effect, Formula, activation_formula, num, product
from convcalc.problem import LayerError
from convcalc.shape import Shape


@dataclass(frozen=True)
class Dense:
    """Fully connected layer; a spatial input is flattened first (as in classic CNN heads)."""

    count_field: ClassVar[str | None] = "units"
    kernel_field: ClassVar[str | None] = None

    units: int
    bias: bool = True
    inputs: int | None = None  # the input size the layer declares, checked when given
    act: Act = None

    def apply(self, x: Shape) -> Effect:
        if self.inputs is not None and self.inputs != x.size:
            raise LayerError("dense-input-mismatch", f"the layer declares {num(self.inputs)} "
                             f"inputs but receives {x} = {num(x.size)}", "inputs")
        notes = (f"flattens {x} = {num(x.size)} first",) if x.spatial else ()
        return Effect(Shape((), self.units), params=x.size * self.units + self.units * self.bias,
                      biases=self.units * self.bias,
                      macs=x.size * self.units, notes=notes)

    def explain(self, x: Shape) -> tuple[Formula, ...]:
        effect = self.apply(x)
        params = (f"({num(x.size)} + 1)·{self.units}" if self.bias
                  else f"{num(x.size)}·{self.units}")
        flatten = (Formula("flatten", f"{product(x.dims)} = {num(x.size)}"),) if x.spatial else ()
        return (*flatten, Formula("params", f"{params} = {num(effect.params)}  (weights "
                                  f"{num(x.size * self.units)}"
                                  + (f" + bias {self.units})" if self.bias else ", no bias)")),
                Formula("MACs", f"{num(x.size)}·{self.units} = {num(effect.macs)}"),
                activation_formula(effect.output))


@dataclass(frozen=True)
class Flatten:
    """Reshape to a vector; a view, so it adds no memory."""

    count_field: ClassVar[str | None] = None
    kernel_field: ClassVar[str | None] = None

    def apply(self, x: Shape) -> Effect:
        return Effect(x.flat(), inplace=True)

    def explain(self, x: Shape) -> tuple[Formula, ...]:
        return (Formula("output", f"{product(x.dims)} = {num(x.size)} (a view: no new memory)"),)
