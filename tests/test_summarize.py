"""`convcalc summarize`, the report and the Python API, against REFERENCE.md sections 2 and 4."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest

import convcalc
from convcalc.language import load_file, load_text
from convcalc.layers.conv import Conv
from convcalc.model import LayerNode
from tests.conftest import summary_json

GOOD = Path(__file__).parent / "specs" / "good"
Cli = Any

# REFERENCE.md section 2: (output, activations, weights without bias) for each VGG-16 layer.
VGG16_ROWS = [
    ([224, 224, 3], 224 * 224 * 3, 0),
    ([224, 224, 64], 224 * 224 * 64, 3 * 3 * 3 * 64),
    ([224, 224, 64], 224 * 224 * 64, 3 * 3 * 64 * 64),
    ([112, 112, 64], 112 * 112 * 64, 0),
    ([112, 112, 128], 112 * 112 * 128, 3 * 3 * 64 * 128),
    ([112, 112, 128], 112 * 112 * 128, 3 * 3 * 128 * 128),
    ([56, 56, 128], 56 * 56 * 128, 0),
    ([56, 56, 256], 56 * 56 * 256, 3 * 3 * 128 * 256),
    ([56, 56, 256], 56 * 56 * 256, 3 * 3 * 256 * 256),
    ([56, 56, 256], 56 * 56 * 256, 3 * 3 * 256 * 256),
    ([28, 28, 256], 28 * 28 * 256, 0),
    ([28, 28, 512], 28 * 28 * 512, 3 * 3 * 256 * 512),
    ([28, 28, 512], 28 * 28 * 512, 3 * 3 * 512 * 512),
    ([28, 28, 512], 28 * 28 * 512, 3 * 3 * 512 * 512),
    ([14, 14, 512], 14 * 14 * 512, 0),
    ([14, 14, 512], 14 * 14 * 512, 3 * 3 * 512 * 512),
    ([14, 14, 512], 14 * 14 * 512, 3 * 3 * 512 * 512),
    ([14, 14, 512], 14 * 14 * 512, 3 * 3 * 512 * 512),
    ([7, 7, 512], 7 * 7 * 512, 0),
    ([4096], 4096, 7 * 7 * 512 * 4096),
    ([4096], 4096, 4096 * 4096),
    ([1000], 1000, 4096 * 1000),
]


summary = summary_json


def test_vgg16_reproduces_the_memory_breakdown(cli: Cli) -> None:
    doc = summary(cli, "vgg16")
    kept = [row for row in doc["layers"] if row["activations"] or row["kind"] == "input"]
    assert [(r["output_shape"], r["activations"], r["weights"]) for r in kept] == VGG16_ROWS
    totals = doc["totals"]
    assert totals["activations"] == 15_237_608 == sum(a for _, a, _ in VGG16_ROWS)
    assert totals["activation_bytes"] == 15_237_608 * 4
    assert totals["weights"] == 138_344_128 == sum(w for _, _, w in VGG16_ROWS)
    assert totals["params"] == 138_357_544
    assert totals["macs"] == 15_470_264_320 and totals["flops"] == 2 * totals["macs"]
    assert totals["output_shape"] == [1000]
    assert doc["problems"] == []


def test_vgg16_table_states_totals_and_units(cli: Cli) -> None:
    run = cli("summarize", "vgg16")
    assert run.code == 0
    for text in ("15,237,608", "60.95 MB", "58.13 MiB", "138,357,544", "15,470,264,320 MACs",
                 "FLOPs = 2 × MACs", "3,211,264", "batch 1", "float32"):
        assert text in run.out, text


def test_json_has_the_design_keys_and_is_byte_identical(cli: Cli) -> None:
    first = cli("summarize", "vgg16", "--format", "json").out
    assert first == cli("summarize", "vgg16", "--format", "json").out
    doc = json.loads(first)
    assert {"schema_version", "name", "input_shape", "layers", "totals", "settings",
            "problems"} <= set(doc)
    assert {"name", "kind", "input_shape", "output_shape", "params", "trainable_params", "macs",
            "activations", "receptive_field", "size_status", "line"} <= set(doc["layers"][1])
    assert {"params", "trainable_params", "non_trainable_params", "macs", "flops", "activations",
            "activation_bytes", "param_bytes", "output_shape"} <= set(doc["totals"])
    assert doc["settings"]["batch"] == 1 and doc["settings"]["dtype"] == "float32"


def test_json_gives_each_layer_a_line_of_its_own(cli: Cli, tmp_path: Path) -> None:
    spec = tmp_path / "odd.yaml"
    spec.write_text('name: "a\\n  \\"layers\\": ["\ninput: 8x8x3\n'
                    'layers: [conv3-4, {conv3-4: {name: "x\\"y\\n\\u2028"}}]\n')
    for args in (("vgg16",), (str(spec),)):
        out = cli("summarize", *args, "--format", "json").out
        doc = json.loads(out)
        lines = out.split("\n")  # not splitlines(): a name may hold U+2028
        start = lines.index('  "layers": [')
        end = start + 1 + len(doc["layers"])
        assert [json.loads(line.strip().removesuffix(",")) for line in lines[start + 1:end]] \
            == doc["layers"]
        assert lines[end] == "  ],"
    assert (doc["name"], doc["layers"][2]["name"]) == ('a\n  "layers": [', 'x"y\n\u2028')


def test_csv_and_markdown_carry_the_same_rows(cli: Cli) -> None:
    doc = summary(cli, "vgg16")
    rows = list(csv.DictReader(io.StringIO(cli("summarize", "vgg16", "--format", "csv").out)))
    assert [r["name"] for r in rows] == [r["name"] for r in doc["layers"]]
    assert [int(r["macs"]) for r in rows] == [r["macs"] for r in doc["layers"]]
    markdown = cli("summarize", "vgg16", "--format", "markdown").out
    table_rows = [line for line in markdown.splitlines() if line.startswith("| ")][1:]
    assert len(table_rows) == len(doc["layers"])
    assert "15,470,264,320" in markdown


def test_batch_and_dtype_scale_the_bytes(cli: Cli) -> None:
    doc = summary(cli, "vgg16", "--batch", "8", "--dtype", "float16")
    assert doc["totals"]["activation_bytes"] == 15_237_608 * 2 * 8
    assert doc["totals"]["param_bytes"] == 138_357_544 * 2


@pytest.mark.parametrize(("spec", "output", "macs"), [
    ("inception-naive", [28, 28, 672], 25_690_112 + 346_816_512 + 481_689_600),
    ("inception-bottleneck", [28, 28, 480], 271_351_808),
])
def test_inception_modules(cli: Cli, spec: str, output: list[int], macs: int) -> None:
    doc = summary(cli, str(GOOD / f"{spec}.yaml"))
    assert doc["totals"]["output_shape"] == output
    assert doc["totals"]["macs"] == macs


def test_resnet50_style_spec_is_short_and_exact(cli: Cli) -> None:
    path = GOOD / "resnet50-style.yaml"
    assert len(path.read_text().splitlines()) < 60
    doc = summary(cli, str(path))
    weighted = [r for r in doc["layers"] if r["kind"] in ("conv", "fc")]
    assert len(weighted) == 50 + 4  # 49 convs + fc, plus the 4 projection shortcuts
    assert doc["totals"]["params"] == 25_557_032
    assert doc["totals"]["non_trainable_params"] == 53_120
    assert doc["totals"]["macs"] == 4_089_184_256


MISMATCH = """\
name: broken residual
input: 56x56x64
layers:
  - add:
      - [conv3-64-p1, relu, conv3-128-p1]
      - []
