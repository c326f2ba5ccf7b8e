"""`convcalc draw`: one box per row shown, labelled with its shape; every bundled spec in
both styles; hostile names inert; a 10,000-layer spec in under 5 s."""

from __future__ import annotations

import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from convcalc.language import bundled, load_file
from tests.conftest import summary_json
from tests.oracles import need
from tests.svgread import SVG, classes, parse

Cli = Any
SPECS = sorted(name for name, path in bundled().items() if not load_file(path).library)
HOSTILE = Path(__file__).parent / "specs" / "pictures" / "hostile-names.yaml"


def diagram(cli: Cli, tmp_path: Path, *args: str, render: bool = True) -> ET.Element:
    path = tmp_path / "net.svg"
    run = cli("draw", *args, "-o", str(path))
    assert run.code == 0, run.err
    return parse(path.read_text(encoding="utf-8"), render)


def boxes(root: ET.Element) -> list[ET.Element]:
    return [g for g in root.iter(f"{SVG}g") if "box" in classes(g)]


@pytest.mark.parametrize("spec", ["googlenet", "resnet50", "vgg16", "inception-v3"])
@pytest.mark.parametrize("depth", [0, 1, 2, None])
def test_one_box_per_row_at_that_depth(cli: Cli, tmp_path: Path, spec: str,
                                       depth: int | None) -> None:
    """The rows `summarize --depth` shows are the boxes drawn, each labelled with the
    row's output shape; the rows at the depth with rows below are drawn collapsed."""
    rows = summary_json(cli, spec)["layers"]
    shown = [(i, row) for i, row in enumerate(rows) if depth is None or row["depth"] <= depth]
    option = [] if depth is None else ["--depth", str(depth)]
    for style in ("blocks", "graph"):
        drawn = boxes(diagram(cli, tmp_path, spec, "--style", style, *option,
                              render=depth == 1))
        assert sorted(int(g.get("data-row", "")) for g in drawn) == [i for i, _ in shown]
        for g, (_, row) in zip(sorted(drawn, key=lambda g: int(g.get("data-row", ""))), shown,
                               strict=True):
            texts = [t.text for t in g.iter(f"{SVG}text")]
            shape = "x".join(map(str, row["output_shape"]))
            assert any(shape in (t or "") for t in texts), (row["name"], texts)
            collapsed = row["rows_below"] > 0 and row["depth"] == depth
            assert g.get("data-collapsed") == str(collapsed).lower()


@pytest.mark.parametrize("spec", SPECS)
def test_every_bundled_spec_draws(cli: Cli, tmp_path: Path, spec: str) -> None:
    """Both styles at every depth parse; at depth 1 they also render (every construct is
    there, and a whole DenseNet takes a renderer seconds); Mermaid has a node per row."""
    rows = summary_json(cli, spec)["layers"]
    for style in ("blocks", "graph"):
        assert len(boxes(diagram(cli, tmp_path, spec, "--style", style, render=False))) == \
            len(rows)
        diagram(cli, tmp_path, spec, "--style", style, "--depth", "1")
    run = cli("draw", spec, "--format", "mermaid", "--depth", "1")
    assert run.code == 0, run.err
    assert run.out.splitlines()[1] == "flowchart LR"
    ids = re.findall(r"^  (?:subgraph )?r(\d+)[\[(]", run.out, re.MULTILINE)
    assert sorted(map(int, ids)) == [i for i, row in enumerate(rows) if row["depth"] <= 1]


def test_hostile_names_are_inert(cli: Cli, tmp_path: Path) -> None:
    """Names and source with markup, quotes, comment ends and control characters: shown
    as text, never markup; Mermaid gets entity codes only."""
    for style in ("blocks", "graph"):
        root = diagram(cli, tmp_path, str(HOSTILE), "--style", style)
        assert not [e for e in root.iter() if e.tag.split("}")[-1] in ("script", "img")]
        title = root.find(f"{SVG}title")
        assert title is not None and (title.text or "").startswith("</svg><script>")
        svg = (tmp_path / "net.svg").read_text(encoding="utf-8")
        assert "\x1b" not in svg and "\u202e" not in svg and "\\x1b" in svg
    run = cli("draw", str(HOSTILE), "--format", "mermaid")
    assert run.code == 0, run.err
    for line in run.out.splitlines()[1:]:
        label = re.search(r'"(.*)"', line)
        if label:
            assert re.fullmatch(r"[A-Za-z0-9 .,:_/()+\-×→#;<>]*", label.group(1))
            assert "<" not in label.group(1).replace("<br/>", "")
    assert "<script" not in run.out and "-->" not in run.out.replace(" --> ", "")


