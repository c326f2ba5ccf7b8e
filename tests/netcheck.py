"""The network oracle's verdict: what convcalc says about a spec's text against what torch
measures for the same description, layer by layer, with the constructs each network used
and a shrinker that makes a disagreement's network small.

Compared, when both accept: every layer's output shape, parameters, non-trainable buffers
(torch's, without ``num_batches_tracked``) and MACs; the totals; the final receptive field
(by gradient, ``nettorch.extents``) where every layer is a window of its input and convcalc
reports no misaligned merge. When torch refuses, convcalc must report an error at the same
layer (or refuse the spec at load); convcalc's ``non-integer-size`` errors (lossy sizes,
which torch floors) are its documented policy and counted apart, not as disagreements.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from convcalc.analysis import analyze
from convcalc.language import load_text
from convcalc.layers import KINDS
from convcalc.problem import ERROR, Problem
from convcalc.report import ReceptiveField
from tests.netspec import REQUIRED, Call, Expr, Group, Leaf, Merge, Net, Node, render
from tests.nettorch import Extent, Truth, extents, measure

POLICY = "non-integer-size"  # convcalc refuses lossy sizes that torch floors: by design


@dataclass(frozen=True)
class LeafRow:
    name: str
    kind: str
    shape: tuple[int, ...]
    params: int
    buffers: int
    macs: int


@dataclass
class View:
    """What convcalc says about a spec's text."""

    loaded: bool = False
    crash: str | None = None
    rows: list[LeafRow] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    params: int = 0
    buffers: int = 0
    macs: int = 0
    output: tuple[int, ...] = ()
    field: tuple[ReceptiveField, ...] = ()

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.level == ERROR and p.code != POLICY]

    @property
    def lossy(self) -> bool:
        return any(p.code == POLICY for p in self.problems)

    def codes(self) -> str:
        return ",".join(sorted({p.code for p in self.errors})) or "-"


def view_of(text: str) -> View:
    try:
        loaded = load_text(text, "oracle.yaml")
        if loaded.model is None:
            return View(problems=list(loaded.problems))
        report = analyze(loaded.model, known=loaded.problems)
    except Exception as exc:  # a traceback is a finding, whatever it is
        return View(crash=f"{type(exc).__name__}: {exc}")
    rows = [LeafRow(r.name, r.kind, (r.output_shape.channels, *r.output_shape.spatial),
                    r.params, r.non_trainable_params, r.macs)
            for r in report.rows[1:] if r.kind in KINDS and r.rows_below == 0]
    top = [r for r in report.rows if r.depth == 0]
    t = report.totals
    return View(True, None, rows, list(report.problems), t.params, t.non_trainable_params,
                t.macs, (t.output_shape.channels, *t.output_shape.spatial),
                top[-1].receptive_field)


@dataclass(frozen=True)
class Finding:
    category: str  # stable across networks: what disagreed, and at which kind of layer
    detail: str


@dataclass
class Verdict:
    outcome: str  # accepted, refused, lossy (policy) or disagree
    findings: list[Finding]
    text: str
    truth: Truth
    view: View


def judge(net: Net, receptive: bool = True, text: str | None = None) -> Verdict:
    """The verdict on a network; ``text`` gives convcalc another spec (to test the oracle)."""
    text = render(net) if text is None else text
    truth = measure(net)
    view = view_of(text)
    findings: list[Finding] = []
    if view.crash is not None:
        findings.append(Finding(f"convcalc crashes: {view.crash.split(':')[0]}", view.crash))
    elif truth.refused is not None:
        findings += refusals(truth, view)
    else:
        findings += acceptance(truth, view)
        if receptive and not findings and view.loaded and not view.errors:
            findings += fields(net, view)
    if findings:
        outcome = "disagree"
    elif truth.refused is not None:
        outcome = "refused"
    else:
        outcome = "lossy (policy)" if view.lossy else "accepted"
    return Verdict(outcome, findings, text, truth, view)


def refusals(truth: Truth, view: View) -> list[Finding]:
    assert truth.refused is not None
    where = len(truth.records)
    reason = f"torch ({truth.refused.by}): {truth.refused.reason}"
    if not view.errors:
        kind = kind_at(truth.refused.reason)
        return [Finding(f"torch refuses, convcalc accepts: {kind}", reason)]
    findings = same_layers(truth, view, min(where, len(view.rows)))
    if view.loaded and len(view.rows) < where:
        row = truth.records[len(view.rows)]
        findings.append(Finding(f"convcalc refuses, torch accepts: {row.kind} "
                                f"[{view.codes()}]", f"{first(view.errors)}; then {reason}"))
    elif view.loaded and len(view.rows) > where:
        kind = view.rows[where].kind
        findings.append(Finding(f"torch refuses, convcalc accepts: {kind}",
                                f"{reason}; convcalc: {first(view.errors)}"))
    return findings


