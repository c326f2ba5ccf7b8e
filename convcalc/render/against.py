"""``convcalc verify SPEC --against MODEL``: the first layer that differs, and the totals."""

from __future__ import annotations

from convcalc.importers.compare import Against, Side, Total
from convcalc.render.grid import table


def _side(side: Side | None, what: str) -> str:
    if side is None:
        return f"no layer in the {what}"
    return (f"{side.name} ({side.kind}): output {side.output}, {side.params:,} params, "
            f"{side.buffers:,} buffers")


def _value(value: int | object) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value)


def _total_row(total: Total) -> list[str]:
    return [total.key, _value(total.spec), _value(total.model),
            "ok" if total.agrees else "DIFFERENT"]


def draw(result: Against, spec: str) -> str:
    agreeing = sum(p.agrees for p in result.pairs)
    ours = sum(p.spec is not None for p in result.pairs)
    theirs = sum(p.model is not None for p in result.pairs)
    lines = [f"{spec} against {result.source}",
             f"layers with params or buffers, in the order they run: {ours} in the spec, "
             f"{theirs} in the model, {agreeing} alike (output shape, params, buffers)"]
    first = result.first
    if first is not None:
        lines += ["first difference:", f"  spec:  {_side(first.spec, 'spec')}",
                  f"  model: {_side(first.model, 'model')}"]
    lines += table(("total", "spec", "model", ""), [_total_row(t) for t in result.totals],
                   (False, True, True, False))
    verdict = "the spec is the model" if result.agrees else "the spec differs from the model"
    return "\n".join([*lines, verdict]) + "\n"