def test_png_and_errors(cli: Cli, tmp_path: Path) -> None:
    need("cairosvg")  # the PNG renderer, an optional extra (skipped without it, but in CI)
    run = cli("draw", "lenet5", "-o", str(tmp_path / "net.png"))
    assert run.code == 0, run.err
    assert (tmp_path / "net.png").read_bytes().startswith(b"\x89PNG")
    run = cli("draw", "no-such-spec")
    assert run.code == 2 and len(run.err.strip().splitlines()) == 1
    run = cli("draw", "lenet5", "-o", str(tmp_path / "missing" / "net.svg"))
    assert run.code == 2 and "cannot write" in run.err



def test_a_png_name_for_text_output_is_one_line(cli: Cli, tmp_path: Path) -> None:
    """Only a still SVG is rasterised: a page or a Mermaid chart sent to a .png name was an
    internal error (cairosvg parsing HTML), an animation silently its first frame; nothing
    is written."""
    png = str(tmp_path / "out.png")
    for args in (["draw", "lenet5", "--format", "mermaid", "-o", png],
                 ["summarize", "lenet5", "--format", "html", "-o", png],
                 ["compare", "lenet5", "vgg16", "--format", "html", "-o", png],
                 ["layer", "--in", "7x7x1", "--filters", "1", "--k", "3", "--animate",
                  "--draw", png]):
        run = cli(*args)
        assert run.code == 2 and len(run.err.strip().splitlines()) == 1, run.err
        assert "internal error" not in run.err and "PNG" in run.err
        assert not (tmp_path / "out.png").exists()


def test_a_mermaid_name_writes_mermaid(cli: Cli, tmp_path: Path) -> None:
    """`-o net.mmd` (a name --help lists) wrote an SVG into the .mmd file."""
    assert cli("draw", "lenet5", "-o", str(tmp_path / "net.mmd")).code == 0
    assert (tmp_path / "net.mmd").read_text(encoding="utf-8").splitlines()[1] == "flowchart LR"
    assert cli("draw", "lenet5", "--format", "svg", "-o", str(tmp_path / "svg.mmd")).code == 0
    assert (tmp_path / "svg.mmd").read_text(encoding="utf-8").startswith("<?xml")

def test_a_spec_with_problems_draws_what_was_computed(cli: Cli, tmp_path: Path) -> None:
    spec = tmp_path / "broken.yaml"
    spec.write_text("name: broken\ninput: 8x8x3\nlayers:\n  - conv3-4\n  - conv9-4\n  - relu\n")
    run = cli("draw", str(spec), "-o", str(tmp_path / "net.svg"))
    assert run.code == 1 and "broken.yaml:5" in run.err
    drawn = boxes(parse((tmp_path / "net.svg").read_text(encoding="utf-8")))
    assert [g.get("data-row") for g in drawn] == ["0", "1"]


def generated(layers: int, path: Path) -> Path:
    """A residual network of ``layers`` layers in blocks, as a user would write it."""
    repeats = layers // 6
    path.write_text(f"""name: generated
input: 32x32x16
blocks:
  unit:
    layers: [conv3-16-p1, bn, relu, conv3-16-p1, bn]
  residual:
    layers:
      - add: [[unit], []]
      - relu
layers:
  - repeat: {repeats}
    layers: [residual]
""")
    return path


@pytest.mark.parametrize("style", ["blocks", "graph"])
def test_ten_thousand_layers_draw_in_under_five_seconds(tmp_path: Path, style: str) -> None:
    spec = generated(10_002, tmp_path / "big.yaml")
    started = time.perf_counter()
    run = subprocess.run([sys.executable, "-m", "convcalc", "draw", str(spec), "--depth", "0",
                          "--style", style, "-o", str(tmp_path / "big.svg")],
                         capture_output=True, text=True, timeout=60, check=False)
    elapsed = time.perf_counter() - started
    assert run.returncode == 0, run.stderr
    assert elapsed < 5, f"{elapsed:.1f} s"
    root = parse((tmp_path / "big.svg").read_text(encoding="utf-8"), render=False)
    assert len(boxes(root)) == 1 + 10_002 // 6  # the input and one box per block


def test_png_without_cairosvg_is_one_line(cli: Cli, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "cairosvg", None)  # as if the png extra were missing
    run = cli("draw", "lenet5", "-o", str(tmp_path / "net.png"))
    assert run.code == 2 and "convcalc[png]" in run.err
    assert len(run.err.strip().splitlines()) == 1 and not (tmp_path / "net.png").exists()


def test_pictures_hide_no_more_than_the_terminal_does() -> None:
    """The terminal's escape treats every non-printable character as hidden; the pictures'
    left the line and paragraph separators (U+2028, U+2029) raw in SVG and HTML text."""
    from convcalc.render.escape import escape
    from convcalc.render.markup import xml

    for char in ("\u2028", "\u2029", "\x85", "\u202e", "\u200b", "\x1b", "\ufeff"):
        assert char not in escape(f"a{char}b")
        assert char not in xml(f"a{char}b"), repr(char)
