"""`convcalc layer … --draw`: the figure's content checked against the arithmetic, and the
cells each output position reads checked against PyTorch."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests.oracles import need
from tests.svgread import Panel, panels, parse

Cli = Any
REAL = {"real", "unseen"}
# The cli fixture holds no state between examples.
FUZZ = settings(max_examples=int(os.environ.get("CONVCALC_FUZZ_EXAMPLES", "25")), deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


def figure(cli: Cli, tmp_path: Path, *args: str,
           render: bool = True) -> tuple[dict[str, Any], list[Panel], str]:
    """The layer's JSON, the figure's panels and its text."""
    path = tmp_path / "figure.svg"
    run = cli("layer", *args, "--format", "json", "--draw", str(path))
    assert run.code == 0, run.err
    svg = path.read_text(encoding="utf-8")
    return run.json(), panels(parse(svg, render)), svg


def border(kinds: list[list[str]]) -> tuple[int, int, int, int]:
    """Rows of padding at the top and bottom, columns of it at the left and right."""
    def leading(lines: list[list[str]]) -> int:
        return next((i for i, line in enumerate(lines) if set(line) != {"pad"}), len(lines))

    columns = [list(column) for column in zip(*kinds, strict=True)]
    return leading(kinds), leading(kinds[::-1]), leading(columns), leading(columns[::-1])


def real_index(kinds: list[list[str]]) -> tuple[dict[int, int], dict[int, int]]:
    """Drawn row and column -> the input row and column it holds (rows of padding or of
    inserted zeros hold none)."""
    rows = [r for r, line in enumerate(kinds) if REAL & set(line)]
    cols = [c for c in range(len(kinds[0])) if REAL & {line[c] for line in kinds}]
    return {r: i for i, r in enumerate(rows)}, {c: i for i, c in enumerate(cols)}


def reads(panel: Panel) -> set[tuple[int, int]]:
    """The input positions (row, column) that the panel's output position reads."""
    rows, cols = real_index(panel.kinds)
    return {(rows[r], cols[c]) for r, c in panel.taps
            if r < len(panel.kinds) and c < len(panel.kinds[0]) and panel.kinds[r][c] in REAL}


def test_the_lecture_case(cli: Cli, tmp_path: Path) -> None:
    """7x7 input, 3x3 filter, stride 2: nine panels of a 3x3 output, each reading 3x3."""
    report, drawn, _ = figure(cli, tmp_path, "--in", "7x7x1", "--filters", "1", "--k", "3",
                              "--stride", "2")
    assert report["output_shape"] == [3, 3, 1]
    assert sorted(p.position for p in drawn) == [(r, c) for r in range(3) for c in range(3)]
    for panel in drawn:
        assert panel.outputs == (3, 3)
        assert panel.current == panel.position
        assert len(panel.kinds) == 7 and {k for line in panel.kinds for k in line} == {"real"}
        r, c = panel.position
        assert panel.taps == {(2 * r + i, 2 * c + j) for i in range(3) for j in range(3)}


@pytest.mark.parametrize(("pad", "widths"), [("2", (2, 2, 2, 2)), ("1x2", (1, 1, 2, 2)),
                                             ("0,1", (0, 1, 0, 1)), ("same", (1, 1, 1, 1))])
def test_the_padded_border_has_the_padding_width(cli: Cli, tmp_path: Path, pad: str,
                                                  widths: tuple[int, ...]) -> None:
    report, drawn, _ = figure(cli, tmp_path, "--in", "5x5x1", "--filters", "1", "--k", "3",
                              "--pad", pad)
    assert [tuple(s["pad"]) for s in report["sizes"]] == [widths[:2], widths[2:]]
    for panel in drawn:
        assert border(panel.kinds) == widths
        assert panel.outputs == tuple(report["output_shape"][:2])


def unseen_lines(kinds: list[list[str]]) -> list[int]:
    """The input rows whose every real cell is unseen (unseen and no real cell)."""
    rows, _ = real_index(kinds)
    return [rows[r] for r, line in enumerate(kinds) if "unseen" in line and "real" not in line]


