"""The writer (``convcalc.language.writer``): a model as spec text that reads back to the same
layers, names and numbers, folded and blocked as a person would write it."""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from convcalc.analysis import analyze
from convcalc.language import bundled, load_file, load_text
from convcalc.language.structure import flatten, informative
from convcalc.language.writer import Names, compose_spec, same_model, write_spec
from convcalc.layers import KINDS
from convcalc.layers.merge import MERGES
from convcalc.model import Claim, Group, LayerNode, Merge, Model
from convcalc.model import Node as ModelNode
from convcalc.problem import Where

GOOD = sorted((Path(__file__).parent / "specs" / "good").glob("*.yaml"))
MODES: tuple[Names, ...] = ("keep", "informative")
FUZZ = settings(max_examples=int(os.environ.get("CONVCALC_FUZZ_EXAMPLES", "60")),
                deadline=None, suppress_health_check=[HealthCheck.too_slow])


def specs() -> list[Path]:
    paths = [path for path in bundled().values() if load_file(path).model is not None]
    return sorted(paths) + GOOD


def rows(model: Model, names: bool) -> list[tuple[Any, ...]]:
    """Each layer's and merge's row: name, kind, shapes, params, buffers, MACs, memory."""
    report = analyze(model)
    assert not [p for p in report.problems if p.level == "error"], report.problems
    return [(row.name if names else "", row.kind, row.input_shape, row.output_shape,
             row.params, row.non_trainable_params, row.macs, row.activations)
            for row in report.rows if row.kind in KINDS or row.kind == "input" or
            (row.kind in MERGES and row.branches)]  # not a block's row (a block may be `split`)


def totals(model: Model) -> tuple[Any, ...]:
    t = analyze(model).totals
    return (t.params, t.non_trainable_params, t.macs, t.activations, t.output_shape)


def read(text: str) -> Model:
    loaded = load_text(text, "written.yaml")
    assert loaded.ok, (loaded.problems, text)
    assert loaded.model is not None
    return loaded.model


def assert_round_trip(model: Model, names: Names, exact_names: bool = True) -> str:
    text = compose_spec(model, names)
    back = read(text)
    keep = names == "keep" and exact_names
    assert rows(back, keep) == rows(model, keep), text
    assert totals(back) == totals(model)
    for claims, written in ((model.expect, back.expect), (model.budget, back.budget)):
        assert [(c.key, c.value) for c in written] == [(c.key, c.value) for c in claims]
    assert (back.name, back.source, back.input) == (model.name, model.source, model.input)
    assert same_model(model, text, names)
    return text


@pytest.mark.parametrize("names", MODES)
@pytest.mark.parametrize("path", specs(), ids=lambda p: p.stem)
def test_every_bundled_spec_reads_back_to_the_same_rows(path: Path, names: Names) -> None:
    model = load_file(path).model
    assert model is not None
    assert_round_trip(model, names)


def readme_specs() -> list[str]:
    """The README's examples that are whole specs (ShuffleNet's split, MobileNetV3's
    conditions, …)."""
    import re

    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"^```yaml\n(.*?)^```", readme, re.M | re.S)
    loaded = [load_text(block, "readme.yaml") for block in blocks]
    return [block for block, spec in zip(blocks, loaded, strict=True) if spec.model is not None
            and spec.ok and not any(p.level == "error" for p in analyze(spec.model).problems)]


@pytest.mark.parametrize("names", MODES)
@pytest.mark.parametrize("spec", readme_specs(), ids=lambda s: s.splitlines()[0][:40])
def test_every_readme_example_reads_back_to_the_same_rows(spec: str, names: Names) -> None:
    model = read(spec)
    assert_round_trip(model, names)


def test_write_spec_is_deterministic_and_a_fixed_point() -> None:
    model = load_file(bundled()["inception-v3"]).model
    assert model is not None
    text = write_spec(model)
    assert write_spec(model) == text
    assert write_spec(read(text)) == text  # written again, the spec does not change


def test_the_text_does_not_depend_on_hash_seeds() -> None:
    import subprocess
    import sys

    code = ("from convcalc.language import bundled, load_file\n"
            "from convcalc.language.writer import write_spec\n"
            "print(write_spec(load_file(bundled()['googlenet']).model, 'informative'))")
    texts = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, env={**os.environ, "PYTHONHASHSEED": seed}).stdout
             for seed in ("1", "2")}
    assert len(texts) == 1 and "blocks:" in texts.pop()


