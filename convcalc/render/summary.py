"""The human table of ``convcalc summarize``: one row per layer, then the totals."""

from __future__ import annotations

from convcalc.arith import Status, format_fraction
from convcalc.counting import MACS, Counted
from convcalc.memory import DEFINITIONS, Memory
from convcalc.render.escape import escape
from convcalc.render.grid import grid, paint
from convcalc.render.text import conventions, rules_text
from convcalc.report import Report, Row, covers_input
from convcalc.units import format_bytes

_EIGHTHS = " ▏▎▍▌▋▊▉"
_STATUS_COLOUR = {Status.HARMLESS: "yellow", Status.LOSSY: "red", Status.INVALID: "red"}
HEADERS = ("layer", "kind", "output", "activations", "params", "MACs", "share of MACs", "size")
RIGHT = (False, False, True, True, True, True, False, False)


def bar(part: int, whole: int, width: int = 8) -> str:
    """A bar of ``width`` cells filled in eighths, and the percentage it stands for."""
    if whole <= 0 or part <= 0:
        return ""
    full, rest = divmod(round(8 * width * part / whole), 8)
    cells = ("█" * full + (_EIGHTHS[rest] if rest else "")).ljust(width)
    return f"{cells} {100 * part / whole:5.1f}%"


def _size(row: Row) -> str:
    if row.size_status is Status.EXACT:
        return ""
    if not row.sizes:  # a block or merge: the worst status below it
        return str(row.size_status.value)
    return ", ".join(sorted({f"{s.output} ({s.status.value})" for s in row.sizes
                             if s.status is not Status.EXACT}))


def _local_names(rows: list[Row]) -> list[str]:
    """Each row's name without its enclosing block's prefix: the indent shows the nesting."""
    parents: list[str] = []
    names = []
    for row in rows:
        del parents[row.depth:]
        prefix = parents[-1] + "." if parents else ""
        names.append(row.name.removeprefix(prefix))
        parents.append(row.name)
    return names


def _axes(values: list[str]) -> str:
    return values[0] if len(set(values)) == 1 else "x".join(values)


def receptive_cells(row: Row, report: Report) -> list[str]:
    """Size (with "whole" once it covers the input), effective stride and padding."""
    fields = row.receptive_field
    if not fields:
        return ["whole", "", ""] if row.kind != "input" else ["", "", ""]
    size = _axes([format_fraction(f.size) for f in fields])
    return [size + (" whole" if covers_input(row, report.input_shape) else ""),
            _axes([format_fraction(f.stride) for f in fields]),
            _axes([format_fraction(f.pad) for f in fields])]


def _cells(row: Row, total: int, ops: int | None) -> list[str]:
    """The cells after the name's."""
    counted = [] if ops is None else [f"{ops:,}" if ops else "—"]
    share = row.macs if ops is None else ops
    return [row.kind, str(row.output_shape), f"{row.activations:,}" if row.activations
            else "—", f"{row.params:,}" if row.params else "—",
            f"{row.macs:,}" if row.macs else "—", *counted, bar(share, total), _size(row)]


def draw(report: Report, depth: int | None = None, colour: bool = False,
         memory: Memory | None = None, counted: Counted | None = None,
         receptive: bool = False) -> str:
    """The table, the totals with their definitions, and the conventions in force."""
    settings, totals = report.settings, report.totals
    preset = counted.convention if counted else MACS
    extra = counted is not None and preset is not MACS
    shown = [(index, row) for index, row in enumerate(report.rows)
             if depth is None or row.depth <= depth]
    total = counted.total if extra and counted else totals.macs
    headers = [*HEADERS[:6], *([f"ops ({preset.name})"] if extra else []),
               f"share of {'ops' if extra else 'MACs'}", HEADERS[7]]
    right = [*RIGHT[:6], *([True] if extra else []), *RIGHT[6:]]
    if receptive:
        headers += ["RF", "RF stride", "RF pad"]
        right += [True, True, True]
    # The copies of a layer on one input have the same cells but the name's: each set of
    # cells is made once, and padded once (a large model's table is mostly such copies).
    names: list[str] = []
    keys: list[tuple[object, ...]] = []
    known: dict[tuple[object, ...], tuple[Row, list[str]]] = {}
    for (index, row), name in zip(shown, _local_names([row for _, row in shown]), strict=True):
        # escaped, as ``grid.table`` escapes its cells: a name may hold anything
        names.append(escape("  " * row.depth + name + (" …" if row.rows_below and
                                                        row.depth == depth else "")))
        ops = counted.per_row[index] if extra and counted else None
        key: tuple[object, ...] = (
            row.kind, row.output_shape, row.activations, row.params, row.macs, ops,
            row.size_status, id(row.sizes), id(row.receptive_field) if receptive else 0)
        if key not in known:  # the row kept with its cells keeps the identities alive
            known[key] = (row, [escape(cell) for cell in (
                *_cells(row, total, ops), *(receptive_cells(row, report) if receptive else []))])
        keys.append(key)
    lines = _aligned(headers, names, keys, known, right)
    if colour:  # colour the size verdicts after alignment
        lines[2:] = [paint(line, _STATUS_COLOUR.get(row.size_status), True) if
                     row.size_status is not Status.EXACT else line
                     for line, (_, row) in zip(lines[2:], shown, strict=True)]
    lines[0] = paint(lines[0], "bold", colour)
    facts = _totals(report, memory, counted if extra else None)
    title = f"{escape(report.name)} — input {report.input_shape}, batch {settings.batch}, " \
            f"{settings.dtype}; counting: {preset.name}" + \
            (f"\n{escape(report.source)}" if report.source else "") + \
            f"\nsize rules: {rules_text(settings)}"
    return "\n".join([
        paint(title, "bold", colour), "", *lines, "",
        *grid(facts, colours=("cyan",), colour=colour), "",
        paint(conventions(), "dim", colour)]) + "\n"


