"""`summarize --format html` and `compare --format html`: the page's numbers are the JSON's,
the page is self-contained and inert, and every bundled spec renders through it."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from convcalc.analysis import analyze
from convcalc.language import bundled, load_file
from convcalc.memory import liveness
from tests.conftest import summary_json
from tests.pagereader import Page, charts
from tests.svgread import parse

Cli = Any
SPECS = sorted(name for name, path in bundled().items() if not load_file(path).library)
HOSTILE = Path(__file__).parent / "specs" / "pictures" / "hostile-names.yaml"
LOSSY = Path(__file__).parent / "hostile" / "lossy.yaml"


def page(cli: Cli, tmp_path: Path, *args: str, command: str = "summarize") -> tuple[str, Page]:
    path = tmp_path / "page.html"
    run = cli(command, *args, "--format", "html", "-o", str(path))
    assert run.code in (0, 1), run.err
    text = path.read_text(encoding="utf-8")
    return text, Page(text)


def value(document: dict[str, Any], key: str) -> str:
    """A JSON value by a dotted key, as the page writes it in data-value."""
    found: Any = document
    for part in key.split("."):
        found = found[part]
    return "x".join(map(str, found)) if isinstance(found, list) else str(found)


@pytest.mark.parametrize(("spec", "options"), [
    ("vgg16", []), ("resnet50", ["--batch", "8", "--dtype", "float16"]),
    ("googlenet", ["--optimizer", "adam", "--preset", "fvcore"])])
def test_the_numbers_on_the_page_are_the_json(cli: Cli, tmp_path: Path, spec: str,
                                              options: list[str]) -> None:
    document = summary_json(cli, spec, *options)
    _, parsed = page(cli, tmp_path, spec, *options)
    assert len(parsed.totals) >= 10
    for key, shown in parsed.totals.items():
        if key == "totals.activation_bytes":
            assert shown == str(document["totals"]["activation_bytes"])
        else:
            assert shown == value(document, key), key
    assert [parsed.rows[f"row-{i}"] for i in range(len(document["layers"]))] == \
        [[layer["activations"], layer["params"], layer["macs"]] for layer in document["layers"]]
    assert parsed.document() == document  # the data block is the JSON document itself


def test_the_liveness_curve_peaks_at_the_inference_peak(cli: Cli) -> None:
    for spec in ("vgg16", "resnet50", "googlenet", "densenet121"):
        loaded = load_file(bundled()[spec])
        assert loaded.model is not None
        report = analyze(loaded.model)
        steps = liveness(loaded.model, report)
        peak = summary_json(cli, spec)["memory"]["inference_peak_activations"]
        assert max(step.alive for step in steps) == peak
        assert steps[0].alive == report.input_shape.size
        runs = [i for i, row in enumerate(report.rows) if i and (not row.rows_below or
                                                                row.branches)]
        assert sorted(step.row for step in steps[1:]) == runs  # every layer and merge once


def test_a_chain_keeps_its_input_and_output_alive(cli: Cli) -> None:
    """VGG-16 is a chain: while a layer runs, its input and its output are alive (an
    in-place layer adds nothing)."""
    loaded = load_file(bundled()["vgg16"])
    assert loaded.model is not None
    report = analyze(loaded.model)
    alive = [step.alive for step in liveness(loaded.model, report)]
    current, expected = report.input_shape.size, [report.input_shape.size]
    for row in report.rows[1:]:
        if row.activations:
            expected.append(current + row.output_shape.size)
            current = row.output_shape.size
        else:
            expected.append(current)
    assert alive == expected


def check_self_contained(text: str, parsed: Page) -> None:
    """No script but the inert data block, nothing loaded, every internal link resolves."""
    scripts = [attrs for tag, attrs in parsed.tags if tag == "script"]
    assert scripts == [{"type": "application/json", "id": "convcalc-json"}]
    policy = next(attrs["content"] for tag, attrs in parsed.tags
                  if tag == "meta" and attrs.get("http-equiv") == "Content-Security-Policy")
    assert "default-src 'none'" in policy and "script-src 'none'" in policy
    for tag, attrs in parsed.tags:
        assert tag not in ("img", "iframe", "object", "embed", "link", "base", "form")
        assert not any(name.startswith("on") for name in attrs), (tag, attrs)
        assert "src" not in attrs
    assert all(link.startswith("#") and link[1:] in parsed.ids for link in parsed.links)
    assert not re.search(r"(?:href|src)\s*=\s*[\"']?(?:https?:|//|javascript:)", text, re.I)


@pytest.mark.parametrize("spec", SPECS)
def test_every_bundled_spec_renders_through_the_page(cli: Cli, tmp_path: Path,
                                                     spec: str) -> None:
    text, parsed = page(cli, tmp_path, spec)
    check_self_contained(text, parsed)
    found = charts(text)
    assert len(found) == 5
    for chart in found:
        root = ET.fromstring(chart)
        assert root.get("data-chart")
    if spec in ("vgg16", "googlenet", "lenet5"):
        for chart in found:
            parse(chart)  # a real renderer draws every chart


def test_problems_link_to_their_rows(cli: Cli, tmp_path: Path) -> None:
    text, parsed = page(cli, tmp_path, str(LOSSY))
    assert '<li id="problem-0" class="error">' in text
    assert "#row-1" in parsed.links and "#problem-0" in parsed.links
    assert re.search(r'<tr id="row-1" class="lossy"[^>]*>.*?href="#problem-0"', text)
    check_self_contained(text, parsed)


def test_hostile_names_are_text(cli: Cli, tmp_path: Path) -> None:
    text, parsed = page(cli, tmp_path, str(HOSTILE))
    check_self_contained(text, parsed)
    assert "&lt;/svg&gt;&lt;script&gt;alert(1)" in text
    assert "&lt;/li&gt;&lt;script&gt;alert(3)" in text  # the waiver's reason, in a problem
    assert "\x1b" not in text and "\u202e" not in text and "\x07" not in text
    assert "</" not in parsed.data and "-->" not in parsed.data
    assert parsed.document()["name"].startswith("</svg><script>")  # the data is intact
    assert "#row-5" in parsed.links  # the waived layer's note links to its row


def test_compare_shows_both_specs(cli: Cli, tmp_path: Path) -> None:
    first, second = "inception-naive", "inception-module"
    text, parsed = page(cli, tmp_path, first, second, command="compare")
    check_self_contained(text, parsed)
    for side, spec in (("a", first), ("b", second)):
        totals = summary_json(cli, spec)["totals"]
        for key in ("params", "non_trainable_params", "macs", "activations"):
            assert parsed.totals[f"{side}.{key}"] == str(totals[key])
    assert len(charts(text)) == 10
    changed = re.search(r"(\d+) layer\(s\) differ", cli("compare", first, second).out)
    assert changed is not None and f"Layers that differ ({changed.group(1)})" in text


def test_output_is_only_for_pages(cli: Cli, tmp_path: Path) -> None:
    run = cli("summarize", "vgg16", "-o", str(tmp_path / "x.json"))
    assert run.code == 2 and "--format html" in run.err
    run = cli("summarize", "vgg16", "--format", "html")
    assert run.code == 0 and run.out.startswith("<!DOCTYPE html>")