def kind_at(reason: str) -> str:
    match = re.match(r"([a-z-]+):", reason)
    return match.group(1) if match and match.group(1) in KINDS else reason.split(":")[0][:40]


def first(problems: list[Problem]) -> str:
    return str(problems[0]) if problems else "-"


def acceptance(truth: Truth, view: View) -> list[Finding]:
    if not view.loaded or view.errors:
        kind = truth.records[len(view.rows)].kind if view.loaded and \
            len(view.rows) < len(truth.records) else "load"
        return [Finding(f"convcalc refuses, torch accepts: {kind} [{view.codes()}]",
                        first(view.errors))]
    findings = []
    if len(view.rows) != len(truth.records):
        findings.append(Finding("structure: number of layers",
                                f"convcalc {len(view.rows)}, torch {len(truth.records)}"))
    findings += same_layers(truth, view, min(len(view.rows), len(truth.records)))
    for aspect, ours, theirs in (("params", view.params, truth.params),
                                 ("buffers", view.buffers, truth.buffers),
                                 ("macs", view.macs, truth.macs),
                                 ("output", view.output, truth.output)):
        if ours != theirs:
            findings.append(Finding(f"total {aspect}", f"convcalc {ours}, torch {theirs}"))
    return findings


def same_layers(truth: Truth, view: View, count: int) -> list[Finding]:
    findings: list[Finding] = []
    seen: set[str] = set()
    for row, record in zip(view.rows[:count], truth.records[:count], strict=True):
        if row.kind != record.kind:
            return [*findings, Finding("structure: layer kinds",
                                       f"{row.name}: convcalc {row.kind}, torch {record.kind}")]
        for aspect in ("shape", "params", "buffers", "macs"):
            ours, theirs = getattr(row, aspect), getattr(record, aspect)
            category = f"{aspect}: {row.kind}"
            if ours != theirs and category not in seen:
                seen.add(category)
                findings.append(Finding(category, f"{row.name}: convcalc {ours}, torch {theirs}"))
    return findings


def fields(net: Net, view: View) -> list[Finding]:
    """The final receptive field against torch's gradient.

    Skipped after a lossy size: the field's formula (Araujo et al.) maps the windows a
    floored layer dropped back onto input that no layer reads, where the gradient is 0;
    and after a misaligned merge, where convcalc keeps the largest field by design.
    The gradient is taken twice where squeeze-and-excitation gates are used: not through
    the gates (the field as convcalc counts it, so that the rest is still checked), then
    through them.
    """
    if view.lossy or any(p.code == "misaligned-merge" for p in view.problems) or \
            not view.field:  # no field: the whole input, after a flatten or dense layer
        return []
    if any(not isinstance(v, int) for f in view.field for v in (f.size, f.stride, f.pad)):
        return []
    gated = "mul (SE broadcast)" in constructs(net)
    for cut in (True, False) if gated else (False,):
        found = extents(net, cut_gates=cut)
        if found is None:
            return []
        out, positions = found
        for extent in positions:
            wrong = window_disagrees(view.field, extent, net.spatial)
            if wrong:
                category = "receptive field (with a broadcast mul)" if gated and not cut else \
                    field_category(net, view.field, extent)
                return [Finding(category, f"output {extent.position} of {out}: {wrong} "
                                f"(convcalc r, j, P = "
                                f"{[(f.size, f.stride, f.pad) for f in view.field]})")]
    return []


def field_category(net: Net, field: tuple[ReceptiveField, ...], extent: Extent) -> str:
    """A known way convcalc's one field per tensor differs from the gradient: branches of a
    split that see parts of the channels with fields of their own (the largest field
    kept, plus a later branch's window, is too large)."""
    assert extent.spans is not None
    inside = all(n * int(f.stride) - int(f.pad) <= lo and hi <= n * int(f.stride) -
                 int(f.pad) + int(f.size) - 1 for f, n, (lo, hi) in
                 zip(field, extent.position, extent.spans, strict=True))
    if inside and {"split (parts)", "split (equal)"} & constructs(net):
        return "receptive field (too large after a split)"
    return "receptive field"