# --- torchvision's names ------------------------------------------------------------------


def _named(node: ModelNode, name: str) -> Any:
    return dataclasses.replace(node, name=name)


def torchvision_resnet(spec: str = "resnet50", blocks: tuple[int, ...] = (3, 4, 6, 3)) -> Model:
    """A bundled ResNet as an importer gives it: flat, named like torchvision's modules
    (``layer2.0.downsample.0``), merges named after their module (``layer2.0.add``)."""
    model = load_file(bundled()[spec]).model
    assert model is not None
    flat = iter(flatten(model.layers))
    out: list[LayerNode | Merge] = [_named(next(flat), n) for n in
                                    ("conv1", "bn1", "relu", "maxpool")]
    for stage, count in enumerate(blocks, 1):
        for index in range(count):
            prefix = f"layer{stage}.{index}."
            merge = next(flat)
            assert isinstance(merge, Merge)
            main, short = merge.branches
            names = ["conv1", "bn1", "relu", "conv2", "bn2", "relu_1", "conv3", "bn3"]
            main = tuple(_named(node, prefix + n) for node, n in zip(main, names, strict=False))
            short = tuple(_named(node, f"{prefix}downsample.{i}") for i, node in enumerate(short))
            out.append(dataclasses.replace(merge, name=prefix + "add", branches=(main, short)))
            out.append(_named(next(flat), prefix + ("relu_2" if len(main) == 8 else "relu_1")))
    out += [_named(next(flat), n) for n in ("avgpool", "flatten", "fc")]
    assert next(flat, None) is None
    return dataclasses.replace(model, layers=tuple(out), name=spec,
                               source=f"torchvision:{spec}")


def torchvision_vgg16() -> Model:
    """VGG-16 as torchvision builds it (separate ReLUs, `features.N`, `classifier.N`)."""
    lines, index = [], 0
    for width in (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512,
                  512, 512, "M"):
        items = ["maxpool"] if width == "M" else [f"conv3-{width}-p1", "relu"]
        for item in items:
            lines.append(f"  - {item}: {{name: features.{index}}}")
            index += 1
    lines += ["  - adaptive-avgpool: {out: 7, name: avgpool}", "  - flatten"]
    lines += [f"  - {item}: {{name: classifier.{i}}}" for i, item in enumerate(
        ["fc-4096", "relu", "dropout", "fc-4096", "relu", "dropout", "fc-1000"])]
    return read("name: vgg16\nsource: torchvision:vgg16\ninput: 224x224x3\nexpect:\n"
                "  params: 138357544\nlayers:\n" + "\n".join(lines) + "\n")


def calls(nodes: tuple[ModelNode, ...], block: str) -> int:
    count = 0
    for node in nodes:
        if isinstance(node, Group):
            count += (node.block == block) + calls(node.children, block)
        elif isinstance(node, Merge):
            count += sum(calls(branch, block) for branch in node.branches)
    return count


@pytest.mark.parametrize("names", MODES)
def test_resnet50_is_short_and_its_bottleneck_is_one_block(names: Names) -> None:
    for model in (load_file(bundled()["resnet50"]).model, torchvision_resnet()):
        assert model is not None
        text = assert_round_trip(model, names, exact_names=False)
        assert len(text.splitlines()) <= 60, text
        back = read(text)
        # one block holds the merge of every bottleneck: 16 calls, projection or not
        holders = {node.block for node in _groups(back.layers)
                   if any(isinstance(child, Merge) for child in node.children)}
        assert len(holders) == 1, text
        assert calls(back.layers, holders.pop()) == 16


def _groups(nodes: tuple[ModelNode, ...]) -> list[Group]:
    found = []
    for node in nodes:
        if isinstance(node, Group):
            found += [node, *_groups(node.children)]
        elif isinstance(node, Merge):
            for branch in node.branches:
                found += _groups(branch)
    return found


def test_torchvision_resnet50_without_names_reads_like_the_paper() -> None:
    text = assert_round_trip(torchvision_resnet(), "informative")
    assert """
  residual:
    args: {filters: 256, stride: 1}
    layers:
      - add:
          - [conv1-$filters, bn, relu, conv3-$filters-s$stride-p1, bn, relu, conv1-$(filters*4), bn]
          - [{layers: [conv1-$(filters*4)-s$stride, bn], if: $(channels != filters*4)}]
      - relu
  layer:
    args: {filters: 64, stride: 2, n: 2}
    layers:
      - residual: {filters: $filters, stride: $stride}
      - residual: {filters: $filters}
        repeat: $n
""" in text
    assert " name:" not in text  # torchvision's names say no more than kind and position


