"""Rewrites of the op graph before lowering: forms exporters decompose, and concat chains.

- ``x * sigmoid(x)`` is SiLU (swish) and ``x * hardsigmoid(x)`` is hard-swish, as exporters
  write them when the format has no op of that name;
- ``0.5 · x · (1 + erf(x / √2))`` is the exact GELU (ONNX before opset 20);
- DenseNet's ``cat(x0, x1, ..., xk)`` after ``cat(x0, ..., x(k-1))`` is the concat of that
  earlier result with ``xk``, so each dense layer becomes a two-branch concat.

Each rewrite works on the framework-neutral ops only and keeps the facts of the output it
replaces (the real model's shape there).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

from convcalc.importers.graph import Op
from convcalc.layers.base import Layer


def rewrite(ops: list[Op]) -> list[Op]:
    """Every rewrite in turn; each pass is linear in the number of ops."""
    for step in (_gates, _gelu, _concat_chains):
        ops = step(ops)
    return ops


class _Index:
    """Who produces and who reads each tensor."""

    def __init__(self, ops: list[Op]) -> None:
        self.producer: dict[int, Op] = {op.output: op for op in ops}
        self.readers: dict[int, list[Op]] = {}
        for op in ops:
            for tensor in op.inputs:
                self.readers.setdefault(tensor, []).append(op)

    def only_reader(self, tensor: int) -> Op | None:
        readers = self.readers.get(tensor, [])
        return readers[0] if len(readers) == 1 else None

    def made_by(self, tensor: int, kind: str, fn: str | None = None) -> Op | None:
        op = self.producer.get(tensor)
        if op is None or op.kind != kind or (fn is not None and (op.fn is None or
                                                                 op.fn[0] != fn)):
            return None
        return op


def _apply(ops: list[Op], replaced: dict[int, Op], dropped: set[int]) -> list[Op]:
    """Ops with ``replaced`` (by output) swapped in and ``dropped`` (by output) left out."""
    return [replaced.get(op.output, op) for op in ops if op.output not in dropped]


def _activation(kind: str) -> Layer:
    from convcalc.layers import KINDS

    made: Layer = KINDS[kind]()
    return made


def _fused(template: Op, kind: str, x: int, name: str, origin: str) -> Op:
    return dataclasses.replace(template, name=name, origin=origin, kind=kind, inputs=(x,),
                               layer=_activation(kind), reason="", fn=None)


def _gates(ops: list[Op]) -> list[Op]:
    """``x * sigmoid(x)`` → silu, ``x * hard-sigmoid(x)`` → hard-swish."""
    index = _Index(ops)
    replaced: dict[int, Op] = {}
    dropped: set[int] = set()
    for op in ops:
        if op.kind != "mul" or len(op.inputs) != 2:
            continue
        for x, gate in (op.inputs, op.inputs[::-1]):
            for inner, fused in (("sigmoid", "silu"), ("hard-sigmoid", "hard-swish")):
                made = index.made_by(gate, inner)
                if made is not None and made.inputs == (x,) and index.only_reader(gate) is op:
                    replaced[op.output] = _fused(op, fused, x, made.name,
                                                 f"x * {made.origin}(x)")
                    dropped.add(gate)
                    break
            if op.output in replaced:
                break
    return _apply(ops, replaced, dropped)


def _near(value: float, target: float) -> bool:
    return abs(value - target) <= 1e-4 * max(1.0, abs(target))


def _constant_op(index: _Index, tensor: int, name: str,
                 test: Callable[[float], bool]) -> Op | None:
    op = index.made_by(tensor, "unsupported", name)
    return op if op is not None and op.fn is not None and test(op.fn[1]) else None


def _gelu(ops: list[Op]) -> list[Op]:
    """``x·0.5·(1 + erf(x/√2))`` in the orders exporters write it, as one gelu."""
    index = _Index(ops)
    replaced: dict[int, Op] = {}
    dropped: set[int] = set()
    for erf in ops:
        if erf.fn is None or erf.fn[0] != "erf":
            continue
        scaled = index.producer.get(erf.inputs[0])
        if scaled is None or scaled.fn is None or not (
                (scaled.fn[0] == "div" and _near(scaled.fn[1], math.sqrt(2))) or
                (scaled.fn[0] == "mul" and _near(scaled.fn[1], 1 / math.sqrt(2)))):
            continue
        x = scaled.inputs[0]
        plus = index.only_reader(erf.output)
        if plus is None or plus.fn is None or plus.fn[0] != "add" or not _near(plus.fn[1], 1):
            continue
        product = index.only_reader(plus.output)
        if product is None or product.kind != "mul" or plus.output not in product.inputs:
            continue
        other = product.inputs[0] if product.inputs[1] == plus.output else product.inputs[1]
        half = _constant_op(index, other, "mul", lambda v: _near(v, 0.5))
        if other == x:  # x·(1 + erf) then ·0.5
            last = index.only_reader(product.output)
            if last is None or last.fn is None or last.fn[0] != "mul" or \
                    not _near(last.fn[1], 0.5):
                continue
            parts, final = [scaled, erf, plus, product], last
        elif half is not None and half.inputs == (x,):  # (0.5·x)·(1 + erf)
            parts, final = [half, scaled, erf, plus], product
        else:
            continue
        if any(index.only_reader(p.output) is None for p in parts if p is not half) or \
                len(index.readers.get(scaled.output, [])) != 1:
            continue
        replaced[final.output] = _fused(final, "gelu", x, erf.name, "0.5·x·(1 + erf(x/√2))")
        dropped.update(p.output for p in parts)
    return _apply(ops, replaced, dropped)


def _concat_chains(ops: list[Op]) -> list[Op]:
    """A concat whose first inputs are an earlier concat's inputs reads that concat instead.

    The longest earlier prefix is used, so DenseNet's growing concats nest one per layer; a
    one-input concat, or a second concat of the same inputs, is an alias. Concat widths are
    small, so the prefix search stays cheap.
    """
    made: dict[tuple[int, ...], int] = {}
    result: list[Op] = []
    for op in ops:
        if op.kind != "concat":
            result.append(op)
            continue
        if len(op.inputs) == 1 or op.inputs in made:
            same = op.inputs[0] if len(op.inputs) == 1 else made[op.inputs]
            result.append(dataclasses.replace(op, kind="alias", inputs=(same,)))
            continue
        made[op.inputs] = op.output
        for cut in range(len(op.inputs) - 1, 1, -1):
            earlier = made.get(op.inputs[:cut])
            if earlier is not None:
                op = dataclasses.replace(op, inputs=(earlier, *op.inputs[cut:]))
                break
        result.append(op)
    return result