def window_disagrees(field: tuple[ReceptiveField, ...], extent: Extent,
                     sizes: tuple[int, ...]) -> str:
    """How the gradient's span disagrees with the field ``n·j − P … n·j − P + r − 1``.

    The field is the span of every tap; the gradient reaches its first and last tap
    whenever they are real input (the taps in between may skip positions: stride gaps,
    dilation). Where the field runs past the input, the gradient's end may stop short of
    the input's (in a stride gap), so only containment is checked there.
    """
    if extent.spans is None:
        return ""
    for axis, (f, n, i, (lo_t, hi_t)) in enumerate(zip(field, extent.position, sizes,
                                                        extent.spans, strict=True)):
        lo = n * int(f.stride) - int(f.pad)
        hi = lo + int(f.size) - 1
        if lo_t < lo or hi_t > hi or (lo >= 0 and lo_t != lo) or (hi <= i - 1 and hi_t != hi):
            return f"axis {axis}: convcalc {lo}..{hi} (input 0..{i - 1}), gradient {lo_t}..{hi_t}"
    return ""


# --- the constructs a network uses -----------------------------------------------------

FUNCTION = re.compile(r"\b(make_divisible|min|max|round|floor|ceil|int)\(")
SHAPE_WORDS = re.compile(r"\b(channels|height|width|length|depth)\b")


def constructs(net: Net) -> set[str]:
    tags = {f"input {len(net.spatial)}-D"}
    for block in net.blocks.values():
        tags.add("block")
        if any(isinstance(default, Expr) for _, default in block.params):
            tags.add("block: default computed")
        if block.params and all(default is REQUIRED for _, default in block.params):
            tags.add("block: required args")
        if isinstance(block.body, Merge):
            tags.add("block: one merge")
            tags |= node_tags(block.body, in_block=True)
        else:
            for node in block.body:
                tags |= node_tags(node, in_block=True)
    for node in net.items:
        tags |= node_tags(node, in_block=False)
    return tags


def node_tags(node: Node, in_block: bool) -> set[str]:
    tags: set[str] = set()
    if node.repeat is not None:
        tags.add("repeat 0" if node.repeat == 0 else "repeat")
    if node.cond is not None:
        tags.add("if")
    values: list[Any] = [node.repeat, node.cond]
    if isinstance(node, Leaf):
        tags |= leaf_tags(node)
        values += list(node.fields.values())
    elif isinstance(node, Merge):
        tags.add(node.op if node.op != "split" else
                 "split (parts)" if node.parts else "split (equal)")
        if node.op == "mul" and any(b and isinstance(b[0], Leaf) and
                                    b[0].kind == "global-avgpool" for b in node.branches):
            tags.add("mul (SE broadcast)")
        if node.bare:
            tags.add("branch as one item")
        for branch in node.branches:
            if not branch:
                tags.add("identity branch []")
            for inner in branch:
                tags |= node_tags(inner, in_block)
    elif isinstance(node, Group):
        tags.add("layers: group")
        for inner in node.items:
            tags |= node_tags(inner, in_block)
    else:
        tags.add("block call" + (" (nested)" if in_block else ""))
        values += list(node.args.values())
    for value in flatten_values(values):
        if isinstance(value, Expr):
            tags.add("$(…) expression")
            tags |= {f"$(…) {m}" for m in FUNCTION.findall(value.text)}
            tags |= {f"$(…) reads {m}" for m in SHAPE_WORDS.findall(value.text)}
    return tags


def flatten_values(values: list[Any]) -> Iterator[Any]:
    for v in values:
        if isinstance(v, list | tuple):
            yield from flatten_values(list(v))
        else:
            yield v


def leaf_tags(leaf: Leaf) -> set[str]:
    kind = leaf.kind if not leaf.kind.startswith("$") else "kind from an argument"
    tags = {kind}
    f = leaf.fields
    if leaf.short and kind in ("conv", "depthwise", "separable", "conv-transpose", "maxpool",
                               "avgpool", "fc"):
        tags.add("shorthand")
    if leaf.alias:
        tags.add("alias")
    pad = f.get("pad")
    if isinstance(pad, str):
        tags.add(f"pad {pad}")
    elif isinstance(pad, list) and pad and isinstance(pad[0], list):
        tags.add("pad [[before, after]]")
    elif isinstance(pad, tuple):
        tags.add("pad per axis")
    for key in ("groups", "dilation", "output_padding", "multiplier", "inputs"):
        if key in f:
            tags.add(f"{kind} {key}")
    if f.get("stride") not in (None, 1):
        tags.add(f"{kind} stride")
    if f.get("ceil"):
        tags.add(f"{kind} ceil")
    if f.get("keepdims") is False:
        tags.add("keepdims false")
    if "act" in f:
        tags.add("fused act")
    if "mode" in f and kind == "upsample":
        tags.add(f"upsample {f['mode']}")
    return tags


