"""A JSON Schema of the spec language, built from the layer registry so it cannot drift.

Editors use it for validation and completion (see the README). Values inside blocks may be
``$argument`` references, so every field also admits a string.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from convcalc.arith import PAD_WORDS
from convcalc.language.base import MERGES
from convcalc.language.builder import BUDGET_KEYS, EXPECT_KEYS, WAIVABLE
from convcalc.layers import ALIASES, KINDS
from convcalc.layers.fields import ACTIVATION_ALIASES, ACTIVATIONS
from convcalc.rules import RULES

SCHEMA_ID = "https://convcalc.invalid/spec.schema.json"

_INTEGER = {"type": ["integer", "string"]}
_SIZES = {"anyOf": [{"type": "integer"}, {"type": "string"},
                    {"type": "array", "items": {"type": ["integer", "string"]}}]}
_PADS: dict[str, Any] = {"anyOf": [{"type": "integer"},
                                   {"type": "string", "examples": list(PAD_WORDS)},
                                   {"type": "array"}]}
_FIELDS: dict[str, dict[str, Any]] = {
    "int": _INTEGER,
    "int | None": {"type": ["integer", "string", "null"]},
    "Ints": _SIZES,
    "Ints | None": {"anyOf": [*_SIZES["anyOf"], {"type": "null"}]},
    "Index": _INTEGER,
    "Offsets": _SIZES,
    "Offsets | None": {"anyOf": [*_SIZES["anyOf"], {"type": "null"}]},
    "Pads": _PADS,
    "Pads | None": {"anyOf": [*_PADS["anyOf"], {"type": "null"}]},
    "bool": {"type": ["boolean", "string"]},
    "bool | None": {"type": ["boolean", "string", "null"]},
    "float": {"type": ["number", "string"]},
    "Act": {"anyOf": [{"enum": [*ACTIVATIONS, *ACTIVATION_ALIASES, None]}, {"type": "string"}]},
    "str": {"type": "string"},
    "Shape": {"anyOf": [{"type": "string", "pattern": r"^\d+(x\d+){0,3}$"},
                        {"type": "integer"}, {"type": "array", "items": {"type": "integer"}}]},
}
_CONDITION = {"type": ["boolean", "string"],
              "description": "the item is left out unless this holds: true, false or $(…)"}
_COMMON = {"name": {"type": ["string", "integer"]}, "allow": {"enum": list(WAIVABLE)},
           "reason": {"type": "string"}}


def _kind(kind: type[Any]) -> dict[str, Any]:
    fields = {f.name: {**_FIELDS[str(f.type)], "description": f"{f.name} of {kind.__name__}"}
              for f in dataclasses.fields(kind)}
    return {"anyOf": [{"type": "object", "properties": {**fields, **_COMMON},
                       "additionalProperties": False}, {"type": "null"},
                      {"type": ["integer", "string"]}],
            "description": (kind.__doc__ or "").strip().splitlines()[0]}


def schema() -> dict[str, Any]:
    kinds = {name: _kind(kind) for name, kind in KINDS.items()}
    kinds |= {alias: {"$ref": f"#/$defs/kinds/{target}"} for alias, target in ALIASES.items()}
    # `_` reads as `-`: batch_norm, leaky_relu
    kinds |= {name.replace("-", "_"): {"$ref": f"#/$defs/kinds/{ALIASES.get(name, name)}"}
              for name in list(kinds) if "-" in name}
    item = {
        "anyOf": [
            {"type": "string", "description": "a layer name or shorthand (conv3-64, maxpool, "
                                              "fc-4096) or a block name"},
            {"type": "object", "minProperties": 1,
             "properties": {**{name: {"$ref": f"#/$defs/kinds/{name}"} for name in kinds},
                            **{op: {"type": "array", "items": {"$ref": "#/$defs/branch"}}
                               for op in MERGES},
                            "layers": {"$ref": "#/$defs/layers"},
                            "repeat": _INTEGER, "if": _CONDITION,
                            "parts": {"type": "array", "items": _INTEGER,
                                      "description": "a split's channels per branch"},
                            **_COMMON},
             "additionalProperties": {"type": ["object", "null"],
                                      "description": "a block call with its arguments"}},
        ]}
    counts = {"type": ["integer", "string"]}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "convcalc architecture spec",
        "type": "object",
        "properties": {
            "name": {"type": "string"}, "source": {"type": "string"},
            "description": {"type": "string"},
            "torchvision": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$",
                            "description": "the torchvision model the spec reproduces"},
            "include": {"anyOf": [{"type": "string"},
                                  {"type": "array", "items": {"type": "string"}}]},
            "input": {"anyOf": [{"type": "string", "pattern": r"^\d+(x\d+){0,3}$"},
                                {"type": "integer"},
                                {"type": "array", "items": {"type": "integer"}}]},
            "rules": {"enum": list(RULES), "description": "the framework whose rules the "
                      "sizes follow (default pytorch)"},
            "defaults": {"type": "object",
                         "properties": {name: {"type": "object"} for name in kinds},
                         "additionalProperties": False},
            "expect": {"type": "object", "properties": {k: counts for k in EXPECT_KEYS},
                       "additionalProperties": False},
            "budget": {"type": "object", "properties": {k: counts for k in BUDGET_KEYS},
                       "additionalProperties": False},
            "blocks": {"type": "object", "additionalProperties": {"$ref": "#/$defs/block"}},
            "layers": {"$ref": "#/$defs/layers"},
        },
        "additionalProperties": False,
        "anyOf": [{"required": ["input", "layers"]}, {"required": ["blocks"]}],
        "$defs": {
            "kinds": kinds,
            "item": item,
            "layers": {"type": "array", "items": {"$ref": "#/$defs/item"}},
            "branch": {"anyOf": [{"$ref": "#/$defs/layers"}, {"$ref": "#/$defs/item"}]},
            "block": {"anyOf": [
                {"$ref": "#/$defs/layers"},
                {"type": "object",
                 "properties": {"args": {"type": ["object", "array"]},
                                "layers": {"$ref": "#/$defs/layers"},
                                **{op: {"type": "array", "items": {"$ref": "#/$defs/branch"}}
                                   for op in MERGES}},
                 "additionalProperties": False}]},
        },
    }
