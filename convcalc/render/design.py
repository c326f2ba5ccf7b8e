"""Text for the design questions: solve, sizes, sweep and compare."""

from __future__ import annotations

from math import prod

from convcalc.arith import Status
from convcalc.design import Change, Point, SizeCheck, Solution, describe
from convcalc.render.escape import escape
from convcalc.render.grid import table
from convcalc.report import Summary
from convcalc.units import format_bytes


def solutions(size: int, target: int, kind: str, found: list[Solution],
              nearest: tuple[int | None, int | None]) -> str:
    if not found:
        below, above = nearest
        near = " and ".join(str(n) for n in (below, above) if n is not None) or "none"
        return (f"no {kind} within the bounds turns {size} into {target}; the nearest sizes "
                f"it can reach are {near}. Widen the bounds (--k, --stride, --dilation).\n")
    transposed = kind == "conv-transpose"
    headers = ["kernel", "stride", "pad", "dilation", *(["output_padding"] if transposed else
                                                        []),
               *(["ceil"] if kind == "pool" else []), "padding word", "size"]
    rows = []
    for s in found:
        pad = str(s.pad[0]) if s.pad[0] == s.pad[1] else f"{s.pad[0]},{s.pad[1]}"
        rows.append([str(s.kernel), str(s.stride), pad, str(s.dilation),
                     *([str(s.output_padding)] if transposed else []),
                     *(["ceil" if s.ceil else ""] if kind == "pool" else []),
                     s.word or "", s.status.value])
    right = [True] * (len(headers) - 2) + [False, False]
    note = ("harmless: the exact value is not an integer, but flooring loses no real input"
            if any(s.status is Status.HARMLESS for s in found) else "")
    return "\n".join([f"{len(found)} way(s) to turn {size} into {target} with a {kind}, "
                      "simplest first:", "", *table(headers, rows, right), "",
                      *([note] if note else [])]) + "\n"


def sizes(model_name: str, low: int, high: int, checks: list[SizeCheck]) -> str:
    usable = [c for c in checks if not c.error]
    lines = [f"{model_name}: input sizes {low} to {high} (square), channels as in the spec", "",
             f"exact everywhere (no layer rounds):    "
             f"{describe([c.size for c in usable if c.exact], low, high)}",
             f"exact or harmless (no input lost):     "
             f"{describe([c.size for c in usable if c.safe], low, high)}",
             f"evenly strided (every stride divides): "
             f"{describe([c.size for c in usable if c.strided], low, high)}"]
    both = [c.size for c in usable if c.safe and c.strided]
    if both:
        lines += ["", f"recommended: {describe(both, low, high)} — no input is lost and every "
                      "strided layer shrinks the grid by exactly its stride"]
    refused = [c for c in checks if c.error]
    if refused:
        lines.append(f"refused: {describe([c.size for c in refused], low, high)} "
                     f"(e.g. {refused[0].size}: {refused[0].error})")
    culprits: dict[str, list[int]] = {}
    for check in usable:
        if check.breaks:
            culprits.setdefault(check.breaks.split(" (")[0], []).append(check.size)
    if culprits:
        lines += ["", "where the others break first:"]
        for name, where in sorted(culprits.items(), key=lambda item: -len(item[1])):
            example = next(c for c in usable if c.size == where[0])
            lines.append(f"  {name}: {len(where)} size(s), e.g. {where[0]}: "
                         f"{example.breaks.split(' (', 1)[1].rstrip(')')}")
    return "\n".join(escape(line) for line in lines) + "\n"


def _growth(first: int, last: int) -> str:
    if first == 0:
        return "—" if last == 0 else "new"
    return f"×{last / first:.2f}"


def _why_conv_macs_grow(first: Point, last: Point, area: float) -> str:
    """Convolutions grow with their output's area: the input's, unless sizes round.

    A stride-2 layer makes 7.5 into 8 at 240 (7 at 224): the deeper maps grow faster than
    the input, and the layer whose map grew most unlike the input is named.
    """
    if not first.conv_macs or not last.conv_macs:
        return "convolutions grow with the area of their output"
    if abs(last.conv_macs / first.conv_macs / area - 1) < 0.005:
        return "convolutions grow with the area, quadratically in the side"
    before = {row.name: row for row in first.report.rows() if row.macs and row.kind != "fc"}
    worst: tuple[float, str] = (0.0, "")
    for row in last.report.rows():
        old = before.get(row.name)
        if old is None or not row.output_shape.spatial or not old.output_shape.spatial:
            continue
        ratio = prod(row.output_shape.spatial) / prod(old.output_shape.spatial)
        if abs(ratio / area - 1) > worst[0]:
            worst = (abs(ratio / area - 1), f"{row.name}'s output {old.output_shape} → "
                                            f"{row.output_shape}, ×{ratio:.2f}")
    example = f" (e.g. {worst[1]})" if worst[1] else ""
    return (f"not the input's ×{area:.2f}: each convolution grows with its own output's area, "
            f"and strided layers round sizes{example}")