def generated_names(nodes: tuple[Any, ...], counts: dict[str, int]) -> tuple[Any, ...]:
    """Names as some ONNX files have them: ``Conv_12``, ``Add_3``, no modules."""
    found = []
    for node in nodes:
        kind = node.op if isinstance(node, Merge) else node.kind
        counts[kind] = counts.get(kind, -1) + 1
        if isinstance(node, Merge):
            node = dataclasses.replace(node, branches=tuple(
                generated_names(branch, counts) for branch in node.branches))
        found.append(dataclasses.replace(node, name=f"{kind.capitalize()}_{counts[kind]}"))
    return tuple(found)


def test_without_module_names_a_merge_and_its_activation_make_the_block() -> None:
    model = torchvision_resnet()
    model = dataclasses.replace(model, layers=generated_names(flatten(model.layers), {}))
    text = assert_round_trip(model, "informative", exact_names=False)
    back = read(text)
    assert [block for block in {g.block for g in _groups(back.layers)}
            if calls(back.layers, block) == 16] == ["residual"], text
    assert len(text.splitlines()) <= 40


def test_torchvision_resnet50_keeps_its_module_names() -> None:
    model = torchvision_resnet()
    back = read(assert_round_trip(model, "keep", exact_names=False))
    outside = {node.name for node in flatten(model.layers)}
    # Layers outside merges keep their names exactly; inside, the reader adds the merge's
    # own path: layer1.0.add.b1.conv1 for layer1.0.conv1.
    read_back = [node.name for node in flatten(back.layers)]
    assert outside <= set(read_back)
    inner = [n.name for node in flatten(back.layers) if isinstance(node, Merge)
             for branch in node.branches for n in branch]
    assert "layer1.0.add.b1.conv1" in inner and "layer1.0.add.b2.downsample.0" in inner


@pytest.mark.parametrize("model", [load_file(bundled()["vgg16"]).model, torchvision_vgg16()],
                         ids=["bundled", "torchvision"])
def test_vgg16_is_at_most_40_lines(model: Model | None) -> None:
    assert model is not None
    text = assert_round_trip(model, "informative")
    assert len(text.splitlines()) <= 40, text


def test_shorthand_where_exact_long_form_otherwise_and_shared_defaults() -> None:
    model = read("input: 32x32x3\nbudget: {params: 10M, memory: 1GiB}\nlayers:\n"
                 "  - conv: {filters: 8, k: 3, pad: [[0, 1], [0, 1]], bias: false}\n"
                 "  - conv: {filters: 8, k: 1x3, stride: 2, pad: 0x1, bias: false}\n"
                 "  - conv: {filters: 8, k: 3, dilation: 2, pad: 2, bias: false, "
                 "act: relu}\n"
                 "  - leaky-relu: {slope: 0.2}\n  - maxpool: {k: 3, stride: 2, ceil: true}\n")
    text = assert_round_trip(model, "keep")
    assert "budget:\n  params: 10000000\n  memory: 1073741824\n" in text
    assert "conv: {bias: false}" in text  # defaults: every conv has no bias
    assert "- conv3-8: {pad: [[0, 1], [0, 1]]}" in text  # asymmetric: no shorthand for it
    assert "- conv1x3-8-s2-p0x1" in text
    assert "- conv3-8-d2-p2: {act: relu}" in text
    assert "- leaky-relu: {slope: 0.2}" in text and "- maxpool3-s2-ceil" in text


def test_arguments_relate_by_a_multiple_or_a_shift() -> None:
    """Module parts (b1, b2, b3) differing in widths become one block; a width that is
    another's plus 8 or a quarter of it is written as an expression of it."""
    body = "".join(f"  - conv3-{w}-p1: {{name: b{i}.conv1}}\n"
                   f"  - conv1-{w + 8}: {{name: b{i}.conv2}}\n"
                   f"  - conv1-{w // 4}: {{name: b{i}.conv3}}\n"
                   f"  - relu: {{name: b{i}.act}}\n"
                   for i, w in enumerate((16, 32, 64, 64), 1))
    model = read("input: 8x8x3\nlayers:\n" + body)
    text = assert_round_trip(model, "informative")
    assert "layers: [conv3-$filters-p1, conv1-$(filters+8), conv1-$(filters/4), relu]" in text
    assert "- b: {filters: 16}\n  - b: {filters: 32}\n  - repeat: 2\n    layers: [b]" in text
    keep = assert_round_trip(model, "keep")  # the reader names the calls b1, b2, …
    assert "- b: {filters: 16}\n" in keep and "relu: {name: act}" in keep