@pytest.mark.parametrize(("args", "unseen"), [
    (["--in", "32x32x3", "--filters", "5", "--k", "5", "--stride", "2"], ([31], [31])),
    (["--in", "10x10x1", "--filters", "1", "--k", "3", "--stride", "4"], ([8, 9], [8, 9])),
    (["--in", "11x9x1", "--kind", "maxpool", "--k", "2"], ([10], [8])),
    (["--in", "12x9x1", "--kind", "maxpool", "--k", "2", "--pad", "1"], ([], [])),
])
def test_a_lossy_size_marks_the_rows_layer_names(cli: Cli, tmp_path: Path, args: list[str],
                                                 unseen: tuple[list[int], list[int]]) -> None:
    """The unseen cells are the last `lost` real rows and columns (the ones `layer` names),
    marked and labelled with their indices."""
    report, drawn, svg = figure(cli, tmp_path, *args)
    named = [list(range(real - size["lost"], real)) for real, size in
             zip(report["input_shape"][:2], report["sizes"], strict=True)]
    assert named == list(unseen)
    for panel in drawn:
        assert unseen_lines(panel.kinds) == named[0]
        assert unseen_lines([list(column) for column in zip(*panel.kinds, strict=True)]) == \
            named[1]
        assert panel.marks.get("H", []) == named[0] and panel.marks.get("W", []) == named[1]
    assert ("no window reads" in svg) == any(named)


def test_a_transposed_convolution_is_drawn_with_inserted_zeros(cli: Cli, tmp_path: Path) -> None:
    """4x4 input, k 3, stride 2, pad 1, output_padding 1: one zero between positions (7
    cells), padded k − 1 − p = 1 before and 1 + output_padding = 2 after: 8x8 out."""
    report, drawn, svg = figure(cli, tmp_path, "--in", "4x4x1", "--kind", "conv-transpose",
                                "--filters", "1", "--k", "3", "--stride", "2", "--pad", "1",
                                "--output-padding", "1", "--positions", "0x0,7x7")
    assert report["output_shape"] == [8, 8, 1]
    for panel in drawn:
        flat = [k for line in panel.kinds for k in line]
        assert panel.outputs == (8, 8)
        assert len(panel.kinds) == 10 and flat.count("real") == 16
        assert flat.count("zero") == 7 * 7 - 16
        assert border(panel.kinds) == (1, 2, 1, 2)
    assert "zeros inserted" in svg


def test_ceil_mode_draws_the_last_window_over_the_edge(cli: Cli, tmp_path: Path) -> None:
    report, drawn, svg = figure(cli, tmp_path, "--in", "5x5x1", "--kind", "maxpool", "--k", "2",
                                "--ceil", "--positions", "2x2")
    assert report["output_shape"] == [3, 3, 1]
    (panel,) = drawn
    assert panel.taps == {(4, 4), (4, 5), (5, 4), (5, 5)}
    assert panel.kinds[5][5] == "beyond" and panel.kinds[4][4] == "real"
    assert "hangs over the edge" in svg


def test_dilation_spaces_the_taps(cli: Cli, tmp_path: Path) -> None:
    _, drawn, _ = figure(cli, tmp_path, "--in", "7x7x1", "--filters", "1", "--k", "3",
                         "--dilation", "2", "--positions", "1x2")
    (panel,) = drawn
    assert panel.taps == {(1 + 2 * i, 2 + 2 * j) for i in range(3) for j in range(3)}


def test_a_one_d_layer_is_one_row(cli: Cli, tmp_path: Path) -> None:
    report, drawn, _ = figure(cli, tmp_path, "--in", "9x4", "--filters", "2", "--k", "3",
                              "--stride", "2", "--pad", "1")
    assert report["output_shape"] == [5, 2]
    assert [p.position for p in drawn] == [(i,) for i in range(5)]
    for panel in drawn:
        assert len(panel.kinds) == 1 and panel.kinds[0].count("pad") == 2
        assert panel.outputs == (1, 5)
        assert panel.taps == {(0, 2 * panel.position[0] + j) for j in range(3)}


def test_a_three_d_layer_needs_a_slice(cli: Cli, tmp_path: Path) -> None:
    args = ("layer", "--in", "4x6x6x1", "--filters", "1", "--k", "3", "--stride", "1x1x2")
    run = cli(*args, "--draw", str(tmp_path / "x.svg"))
    assert run.code == 2 and "--slice" in run.err and len(run.err.strip().splitlines()) == 1
    _, drawn, svg = figure(cli, tmp_path, *args[1:], "--slice", "HW")
    assert all(panel.outputs == (4, 2) for panel in drawn)
    assert "D: kernel 3, stride 1" in svg and "(not drawn)" in svg