def sweep(model_name: str, points: list[Point]) -> str:
    headers = ["input", "params", "MACs", "conv MACs", "dense MACs", "activations",
               "forward memory"]
    rows = []
    for p in points:
        t, settings = p.report.totals, p.report.settings
        rows.append([str(p.report.input_shape), f"{t.params:,}", f"{t.macs:,}",
                     f"{p.conv_macs:,}", f"{p.dense_macs:,}", f"{t.activations:,}",
                     format_bytes(settings.bytes_of(t.activations))])
    lines = [f"{model_name} across input sizes:", "",
             *table(headers, rows, [False] + [True] * 6)]
    first, last = points[0], points[-1]
    if len(points) > 1:
        side = last.size / first.size
        activations = _growth(first.report.totals.activations, last.report.totals.activations)
        lines += ["", f"from {first.size} to {last.size} (side ×{side:g}, area ×{side**2:g}):",
                  f"  conv MACs {_growth(first.conv_macs, last.conv_macs)} — "
                  f"{_why_conv_macs_grow(first, last, side**2)}",
                  f"  activations {activations}"]
        if first.attention_macs:
            lines.append(f"  attention's products "
                         f"{_growth(first.attention_macs, last.attention_macs)} (in MACs, not "
                         "in conv MACs) — each query meets every key of its group: global "
                         "attention grows with the square of the area, windowed attention with "
                         "the area")
        if first.dense_inputs:
            reads = ", ".join(f"{a:,} → {b:,}" for a, b in
                              zip(first.dense_inputs, last.dense_inputs, strict=False))
            lines.append(f"  dense head: its layers read {reads} inputs; dense MACs "
                         f"{_growth(first.dense_macs, last.dense_macs)} and params "
                         f"{_growth(first.report.totals.params, last.report.totals.params)}: a "
                         "dense layer after a flatten grows with the flattened size, one after "
                         "a global pool stays constant")
    problems = [p for point in points for p in point.report.problems if p.level == "error"]
    if problems:
        lines += ["", f"problems at some sizes: {len(problems)} (e.g. {problems[0].message})"]
    return "\n".join(escape(line) for line in lines) + "\n"


def comparison(first: Summary, second: Summary, changes: list[Change]) -> str:
    a, b = first.totals, second.totals

    def row(label: str, x: int, y: int) -> list[str]:
        ratio = f"×{y / x:.3f}" if x else "—"
        return [label, f"{x:,}", f"{y:,}", f"{y - x:+,}", ratio]

    totals = [row("params", a.params, b.params), row("MACs", a.macs, b.macs),
              row("activations", a.activations, b.activations),
              ["output", str(a.output_shape), str(b.output_shape),
               "" if a.output_shape == b.output_shape else "differs", ""]]
    lines = [f"A: {first.name} ({first.path})", f"B: {second.name} ({second.path})", "",
             *table(["total", "A", "B", "B − A", "B / A"], totals,
                    [False, True, True, True, True])]
    if changes:
        rows = []
        for change in changes:
            old, new = change.before, change.after
            rows.append([{"added": "+", "removed": "−", "changed": "~"}[change.status],
                         change.name,
                         str(old.output_shape) if old else "", str(new.output_shape) if new
                         else "", f"{old.params:,}" if old else "", f"{new.params:,}" if new
                         else "", f"{old.macs:,}" if old else "", f"{new.macs:,}" if new
                         else ""])
        lines += ["", f"{len(changes)} layer(s) differ (matched by name):", "",
                  *table(["", "layer", "A output", "B output", "A params", "B params",
                          "A MACs", "B MACs"], rows,
                         [False, False, True, True, True, True, True, True])]
    else:
        lines += ["", "every layer is the same"]
    return "\n".join(escape(line) for line in lines) + "\n"