# --- hostile names ------------------------------------------------------------------------

HOSTILE = ['a"b', "a'b", "c: d", "x #y", "new\nline", "- item", "[x]", "{a: 1}", "&anchor",
           "*alias", "!tag", "%dir", "@at", "`tick", "? key", "| pipe", "> fold", "null",
           "true", "1e3", "0x3", "1:30", "~", "", " lead", "trail ", "$w", "$(w*2)", "a$b",
           "tab\there", "nul\x00", "bell\x07", "del\x7f", "ünïcødé", "😀", "\u2028sep",
           "\ufeffbom", "back\\slash", "x}\nlayers: []\ny: {", "...", "---", "#"]


@pytest.mark.parametrize("names", MODES)
def test_hostile_names_are_quoted_and_read_back_unchanged(names: Names) -> None:
    at = Where("hostile.onnx", 0, 0)
    relu = read("input: 4x4x2\nlayers: [relu]\n").layers[0]
    assert isinstance(relu, LayerNode)
    nodes = tuple(dataclasses.replace(relu, name=name, at=at) for name in HOSTILE)
    model = Model(name='m"\n: x', source="file: a #b\n- c", path="hostile.onnx",
                  input=read("input: 4x4x2\nlayers: [relu]\n").input, input_at=at,
                  layers=nodes, expect=(Claim("params", 0, at),))
    text = write_spec(model, names, notes=("imported from\nname: evil\r.onnx\x85\u2028", ""))
    back = read(text)
    assert text.startswith("# imported from\\nname: evil\\r.onnx\\x85\\u2028\n#\n")
    assert back.name == model.name and back.source == model.source
    read_back = [node.name for node in flatten(back.layers)]
    if names == "keep":
        assert read_back == list(HOSTILE)
    assert len(read_back) == len(HOSTILE)
    assert text.count("\nlayers:") == 1  # nothing injected a key


def test_hostile_names_inside_repeated_parts() -> None:
    """Names with `$` cannot be written inside a block (the reader would take them for
    arguments): such parts are written in place, names intact."""
    spec = ("input: 8x8x4\nlayers:\n" + "".join(
        f"  - conv3-4-p1: {{name: 'p{i}.$w'}}\n  - relu: {{name: 'p{i}.r: #'}}\n"
        for i in range(3)))
    model = read(spec)
    text = assert_round_trip(model, "keep")
    assert [n.name for n in flatten(read(text).layers)] == \
        [n.name for n in flatten(model.layers)]


def test_informative_names() -> None:
    assert not informative("features.0", "conv")
    assert not informative("layer1.0.relu_1", "relu")
    assert not informative("bottleneck3", "bottleneck")
    assert not informative("head1.global-avgpool1", "global-avgpool")
    assert informative("Mixed_5b", "branches")
    assert informative("layer1.0.downsample", "residual")


# --- random models ------------------------------------------------------------------------


