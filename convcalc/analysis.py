"""From layers (and later whole models) to report rows: numbers only, no drawing."""

from __future__ import annotations

from convcalc.layers import NAME_OF
from convcalc.layers.base import Effect, Layer, axis_names
from convcalc.report import AxisSize, LayerReport, ReceptiveStep, Row, Settings
from convcalc.shape import Shape


def row_of(layer: Layer, x: Shape, effect: Effect, name: str, depth: int = 0, line: int = 0,
           col: int = 0) -> Row:
    """The report row of one applied layer."""
    axes = axis_names(len(x.spatial))
    sizes = tuple(AxisSize(axis, w.exact, w.output, w.status, w.lost, w.pad, w.ceil,
                           w.fixes())
                  for axis, w in zip(axes, effect.windows, strict=False))
    steps = tuple(ReceptiveStep(axis, s.kernel, s.stride, s.pad)
                  for axis, s in zip(axes, effect.rf, strict=False))
    return Row(name=name, kind=NAME_OF[type(layer)], depth=depth, input_shape=x,
               output_shape=effect.output, params=effect.params,
               non_trainable_params=effect.buffers, macs=effect.macs,
               activations=0 if effect.inplace else effect.output.size,
               size_status=effect.status, sizes=sizes, receptive_step=steps, notes=effect.notes,
               line=line, col=col)


def analyze_layer(layer: Layer, x: Shape, settings: Settings | None = None) -> LayerReport:
    """Everything about one layer on one input: numbers, formulas, settings.

    Raises :class:`~convcalc.problem.LayerError` when the layer cannot take ``x``.
    """
    effect = layer.apply(x)
    row = row_of(layer, x, effect, NAME_OF[type(layer)])
    return LayerReport(row, layer.explain(x), settings or Settings())