def test_animation_steps_over_every_position(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "anim.svg"
    run = cli("layer", "--in", "5x5x1", "--filters", "1", "--k", "3", "--animate", "--draw",
              str(path))
    assert run.code == 0, run.err
    svg = path.read_text(encoding="utf-8")
    root = parse(svg)
    steps = [g for g in root.iter("{http://www.w3.org/2000/svg}g") if g.get("class") == "step"]
    assert len(steps) == 9 and svg.count("<animate ") == 9
    assert [g.get("opacity") for g in steps] == ["1"] + ["0"] * 8  # still pictures: step 1
    assert "<script" not in svg


@pytest.mark.parametrize(("args", "message"), [
    (["--in", "4096", "--kind", "fc", "--filters", "10"], "no sliding window"),
    (["--in", "224x224x3", "--filters", "64", "--k", "3"], "up to 64 per axis"),
    (["--in", "7x7x1", "--filters", "1", "--k", "3", "--positions", "5x0"], "--positions"),
    (["--in", "7x7x1", "--filters", "1", "--k", "3", "--positions", "a"], "--positions"),
    (["--in", "7x7x1", "--filters", "1", "--k", "3", "--slice", "HD"], "--slice"),
    (["--in", "40x40x1", "--filters", "1", "--k", "1", "--animate"], "name a few"),
    (["--in", "6x6x1", "--kind", "conv-transpose", "--filters", "1", "--k", "2", "--pad", "2"],
     "crop"),
])
def test_what_cannot_be_drawn_is_one_line(cli: Cli, tmp_path: Path, args: list[str],
                                          message: str) -> None:
    run = cli("layer", *args, "--draw", str(tmp_path / "x.svg"))
    assert run.code == 2
    assert message in run.err and len(run.err.strip().splitlines()) == 1
    assert not (tmp_path / "x.svg").exists()



@pytest.mark.parametrize("option", [["--positions", "0x0"], ["--animate"], ["--slice", "HW"]])
def test_a_figure_option_without_draw_is_refused(cli: Cli, option: list[str]) -> None:
    """They were ignored without a word: the figure the user asked for never appeared."""
    run = cli("layer", "--in", "7x7x1", "--filters", "1", "--k", "3", *option)
    assert run.code == 2 and len(run.err.strip().splitlines()) == 1
    assert option[0] in run.err and "--draw" in run.err

def test_a_png_name_writes_png(cli: Cli, tmp_path: Path) -> None:
    parse("<svg xmlns='http://www.w3.org/2000/svg' width='1' height='1'/>")  # needs cairosvg
    run = cli("layer", "--in", "7x7x1", "--filters", "1", "--k", "3", "--draw",
              str(tmp_path / "x.png"))
    assert run.code == 0, run.err
    assert (tmp_path / "x.png").read_bytes().startswith(b"\x89PNG")


# --- the cells read, against PyTorch ---------------------------------------------------------


def torch_reads(run: Any, size: tuple[int, int]) -> dict[tuple[int, int], set[tuple[int, int]]]:
    """Output position -> the input positions it reads, found by running the real layer on
    one-hot inputs (``run`` maps a 1x1xHxW tensor to the layer's output)."""
    torch = need("torch")
    found: dict[tuple[int, int], set[tuple[int, int]]] = {}
    for i in range(size[0]):
        for j in range(size[1]):
            x = torch.zeros(1, 1, *size, dtype=torch.float64)
            x[0, 0, i, j] = 1
            out = run(x)[0, 0]
            for r, c in (out != 0).nonzero().tolist():
                found.setdefault((r, c), set()).add((i, j))
    return found


def check_against(cli: Cli, tmp_path: Path, args: list[str], run: Any,
                  size: tuple[int, int]) -> None:
    torch = need("torch")
    try:
        positions = run(torch.zeros(1, 1, *size, dtype=torch.float64))[0, 0].numel()
    except RuntimeError:  # no output: convcalc refuses it too (tested elsewhere)
        positions = 0
    assume(0 < positions <= 64)  # a figure draws at most 64 panels
    report, drawn, _ = figure(cli, tmp_path, *args, "--positions", "all", render=False)
    oracle = torch_reads(run, size)
    out = tuple(report["output_shape"][:2])
    assert len(drawn) == out[0] * out[1]
    for panel in drawn:
        assert panel.outputs == out
        assert reads(panel) == oracle.get((panel.position[0], panel.position[1]), set())


small = st.integers(1, 3)


@FUZZ
@given(h=st.integers(1, 6), w=st.integers(1, 6), k=st.tuples(small, small),
       s=st.tuples(small, small), p=st.tuples(st.integers(0, 2), st.integers(0, 2)),
       d=st.tuples(st.integers(1, 2), st.integers(1, 2)))
def test_conv_reads_what_torch_reads(cli: Cli, tmp_path_factory: pytest.TempPathFactory,
                                     h: int, w: int, k: tuple[int, int], s: tuple[int, int],
                                     p: tuple[int, int], d: tuple[int, int]) -> None:
    torch = need("torch")
    spans = [dd * (kk - 1) + 1 for kk, dd in zip(k, d, strict=True)]
    if h + 2 * p[0] < spans[0] or w + 2 * p[1] < spans[1]:
        return
    weight = torch.ones(1, 1, *k, dtype=torch.float64)
    check_against(cli, tmp_path_factory.mktemp("conv"),
                  ["--in", f"{h}x{w}x1", "--filters", "1", "--k", f"{k[0]}x{k[1]}", "--stride",
                   f"{s[0]}x{s[1]}", "--pad", f"{p[0]}x{p[1]}", "--dilation", f"{d[0]}x{d[1]}"],
                  lambda x: torch.nn.functional.conv2d(x, weight, stride=s, padding=p,
                                                       dilation=d), (h, w))


@FUZZ
@given(h=st.integers(1, 4), w=st.integers(1, 4), k=st.tuples(small, small),
       s=st.tuples(small, small), p=st.tuples(st.integers(0, 2), st.integers(0, 2)),
       d=st.tuples(st.integers(1, 2), st.integers(1, 2)), extra=st.tuples(small, small))
def test_transposed_conv_reads_what_torch_reads(
        cli: Cli, tmp_path_factory: pytest.TempPathFactory, h: int, w: int,
        k: tuple[int, int], s: tuple[int, int], p: tuple[int, int], d: tuple[int, int],
        extra: tuple[int, int]) -> None:
    torch = need("torch")
    spans = [dd * (kk - 1) + 1 for kk, dd in zip(k, d, strict=True)]
    extra = (extra[0] % max(s[0], d[0]), extra[1] % max(s[1], d[1]))
    if any(pp > sp - 1 for pp, sp in zip(p, spans, strict=True)):
        return  # the equivalent convolution would crop: not drawn (tested above)
    weight = torch.ones(1, 1, *k, dtype=torch.float64)
    check_against(cli, tmp_path_factory.mktemp("transposed"),
                  ["--in", f"{h}x{w}x1", "--kind", "conv-transpose", "--filters", "1", "--k",
                   f"{k[0]}x{k[1]}", "--stride", f"{s[0]}x{s[1]}", "--pad", f"{p[0]}x{p[1]}",
                   "--dilation", f"{d[0]}x{d[1]}", "--output-padding", f"{extra[0]}x{extra[1]}"],
                  lambda x: torch.nn.functional.conv_transpose2d(
                      x, weight, stride=s, padding=p, output_padding=extra, dilation=d), (h, w))


@FUZZ
@given(h=st.integers(2, 9), w=st.integers(2, 9), k=st.tuples(small, small),
       s=st.tuples(small, small), ceil=st.booleans())
def test_pooling_reads_what_torch_reads(cli: Cli, tmp_path_factory: pytest.TempPathFactory,
                                        h: int, w: int, k: tuple[int, int],
                                        s: tuple[int, int], ceil: bool) -> None:
    torch = need("torch")
    p = (k[0] // 2, k[1] // 2)
    check_against(cli, tmp_path_factory.mktemp("pool"),
                  ["--in", f"{h}x{w}x1", "--kind", "maxpool", "--k", f"{k[0]}x{k[1]}",
                   "--stride", f"{s[0]}x{s[1]}", "--pad", f"{p[0]}x{p[1]}",
                   *(["--ceil"] if ceil else [])],
                  lambda x: torch.nn.functional.max_pool2d(x, k, s, p, ceil_mode=ceil), (h, w))