# --- shrinking -------------------------------------------------------------------------

def node_lists(net: Net) -> list[list[Node]]:
    """Every list of items in the network, in a fixed order."""
    found: list[list[Node]] = []

    def visit(items: list[Node]) -> None:
        found.append(items)
        for node in items:
            visit_node(node)

    def visit_node(node: Node) -> None:
        if isinstance(node, Group):
            visit(node.items)
        elif isinstance(node, Merge):
            for branch in node.branches:
                visit(branch)

    visit(net.items)
    for block in net.blocks.values():
        if isinstance(block.body, Merge):
            visit_node(block.body)
        else:
            visit(block.body)
    return found


def all_nodes(net: Net) -> list[Node]:
    return [node for items in node_lists(net) for node in items] + \
        [b.body for b in net.blocks.values() if isinstance(b.body, Merge)]


def variants(net: Net) -> Iterator[Net]:
    """Smaller versions of a network, one change each."""
    for li, items in enumerate(node_lists(net)):
        for ii, node in enumerate(items):
            smaller = copy.deepcopy(net)
            node_lists(smaller)[li].pop(ii)
            yield smaller
            # a group or a merge replaced by what it holds (a merge: one of its branches)
            contents = [node.items] if isinstance(node, Group) else \
                node.branches if isinstance(node, Merge) and node.op != "split" else []
            for index in range(len(contents)):
                smaller = copy.deepcopy(net)
                where = node_lists(smaller)[li]
                inner = where[ii]
                assert isinstance(inner, Group | Merge)
                where[ii:ii + 1] = inner.items if isinstance(inner, Group) else \
                    inner.branches[index]
                yield smaller
    for ni, node in enumerate(all_nodes(net)):
        for change in node_changes(node):
            smaller = copy.deepcopy(net)
            change(all_nodes(smaller)[ni])
            yield smaller
    used = {n.block for n in all_nodes(net) if isinstance(n, Call)}
    for name in net.blocks:
        if name not in used:
            smaller = copy.deepcopy(net)
            del smaller.blocks[name]
            yield smaller
    for axis, size in enumerate(net.spatial):
        for new in (size // 2, size - 1):
            if new >= 1:
                smaller = copy.deepcopy(net)
                smaller.spatial = tuple(new if a == axis else s
                                        for a, s in enumerate(net.spatial))
                yield smaller
    if net.channels > 1:
        smaller = copy.deepcopy(net)
        smaller.channels = max(1, net.channels // 2)
        yield smaller


def clearing(attribute: str, value: Any) -> Callable[[Any], None]:
    def change(node: Any) -> None:
        setattr(node, attribute, value)
    return change


def node_changes(node: Node) -> Iterator[Callable[[Any], None]]:
    if node.repeat is not None:
        yield clearing("repeat", None)
    if node.cond is not None:
        yield clearing("cond", None)
    if isinstance(node, Leaf):
        if node.short:
            yield clearing("short", False)
        if node.alias:
            yield clearing("alias", None)
        for key in list(node.fields):
            if key not in ("filters", "k", "units", "groups", "out", "pad") or \
                    (key == "pad" and not isinstance(node.fields[key], int)):
                yield dropping_field(key)
    if isinstance(node, Merge) and len(node.branches) > 1:
        for index in range(len(node.branches)):
            yield dropping_branch(index)


def dropping_field(key: str) -> Callable[[Any], None]:
    def change(leaf: Any) -> None:
        leaf.fields.pop(key)
    return change


def dropping_branch(index: int) -> Callable[[Any], None]:
    def change(merge: Any) -> None:
        drop_branch(merge, index)
    return change


def drop_branch(merge: Merge, index: int) -> None:
    merge.branches.pop(index)
    if merge.parts is not None:  # its channels go to a neighbour: the parts still add up
        part = merge.parts.pop(index)
        if isinstance(part, int) and merge.parts and isinstance(merge.parts[0], int):
            merge.parts[max(0, index - 1)] += part
    merge.bare = {i - (i > index) for i in merge.bare if i != index}


def shrink(net: Net, category: str, budget: int = 400) -> Net:
    """A smaller network that still shows ``category`` (greedy, one change at a time)."""
    def shows(candidate: Net) -> bool:
        try:
            return any(f.category == category for f in judge(candidate).findings)
        except Exception:
            return False

    tries = 0
    changed = True
    while changed and tries < budget:
        changed = False
        for candidate in variants(net):
            tries += 1
            if tries >= budget:
                break
            if shows(candidate):
                net, changed = candidate, True
                break
    return net

