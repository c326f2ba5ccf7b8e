"""Stable JSON for machines: every number exact, every key documented in the README."""

from __future__ import annotations

import json
from enum import Enum
from fractions import Fraction
from typing import Any

from convcalc.arith import format_fraction
from convcalc.counting import Counted
from convcalc.memory import DEFINITIONS, Memory
from convcalc.portability import Portability
from convcalc.problem import Problem
from convcalc.report import (
    CONVENTIONS,
    AxisSize,
    LayerReport,
    Report,
    Row,
    Settings,
    covers_input,
)
from convcalc.shape import Shape

SCHEMA_VERSION = 1


def plain(value: Any) -> Any:
    """Shapes as lists, integral fractions as ints, others as ``"29/2"``."""
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


def totals_json(report: Report) -> dict[str, Any]:
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
    layers = [row_json(row, report.settings) for row in report.rows]
    for row, layer in zip(report.rows, layers, strict=True):
        layer["covers_input"] = covers_input(row, report.input_shape)
    if counted is not None:
        for layer, ops in zip(layers, counted.per_row, strict=True):
            layer["ops"] = ops
    document = {
        "schema_version": SCHEMA_VERSION, "name": report.name, "source": report.source,
        "path": report.path, "input_shape": plain(report.input_shape),
        "settings": settings_json(report.settings),
        "layers": layers,
        "totals": totals_json(report),
        "problems": [problem_json(p) for p in report.problems],
    }
    if counted is not None:
        document["counting"] = {"convention": counted.convention.name,
                                "description": counted.convention.description,
                                "ops": counted.total}
    if memory is not None:
        document["memory"] = memory_json(memory)
    if compared is not None:
        from convcalc.render.portability import to_json

        document["rules_compared"] = to_json(compared)
    return _one_layer_a_line(document)


def _one_layer_a_line(document: dict[str, Any]) -> str:
    """The document indented by two spaces, each of its layers on one line of its own.

    Easy to read and to diff, and fast: ``json`` writes indented output with its
    pure-Python encoder, ten times slower than the C one that writes each compact line.
    (Re-indenting by replacing newlines is safe: JSON strings hold no raw newline.)
    """
    encode = json.JSONEncoder(ensure_ascii=False).encode
    entries = []
    for key, value in document.items():
        if key == "layers" and value:
            text = "[\n" + ",\n".join(f"    {encode(layer)}" for layer in value) + "\n  ]"
        else:
            text = json.dumps(value, indent=2, ensure_ascii=False).replace("\n", "\n  ")
        entries.append(f"  {encode(key)}: {text}")
    return "{\n" + ",\n".join(entries) + "\n}"