def _aligned(headers: list[str], names: list[str], keys: list[tuple[object, ...]],
             known: dict[tuple[object, ...], tuple[Row, list[str]]], right: list[bool],
             gap: str = "  ") -> list[str]:
    """``table``'s lines (a header, a rule, a row per name) with each set of cells after the
    name padded once."""
    cells = [cells for _, cells in known.values()]
    widths = [max(len(text) for text in [headers[0], *names])] + \
        [max(len(row[i]) for row in [headers[1:], *cells]) for i in range(len(headers) - 1)]

    def padded(row: list[str]) -> str:
        return gap.join(cell.rjust(width) if shift else cell.ljust(width)
                        for cell, width, shift in zip(row, widths[1:], right[1:], strict=True))

    rest = {key: padded(cells) for key, (_, cells) in known.items()}
    header = (headers[0].ljust(widths[0]) + gap + padded(headers[1:])).rstrip()
    lines = [(name.ljust(widths[0]) + gap + rest[key]).rstrip()
             for name, key in zip(names, keys, strict=True)]
    rule = "─" * max(len(line) for line in [header, *lines])
    return [header, rule, *lines]


def _totals(report: Report, memory: Memory | None,
            counted: Counted | None) -> list[tuple[str, str]]:
    settings, totals = report.settings, report.totals
    activation_bytes = settings.bytes_of(totals.activations)
    facts = [
        ("params", f"{totals.params:,} trainable = "
                   f"{format_bytes(totals.params * settings.dtype_bytes)} as {settings.dtype}; "
                   f"{totals.non_trainable_params:,} non-trainable buffers (not in params)"),
        ("MACs", f"{totals.macs:,} MACs = {2 * totals.macs:,} FLOPs per example "
                 "(FLOPs = 2 × MACs, bias excluded)"),
    ]
    if counted:
        facts.append((f"ops ({counted.convention.name})", f"{counted.total:,} per example: "
                      f"{counted.convention.description}"))
    facts.append(("activations", f"{totals.activations:,} elements = "
                                 f"{format_bytes(activation_bytes)} = "
                                 f"{format_bytes(activation_bytes, True)} at batch "
                                 f"{settings.batch}, {settings.dtype_bytes} B per element "
                                 f"({settings.dtype})"))
    if memory is not None:
        facts += _memory(report, memory)
    facts.append(("output", str(totals.output_shape)))
    return facts


def both(count: int) -> str:
    """``60.95 MB (58.13 MiB)``."""
    return f"{format_bytes(count)} ({format_bytes(count, True)})"


def _memory(report: Report, memory: Memory) -> list[tuple[str, str]]:
    settings = report.settings
    lines = [("forward activations", f"{both(memory.forward)} — {DEFINITIONS['forward']}"),
             ("inference peak",
              f"{both(settings.bytes_of(memory.peak_elements))} of "
              f"activations ({memory.peak_elements:,} elements per example); with the "
              f"parameters and buffers {both(memory.inference)} — {DEFINITIONS['peak']}")]
    if report.totals.scores:
        lines.append(("attention scores", DEFINITIONS["fused"] if memory.fused else
                      f"{both(memory.attention_scores)}: {report.totals.scores:,} elements per "
                      f"example — {DEFINITIONS['scores']}"))
    plan = memory.training
    if plan is not None:
        precision = f"mixed {settings.dtype} with float32 master weights" if plan.mixed \
            else settings.dtype
        lines.append(("training", f"{both(plan.total)} with {plan.optimizer}, {precision}: "
                      f"activations {format_bytes(plan.activations)} + "
                      + (f"attention scores {format_bytes(plan.attention_scores)} + "
                         if plan.attention_scores else "") +
                      f"parameters "
                      f"{format_bytes(plan.parameters)} + gradients "
                      f"{format_bytes(plan.gradients)} + optimizer state "
                      f"{format_bytes(plan.optimizer_state)} + buffers "
                      f"{format_bytes(plan.buffers)} — {DEFINITIONS['training']}"))
    fit = memory.fit
    if fit is not None:
        model = "training" if plan else "inference"
        answer = (f"batch {fit.batch:,} needs {both(fit.memory)}; batch {fit.batch + 1:,} "
                  f"would need {both(fit.next_memory)}") if fit.batch else \
            f"not even batch 1 fits: it needs {both(fit.next_memory)}"
        lines.append(("fit", f"{model} memory within {both(fit.budget)}: {answer}"))
    return lines
