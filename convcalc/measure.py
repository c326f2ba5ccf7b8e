"""One layer on one input: its report row, its receptive field, its formulas.

Everything ``convcalc layer`` needs, and the step that ``analysis`` repeats per layer.
"""

from __future__ import annotations

from fractions import Fraction

from convcalc.layers import NAME_OF
from convcalc.layers.base import Effect, Formula, Layer, axis_names
from convcalc.problem import LayerError, Where
from convcalc.report import DEFAULT_RULES, AxisSize, LayerReport, ReceptiveField, Row, Settings
from convcalc.shape import Shape
from convcalc.units import LIMIT, MAX_DIGITS

# Per spatial axis: (size r, jump j, effective padding P), ints until an upsampling makes
# them fractions; None once the field is global.
Field = tuple[tuple[int | Fraction, int | Fraction, int | Fraction], ...] | None


def start_field(x: Shape) -> Field:
    return tuple((1, 1, 0) for _ in x.spatial)


def advance(field: Field, x: Shape, effect: Effect) -> Field:
    """The receptive field after a layer: r += (k̂ − 1)·j, P += p·j, j ·= s.

    The field stays per axis of the input: a layer that only rearranges positions (tokens
    from a grid, a grid from tokens) keeps it; one that sees everything (global attention),
    a change of rank (flatten) or a window over positions whose axes were merged ends it.
    """
    if field is None or effect.global_field:
        return None
    if effect.keeps_field:
        return field
    if len(effect.output.spatial) != len(x.spatial) or \
            (effect.rf and len(effect.rf) != len(field)):
        return None
    if not effect.rf:
        return field
    return tuple((r + (step.kernel - 1) * j, j * step.stride, pad + step.pad * j)
                 for (r, j, pad), step in zip(field, effect.rf, strict=True))


def bounded(effect: Effect, field: Field) -> None:
    """Refuse a layer whose numbers (sizes, counts, receptive field) reach 10^1000.

    Numbers read are bounded (``units.MAX_DIGITS``), but layers multiply them: a chain of
    upsamplings or strides would grow them past what can be printed or computed at once.
    """
    values = [effect.output.size, effect.params, effect.buffers, effect.macs]
    for axis in field or ():
        for value in axis:
            values += [value.numerator, value.denominator] if isinstance(value, Fraction) \
                else [value]
    if any(abs(value) >= LIMIT for value in values):
        raise LayerError("too-large", f"its sizes, counts or receptive field reach 10^"
                         f"{MAX_DIGITS:,}: convcalc works with numbers of up to {MAX_DIGITS:,} "
                         "digits")


def field_values(field: Field) -> tuple[ReceptiveField, ...]:
    if field is None:
        return ()
    return tuple(ReceptiveField(axis, r, j, pad)
                 for axis, (r, j, pad) in zip(axis_names(len(field)), field, strict=True))


NOWHERE = Where("", 0, 0)  # a layer given on the command line, not in a file


def sizes_of(x: Shape, effect: Effect) -> tuple[AxisSize, ...]:
    """How each spatial axis of ``x`` divided under the layer's windows."""
    return tuple(AxisSize(axis, w.exact, w.output, w.status, w.lost, w.pad, w.ceil,
                          w.fixes(), w.stride)
                 for axis, w in zip(axis_names(len(x.spatial)), effect.windows, strict=False))


def row_of(layer: Layer, x: Shape, effect: Effect, name: str, field: Field, depth: int = 0,
           at: Where = NOWHERE, sizes: tuple[AxisSize, ...] | None = None) -> Row:
    """The report row of one applied layer; ``field`` is the receptive field after it.

    ``sizes`` are ``sizes_of(x, effect)``, when the caller has them already.
    """
    return Row(name=name, kind=NAME_OF[type(layer)], depth=depth, input_shape=x,
               output_shape=effect.output, params=effect.params, biases=effect.biases,
               non_trainable_params=effect.buffers, macs=effect.macs,
               activations=0 if effect.inplace else effect.output.size,
               attention_macs=effect.attention_macs, scores=effect.scores, parts=effect.parts,
               size_status=effect.status,
               sizes=sizes_of(x, effect) if sizes is None else sizes,
               receptive_field=field_values(field), notes=effect.notes, line=at.line,
               col=at.col, act=getattr(layer, "act", None), file=at.path)


def adapted(layer: Layer, x: Shape, settings: Settings) -> Layer:
    """The layer as the settings' rules size it (see :meth:`convcalc.rules.Rules.adapt`)."""
    if settings.rules == DEFAULT_RULES and not settings.checks_refusals:
        return layer  # convcalc's own arithmetic (the rule sets are not even imported)
    from convcalc.rules import rules_named

    return rules_named(settings.rules).adapt(layer, x, settings.checks_refusals)


def analyze_layer(layer: Layer, x: Shape, settings: Settings | None = None) -> LayerReport:
    """Everything about one layer on one input: numbers, formulas, settings.

    Under rules a spec or the command line names, the framework's own formula and its
    source come first. Raises :class:`~convcalc.problem.LayerError` when the layer cannot
    take ``x`` (or that framework refuses it).
    """
    settings = settings or Settings()
    sized = adapted(layer, x, settings)
    effect = sized.apply(x)
    field = advance(start_field(x), x, effect)
    bounded(effect, field)
    row = row_of(sized, x, effect, NAME_OF[type(layer)], field)
    own: tuple[Formula, ...] = ()
    if settings.checks_refusals:
        from convcalc.rules import rules_named

        own = rules_named(settings.rules).formulas(layer)
    return LayerReport(row, (*own, *sized.explain(x)), settings)


