"""Stable JSON for machines: every number exact, every key documented in the README."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from enum import Enum
from fractions import Fraction
from typing import Any

from convcalc.arith import format_fraction
from convcalc.counting import Convention, Counted
from convcalc.memory import DEFINITIONS, Memory
from convcalc.portability import Portability
from convcalc.problem import Problem
from convcalc.report import (
    CONVENTIONS,
    AxisSize,
    LayerReport,
    ReceptiveField,
    Report,
    Row,
    Settings,
    Summary,
    covers_input,
)
from convcalc.shape import Shape

SCHEMA_VERSION = 1


def plain(value: Any) -> Any:
    """Shapes as lists, integral fractions as ints, others as ``"29/2"``."""
    if type(value) is int:  # the usual value, and isinstance(…, Fraction) is slow
        return value
    if isinstance(value, Shape):
        return list(value.dims)
    if isinstance(value, Fraction):
        return value.numerator if value.denominator == 1 else str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple | list):
        return [plain(v) for v in value]
    return value


def axis_json(size: AxisSize) -> dict[str, Any]:
    return {"axis": size.axis, "exact": plain(size.exact),
            "exact_decimal": format_fraction(size.exact), "output": size.output,
            "status": size.status.value, "lost": size.lost, "pad": list(size.pad),
            "ceil": size.ceil,
            "fixes": [{"param": f.param, "value": f.value, "output": f.output}
                      for f in size.fixes]}


def row_json(row: Row, settings: Settings) -> dict[str, Any]:
    return {
        "name": row.name, "kind": row.kind, "depth": row.depth,
        "input_shape": plain(row.input_shape), "output_shape": plain(row.output_shape),
        "params": row.params, "trainable_params": row.trainable_params,
        "non_trainable_params": row.non_trainable_params,
        "weights": row.weights, "biases": row.biases,
        "macs": row.macs, "flops": 2 * row.macs,
        "activations": row.activations,
        "activation_bytes": settings.bytes_of(row.activations),
        "size_status": row.size_status.value,
        "sizes": [axis_json(s) for s in row.sizes],
        "receptive_field": [{"axis": f.axis, "size": plain(f.size), "stride": plain(f.stride),
                             "pad": plain(f.pad)} for f in row.receptive_field],
        "notes": list(row.notes), "file": row.file, "line": row.line, "col": row.col,
        "rows_below": row.rows_below,
    }


def settings_json(settings: Settings) -> dict[str, Any]:
    return {"batch": settings.batch, "dtype": settings.dtype,
            "bytes_per_element": settings.dtype_bytes, "mac_unit": "MAC",
            "flops_per_mac": 2, "rules": settings.rules, "rules_from": settings.rules_from,
            "conventions": list(CONVENTIONS)}


def layer_report(report: LayerReport) -> str:
    document = {"schema_version": SCHEMA_VERSION, **row_json(report.row, report.settings),
                "formulas": [{"label": f.label, "text": f.text} for f in report.formulas],
                "settings": settings_json(report.settings)}
    return json.dumps(document, indent=2, ensure_ascii=False)


def totals_json(report: Summary) -> dict[str, Any]:
    totals, settings = report.totals, report.settings
    return {
        "params": totals.params, "trainable_params": totals.params,
        "non_trainable_params": totals.non_trainable_params,
        "weights": totals.params - totals.biases, "biases": totals.biases,
        "macs": totals.macs, "flops": 2 * totals.macs,
        "activations": totals.activations,
        "activation_bytes": settings.bytes_of(totals.activations),
        "param_bytes": totals.params * settings.dtype_bytes,
        "non_trainable_bytes": totals.non_trainable_params * settings.dtype_bytes,
        "output_shape": plain(totals.output_shape),
    }


def problem_json(problem: Problem) -> dict[str, Any]:
    return {"path": problem.path, "line": problem.line, "col": problem.col,
            "level": problem.level, "code": problem.code, "message": problem.message}


def memory_json(memory: Memory) -> dict[str, Any]:
    training = memory.training
    fit = memory.fit
    return {
        "forward_bytes": memory.forward,
        "inference_peak_activations": memory.peak_elements,
        "inference_bytes": memory.inference,
        "attention_score_bytes": memory.attention_scores,
        "fused_attention": memory.fused,
        "training": None if training is None else {
            "optimizer": training.optimizer, "mixed_precision": training.mixed,
            "activation_bytes": training.activations, "parameter_bytes": training.parameters,
            "gradient_bytes": training.gradients,
            "optimizer_state_bytes": training.optimizer_state,
            "buffer_bytes": training.buffers,
            "attention_score_bytes": training.attention_scores, "total_bytes": training.total},
        "fit": None if fit is None else {
            "budget_bytes": fit.budget, "batch": fit.batch, "bytes": fit.memory,
            "next_batch_bytes": fit.next_memory},
        "definitions": DEFINITIONS,
    }


def summary(report: Report, memory: Memory | None = None, counted: Counted | None = None,
            compared: Portability | None = None) -> str:
    ops = counted.per_row if counted is not None else (None,) * len(report.rows)
    counting = (counted.convention, counted.total) if counted is not None else None
    return "".join(summary_chunks(report, zip(report.rows, ops, strict=True), memory,
                                  counting, compared))


def summary_chunks(report: Summary, rows: Iterable[tuple[Row, int | None]],
                   memory: Memory | None = None, counting: tuple[Convention, int] | None = None,
                   compared: Portability | None = None) -> Iterator[str]:
    """The summary document in pieces, each layer's as its row comes (``rows`` may be made
    one at a time: nothing here keeps them). Each row comes with its operations under the
    counting convention, or None without one.

    The document is indented by two spaces, each of its layers on one line of its own: easy
    to read and to diff, and fast: ``json`` writes indented output with its pure-Python
    encoder, ten times slower than the C one that writes each compact line. (Re-indenting
    by replacing newlines is safe: JSON strings hold no raw newline.)
    """
    encode = json.JSONEncoder(ensure_ascii=False).encode
    settings, input_shape = report.settings, report.input_shape

    def entry(key: str, value: Any) -> str:
        text = json.dumps(value, indent=2, ensure_ascii=False).replace("\n", "\n  ")
        return f"  {encode(key)}: {text}"

    head = {"schema_version": SCHEMA_VERSION, "name": report.name, "source": report.source,
            "path": report.path, "input_shape": plain(input_shape),
            "settings": settings_json(settings)}
    yield "{\n" + ",\n".join(entry(key, value) for key, value in head.items())
    lines = _LayerLines(settings, input_shape)
    opening, between = ',\n  "layers": [\n    ', ",\n    "
    batch: list[str] = []  # written 256 layers at a time
    for row, ops in rows:
        batch.append(lines.line(row, ops))
        if len(batch) == 256:
            yield opening + between.join(batch)
            opening, batch = between, []
    if batch:
        yield opening + between.join(batch)
        opening = between
    yield "\n  ]" if opening == between else ',\n  "layers": []'
    tail: dict[str, Any] = {"totals": totals_json(report),
                            "problems": [problem_json(p) for p in report.problems]}
    if counting is not None:
        convention, total = counting
        tail["counting"] = {"convention": convention.name,
                            "description": convention.description, "ops": total}
    if memory is not None:
        tail["memory"] = memory_json(memory)
    if compared is not None:
        from convcalc.render.portability import to_json

        tail["rules_compared"] = to_json(compared)
    yield "".join(",\n" + entry(key, value) for key, value in tail.items()) + "\n}"


class _LayerLines:
    """Each row's line of the summary's layers: what ``json`` writes for its ``row_json``
    with ``covers_input`` and ``ops`` added, joined from parts written once for all the
    rows that share them (the copies of a layer on one input, consecutive rows with one
    receptive field). A large model's summary is mostly such copies."""

    def __init__(self, settings: Settings, input_shape: Shape) -> None:
        self.settings, self.input_shape = settings, input_shape
        self.encode = json.JSONEncoder(ensure_ascii=False).encode
        # a string as ``encode`` writes it (with ensure_ascii=False), without its type checks
        self.text = json.encoder.encode_basestring
        # the numbers of a row, by what they are made from; the value keeps the row's sizes
        # alive, and so their identity
        self.numbers: dict[tuple[Any, ...], tuple[tuple[AxisSize, ...], str, str]] = {}
        self.field: tuple[tuple[ReceptiveField, ...] | None, str, bool] = (None, "", False)
        self.files: dict[str, str] = {}  # each file's name, encoded

    def line(self, row: Row, ops: int | None) -> str:
        key = (row.kind, row.input_shape, row.output_shape, row.params, row.biases,
               row.non_trainable_params, row.macs, row.activations, row.size_status,
               id(row.sizes))
        known = self.numbers.get(key)
        if known is None:
            whole = row_json(row, self.settings)
            numbers = {name: value for name, value in whole.items() if name not in _OWN}
            known = self.numbers[key] = (row.sizes, self.encode(row.kind),
                                         self.encode(numbers)[1:-1])
        _, kind, numbers_text = known
        if row.receptive_field is not self.field[0]:
            fields = [{"axis": f.axis, "size": plain(f.size), "stride": plain(f.stride),
                       "pad": plain(f.pad)} for f in row.receptive_field]
            # as covers_input, which looks at the kind only for the input's row
            covers = all(f.size >= size for f, size in
                         zip(row.receptive_field, self.input_shape.spatial, strict=False))
            self.field = (row.receptive_field, self.encode(fields), covers)
        _, field, covers = self.field
        if row.kind == "input":
            covers = covers_input(row, self.input_shape)
        own = "" if ops is None else f", \"ops\": {ops}"
        file = self.files.get(row.file)
        if file is None:
            file = self.files[row.file] = self.encode(row.file)
        notes = self.encode(list(row.notes)) if row.notes else "[]"
        return (f'{{"name": {self.text(row.name)}, "kind": {kind}, "depth": {row.depth}, '
                f'{numbers_text}, "receptive_field": {field}, "notes": {notes}, '
                f'"file": {file}, '
                f'"line": {row.line}, "col": {row.col}, '
                f'"rows_below": {row.rows_below}, "covers_input": '
                f'{"true" if covers else "false"}{own}}}')


# the keys of a row's JSON that are each copy's own, not its numbers'
_OWN = ("name", "kind", "depth", "receptive_field", "notes", "file", "line", "col",
        "rows_below")