@st.composite
def random_specs(draw: st.DrawFn) -> str:
    """Chains, merges (add, concat, mul, split), runs and blocks called with varying
    widths."""
    start = channels = draw(st.sampled_from([2, 3, 4, 8]))
    widths = st.sampled_from([2, 4, 6, 8, 16])
    blocks = ("blocks:\n"
              "  unit:\n    args: {w: 4, s: 1}\n"
              "    layers: [conv1-$w, bn, relu, conv3-$(w*2)-s$s-p1]\n"
              "  res:\n    args: {w: 4, c: 4}\n"
              "    layers: [add: [[conv1-$w, relu, conv3-$c-p1], []], relu]\n"
              "  inc:\n    args: {a: 4, b: 4}\n"
              "    concat: [[conv1-$a], [conv1-$b, conv3-$b-p1], [maxpool3-s1-p1]]\n")
    lines: list[str] = []
    size = 32
    for _ in range(draw(st.integers(1, 14))):
        choice = draw(st.sampled_from(["conv", "bn", "relu", "pool", "res", "unit", "inc",
                                       "add", "se", "split", "run", "named"]))
        if choice == "conv":
            width, k = draw(widths), draw(st.sampled_from([1, 3]))
            lines.append(f"  - conv{k}-{width}-p{k // 2}")
            channels = width
        elif choice in ("bn", "relu"):
            lines.append(f"  - {choice}")
        elif choice == "pool" and size % 2 == 0 and size >= 4:
            lines.append("  - maxpool")
            size //= 2
        elif choice == "res":
            lines.append(f"  - res: {{w: {draw(widths)}, c: {channels}}}")
        elif choice == "unit":
            width, stride = draw(widths), draw(st.sampled_from([1, 2])) if size >= 4 else 1
            lines.append(f"  - unit: {{w: {width}, s: {stride}}}")
            channels, size = 2 * width, (size - 1) // stride + 1
        elif choice == "inc":
            a, b = draw(widths), draw(widths)
            lines.append(f"  - inc: {{a: {a}, b: {b}}}")
            channels += a + b
        elif choice == "add":
            lines.append(f"  - add: [[conv3-{channels}-p1, bn], [conv1-{channels}], []]")
        elif choice == "split" and channels % 2 == 0:
            half = channels // 2
            lines.append(f"  - split: [[], [conv1-{half}, bn, relu, conv3-{half}-p1]]")
        elif choice == "split":
            width = draw(widths)
            lines.append(f"  - split: [[conv1-{width}], [conv3-4-p1]]\n"
                         f"    parts: [1, {channels - 1}]")
            channels = width + 4
        elif choice == "se":
            lines.append(f"  - mul: [[], [gap, conv1-{draw(widths)}, relu, conv1-{channels}, "
                         "sigmoid]]")
        elif choice == "run":
            lines.append(f"  - repeat: {draw(st.integers(2, 4))}\n    layers: "
                         f"[conv3-{channels}-p1, relu]")
        else:
            text = draw(st.text(st.characters(codec="ascii", categories=["L", "N", "P", "S",
                                                                         "Zs"]), max_size=6))
            lines.append(f"  - relu: {{name: {json_quote(text)}}}")
    return f"input: 32x32x{start}\n{blocks}layers:\n" + "\n".join(lines) + "\n"


def json_quote(text: str) -> str:
    import json

    return json.dumps(text)


@FUZZ
@given(random_specs(), st.sampled_from(MODES))
def test_random_models_survive_the_round_trip(spec: str, names: Names) -> None:
    loaded = load_text(spec, "random.yaml")
    assume(loaded.ok and loaded.model is not None)
    assert loaded.model is not None
    report = analyze(loaded.model)
    assume(not any(p.level == "error" for p in report.problems))
    assert_round_trip(loaded.model, names)


def importer_like(nodes: tuple[ModelNode, ...], strip: str = "", home: str = "") -> tuple[
        Any, ...]:
    """The nodes named as an importer names them: a merge's layers without the reader's
    ``add1.b1.`` (``stage1.add1.b1.unit2.conv1`` is ``stage1.unit2.conv1``)."""
    found: list[Any] = []
    for node in flatten(nodes):
        name = home + node.name.removeprefix(strip)
        if isinstance(node, Merge):
            node = dataclasses.replace(node, branches=tuple(
                importer_like(branch, f"{node.name}.b{number}.", name[:name.rfind(".") + 1])
                for number, branch in enumerate(node.branches, 1)))
        found.append(dataclasses.replace(node, name=name))
    return tuple(found)


@FUZZ
@given(random_specs(), st.sampled_from(MODES))
def test_random_imported_models_survive_the_round_trip(spec: str, names: Names) -> None:
    loaded = load_text(spec, "random.yaml")
    assume(loaded.ok and loaded.model is not None)
    assert loaded.model is not None
    assume(not any(p.level == "error" for p in analyze(loaded.model).problems))
    model = dataclasses.replace(loaded.model, layers=importer_like(loaded.model.layers))
    assert_round_trip(model, names, exact_names=False)


# --- speed --------------------------------------------------------------------------------


def test_a_10000_layer_model_is_written_in_well_under_a_second_per_5000() -> None:
    """Linear: 10,000 layers (alternating widths, so nothing folds into one run) take
    seconds at most even on a slow CI machine; benchmarks/writer.py measures it."""
    body = "".join(f"  - conv3-{8 + 8 * (i % 3)}-p1\n  - relu\n" for i in range(5000))
    model = read("input: 8x8x3\nlayers:\n" + body)
    start = time.perf_counter()
    text = write_spec(model)
    assert time.perf_counter() - start < 10
    assert len(text.splitlines()) < 20  # one run: repeat 1666 of six layers, and the rest