"""


def test_channel_mismatch_at_the_add(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "mismatch.yaml"
    path.write_text(MISMATCH)
    run = cli("summarize", str(path))
    assert run.code == 1
    assert f"{path}:4:5: error [channel-mismatch]" in run.err
    assert "56x56x128" in run.err and "56x56x64" in run.err


def test_lossy_sizes_are_problems_harmless_ones_are_not(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "sizes.yaml"
    path.write_text("name: s\ninput: 224x224x3\nlayers:\n  - conv: {filters: 96, k: 11, "
                    "stride: 4}\n  - conv7-8-s2-p3\n")
    run = cli("summarize", str(path))
    assert run.code == 1
    assert "4:5: error [non-integer-size] conv1: H, W 54.25 floored to 54 (lossy" in run.err
    assert "conv2" not in run.err  # 26.5: harmless, shown in the table only
    doc = summary(cli, str(path))
    assert [r["size_status"] for r in doc["layers"][1:]] == ["lossy", "harmless"]


def test_waiver_accepts_a_lossy_size(tmp_path: Path) -> None:
    text = ("name: s\ninput: 224x224x3\nlayers:\n  - conv: {filters: 96, k: 11, stride: 4, "
            "allow: lossy, reason: as in the paper}\n")
    report = convcalc.analyze(convcalc.load_text(text))
    assert [(p.level, p.code) for p in report.problems] == [("info", "waived-size")]
    assert "as in the paper" in report.problems[0].message
    assert "allowed: lossy (as in the paper)" in report.rows[1].notes


def test_depth_collapses_blocks(cli: Cli) -> None:
    full = cli("summarize", str(GOOD / "resnet50-style.yaml"), "--format", "csv").out
    top = cli("summarize", str(GOOD / "resnet50-style.yaml"), "--format", "csv", "--depth",
              "0").out
    assert len(top.splitlines()) == 1 + 1 + 4 + 4 + 3  # header, input, stem, stages, head
    assert len(full.splitlines()) > 200


def test_input_override(cli: Cli) -> None:
    doc = summary(cli, "vgg16", "--input", "448x448x3")
    assert doc["input_shape"] == [448, 448, 3]
    assert doc["layers"][1]["output_shape"] == [448, 448, 64]
    # the dense head now reads 14x14x512, so the declared totals no longer hold
    assert {p["code"] for p in doc["problems"]} == {"expect-mismatch"}


def test_unknown_spec_name(cli: Cli) -> None:
    run = cli("summarize", "vgg17")
    assert run.code == 2 and "vgg16" in run.err


def test_python_api() -> None:
    model = convcalc.load("vgg16")
    report = convcalc.analyze(model, batch=2, dtype="float16")
    assert report.totals.params == 138_357_544
    assert report.settings.batch == 2
    with pytest.raises(convcalc.SpecError) as error:
        convcalc.load(str(GOOD.parent / "bad" / "unknown-layer.yaml"))
    assert error.value.problems[0].code == "unknown-layer"


@pytest.mark.parametrize(("text", "expected"), [
    ("conv3-64", {"filters": 64, "k": (3,)}),
    ("conv1x7-192-s2-p0x3", {"filters": 192, "k": (1, 7), "stride": (2,),
                             "pad": ((0, 0), (3, 3))}),
    ("conv3-64-same-nobias", {"pad": "same", "bias": False}),
    ("maxpool3-s2-ceil", {"k": (3,), "stride": (2,), "ceil": True}),
    ("fc-4096", {"units": 4096}),
    ("dwconv3-s2", {"k": (3,), "stride": (2,)}),
    ("conv-transpose4-64-s2-p1", {"filters": 64, "k": (4,), "stride": (2,)}),
])
def test_shorthand(text: str, expected: dict[str, object]) -> None:
    model = convcalc.load_text(f"input: 32x32x3\nlayers: [{text}]\n")
    layer = model.layers[0]
    for key, value in expected.items():
        assert getattr(layer.layer, key) == value, key  # type: ignore[union-attr]


def test_generated_names_are_stable_and_explicit_names_win() -> None:
    text = ("input: 32x32x3\nlayers:\n  - conv3-8\n  - relu\n  - conv3-8\n"
            "  - conv: {filters: 8, k: 3, name: last}\n  - maxpool\n")
    names = [node.name for node in convcalc.load_text(text).layers]
    assert names == ["conv1", "relu1", "conv2", "last", "maxpool1"]


def test_defaults_apply_and_layers_override_them() -> None:
    text = ("input: 32x32x3\ndefaults:\n  conv: {pad: same, bias: false}\nlayers:\n"
            "  - conv3-8\n  - conv: {filters: 8, k: 3, pad: 0}\n")
    first, second = (node.layer for node in convcalc.load_text(text).layers
                     if isinstance(node, LayerNode))
    assert isinstance(first, Conv) and isinstance(second, Conv)
    assert (first.pad, first.bias) == ("same", False)
    assert (second.pad, second.bias) == (((0, 0),), False)


def test_load_text_reports_every_problem_at_once() -> None:
    loaded = load_text("input: 32x32x3\nlayers:\n  - cnov3-8\n  - relu7\n  - conv3-x\n",
                       "many.yaml")
    assert [(p.line, p.code) for p in loaded.problems] == [
        (3, "unknown-layer"), (4, "unknown-layer"), (5, "unknown-layer")]


def test_a_problem_in_a_block_names_the_call_that_led_there(tmp_path: Path) -> None:
    (tmp_path / "lib.yaml").write_text(
        "blocks:\n  pair:\n    args: {k: 3}\n    layers: [conv$k-8, relu]\n")
    (tmp_path / "net.yaml").write_text(
        "include: [lib.yaml]\ninput: 32x32x3\nblocks:\n  outer:\n    args: {k: 3}\n"
        "    layers: [pair: {k: $k}, conv$k-4]\nlayers:\n  - outer\n  - outer: {k: 0}\n")
    problems = load_file(tmp_path / "net.yaml").problems
    assert [(Path(p.path).name, p.line, p.col, p.message.rsplit(" (", 1)[1])
            for p in problems] == [
        ("lib.yaml", 4, 14, f"via block 'outer', called on {tmp_path / 'net.yaml'}:9)"),
        ("net.yaml", 6, 29, "via block 'outer', called on line 9)")]


def test_each_distinct_problem_is_reported_once() -> None:
    """Calls with different bad values: a problem each; a repeated one, or a bad default
    that many layers reach: one."""
    text = ("input: 32x32x8\ndefaults:\n  conv: {dilation: 0}\nblocks:\n  b:\n"
            "    args: {k: 3}\n    layers: [conv: {filters: 8, k: $k}, relu]\nlayers:\n"
            "  - b\n  - b: {k: 0}\n  - b: {k: 0}\n  - b: {k: 2}\n  - b: {k: x}\n  - conv3-8\n")
    problems = load_text(text, "calls.yaml").problems
    assert [(p.line, p.col, p.message) for p in problems] == [
        (3, 20, "conv: dilation: expected an integer of at least 1, got 0 (via block 'b', "
                "called on line 9)"),
        (7, 36, "conv: k: expected a size or per-axis sizes like 3x5, got 'x' (via block 'b', "
                "called on line 13)"),
        (7, 36, "conv: k: expected an integer of at least 1, got 0 (via block 'b', called on "
                "line 10)")]
