"""A model as spec text: the inverse of the reader, for ``convcalc import``.

``write_spec(model)`` returns YAML that :func:`convcalc.language.load_text` reads back to
the same layers, names, merges and numbers, written as a person would: shorthand where it is
exact, ``defaults`` for what every layer of a kind shares, ``repeat`` for runs, and blocks
with arguments for subgraphs that repeat up to their widths and strides (see
docs/design.md, "The writer").

The writer checks its own text: it reads it back and compares every layer; should the
structured text ever differ, it writes the plain form (every layer in place), which is
exact by construction.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Sequence
from functools import cache
from typing import Any, Literal

from convcalc.language.discover import Discovery, prune
from convcalc.language.emit import Emitter
from convcalc.language.structure import Naming, convert, fields_of, flatten, leaves, parts
from convcalc.language.unify import Features
from convcalc.language.written import Document, kind_fields
from convcalc.model import LayerNode, Merge, Model

Names = Literal["keep", "informative"]


class WriteError(ValueError):
    """The model has a value the spec language cannot write (the text would not read back
    to it)."""


def write_spec(model: Model, names: Names = "keep", notes: Sequence[str] = ()) -> str:
    """The spec text of ``model``.

    ``names="keep"`` writes every layer's name, so the spec's layers are named as the
    model's (inside a merge the reader adds the merge's ``add1.b1.`` to names that do not
    already carry it); ``"informative"`` drops names that say no more than the kind and the
    position (``conv1``, ``features.0``, ``relu_2``), which lets more runs fold.
    ``notes`` become comment lines at the top. The model's ``expect`` claims (an importer
    gives the real model's totals) and ``budget`` are written as they are.
    """
    text = compose_spec(model, names, notes)
    if same_model(model, text, names):
        return text
    text = compose_spec(model, names, notes, plain=True)  # pragma: no cover - a writer bug
    if same_model(model, text, names):  # pragma: no cover
        return text
    raise WriteError(f"{model.name}: the spec language cannot say this model exactly "
                     "(a layer's value has no written form)")


def compose_spec(model: Model, names: Names = "keep", notes: Sequence[str] = (),
                 plain: bool = False) -> str:
    """The spec text of ``model``, unchecked (:func:`write_spec` checks it); ``plain``
    writes every layer in place, with no blocks."""
    flat = flatten(model.layers)
    keep = names == "keep"
    trees = parts(flat, units=not keep)  # cutting at merges would rename the layers
    discovery = Discovery(trees, keep, language_features())
    if not plain:
        discovery.run(model.input)
    layers = tuple(convert(trees, Naming("", "", keep)))
    blocks, layers = prune(discovery.blocks, layers, in_place=not keep)
    document = Document(
        name=model.name, source=model.source, input=str(model.input),
        defaults=shared_defaults(flat),
        expect=tuple((claim.key, claim.value) for claim in model.expect),
        budget=tuple((claim.key, claim.value) for claim in model.budget),
        blocks=tuple(blocks), layers=layers, notes=tuple(notes), rules=model.rules)
    return Emitter(document, discovery.members).text()


@cache
def language_features() -> Features:
    """What the reader of this version can say: tried on small specs, once."""
    from convcalc.language import load_text

    def reads(text: str) -> bool:
        return load_text(text, "probe.yaml").ok

    return Features(
        conditionals=reads("input: 8x8x3\nlayers:\n  - relu: null\n    if: false\n"),
        repeat_zero=reads("input: 8x8x3\nlayers:\n  - relu: null\n    repeat: 0\n"),
        channels=reads("input: 8x8x3\nblocks:\n  b: {layers: [conv1-$(channels*2)]}\n"
                       "layers: [b]\n"))


def shared_defaults(flat: Sequence[LayerNode | Merge]) -> tuple[
        tuple[str, tuple[tuple[str, Any], ...]], ...]:
    """Settings every layer of a kind shares (``conv: {bias: false}``), for ``defaults``.

    Only settings a layer would otherwise repeat: not the kernel, the width or the stride,
    which the shorthand says, and only for kinds with two layers or more.
    """
    from convcalc.layers import KINDS

    values: dict[str, dict[str, set[Any]]] = {}
    counts: Counter[str] = Counter()
    layers: dict[int, tuple[str, Any]] = {}  # by identity: the reader makes equal layers one
    for node in leaves(flat):
        counts[node.kind] += 1
        layers[id(node.layer)] = (node.kind, node.layer)
    for kind, layer in layers.values():
        own = values.setdefault(kind, {})
        for key, value in fields_of(layer):
            own.setdefault(key, set()).add(value)
    found = []
    for kind, fields in sorted(values.items()):
        cls = KINDS[kind]
        spoken = {cls.kernel_field, cls.count_field, "stride"}
        shared = tuple((f.name, next(iter(fields[f.name]))) for f in kind_fields(cls)
                       if f.name not in spoken and f.default is not dataclasses.MISSING
                       and len(fields[f.name]) == 1 and next(iter(fields[f.name])) != f.default)
        if shared and counts[kind] >= 2:
            found.append((kind, shared))
    return tuple(found)


def _signature(model: Model, names: bool) -> list[tuple[Any, ...]]:
    """What must read back the same: each layer and merge in order, named or not."""
    found: list[tuple[Any, ...]] = []

    def walk(nodes: Sequence[LayerNode | Merge]) -> None:
        for node in nodes:
            if isinstance(node, LayerNode):
                found.append((node.name if names else "", node.kind, node.layer,
                              node.waiver.status if node.waiver else None,
                              node.waiver.reason if node.waiver else None))
            else:
                found.append((node.name if names else "", node.op, len(node.branches),
                              node.parts))
                for branch in node.branches:
                    found.append(("branch",))
                    walk(branch)  # type: ignore[arg-type]
                found.append(("end",))

    walk(flatten(model.layers))
    return found


def same_model(model: Model, text: str, names: Names) -> bool:
    """Whether ``text`` reads back to ``model``'s layers (and names, when they are kept)."""
    from convcalc.language import load_text

    loaded = load_text(text, model.path or "written.yaml")
    if loaded.model is None:
        return False
    exact_names = names == "keep" and not _renamed_by_merges(model)
    return loaded.model.rules == model.rules and \
        _signature(loaded.model, exact_names) == _signature(model, exact_names)


def _renamed_by_merges(model: Model) -> bool:
    """Whether a merge holds layers whose names lack the reader's ``merge.bK.`` path."""
    def check(nodes: Sequence[LayerNode | Merge]) -> bool:
        for node in nodes:
            if isinstance(node, Merge):
                for number, branch in enumerate(node.branches, 1):
                    if any(not inner.name.startswith(f"{node.name}.b{number}.")
                           for inner in branch) or check(branch):  # type: ignore[arg-type]
                        return True
        return False
    return check(flatten(model.layers))
