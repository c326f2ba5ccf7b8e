"""What the picture options share: choosing what to draw, bounds, and writing the file.

SVG is written directly; a ``.png`` name is rasterised with cairosvg, the optional extra
``convcalc[png]`` (a real renderer does this better than anything small we could write).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from convcalc.cli.common import fail

if TYPE_CHECKING:
    from convcalc.counting import Counted
    from convcalc.footprint import Axis, Position
    from convcalc.layers.base import Layer
    from convcalc.memory import Memory
    from convcalc.model import Model
    from convcalc.report import LayerReport, Report
    from convcalc.shape import Shape

MAX_CELLS = 64  # per drawn axis, padding included: beyond it a cell is too small to see
MAX_PANELS = 64
MAX_STEPS = 256  # animation steps


def write(path: str, content: str, picture: bool = True) -> None:
    """Write a picture or page: text as UTF-8, or PNG for a ``.png`` name (a still SVG
    ``picture`` only: a page, a Mermaid chart or an animation has no PNG form)."""
    target = Path(path)
    if target.suffix.lower() == ".png" and not picture:
        fail(f"{path}: a PNG holds a still SVG picture only; write this output under another "
             "name (.svg, .html, .mmd)")
    try:
        if target.suffix.lower() == ".png":
            target.write_bytes(rasterise(content))
        else:
            target.write_text(content, encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {path}: {exc.strerror or exc}")


def rasterise(svg: str) -> bytes:
    try:
        import cairosvg  # type: ignore[import-untyped]
    except ImportError:
        fail("writing PNG needs cairosvg: pip install 'convcalc[png]' (or write .svg)")
    png: bytes = cairosvg.svg2png(bytestring=svg.encode("utf-8"))
    return png


def layer_figure(layer: Layer, x: Shape, report: LayerReport, path: str,
                 positions: str | None, animate: bool, slice_: str | None) -> None:
    """``convcalc layer … --draw PATH``: the figure of one layer's arithmetic."""
    from convcalc.footprint import FigureError, axes_of
    from convcalc.render.figure import draw

    try:
        axes = axes_of(layer, x)
    except FigureError as exc:
        fail(f"--draw: {exc}")
    drawn, others = _slice(axes, slice_)
    for axis in drawn:
        if axis.extent > MAX_CELLS:
            fail(f"--draw: the {axis.name} axis has {axis.extent} cells with its padding; a "
                 f"figure draws up to {MAX_CELLS} per axis (the arithmetic is the same on a "
                 "smaller input: try one, or `--slice` another axis)")
    chosen = _positions(drawn, positions, animate)
    write(path, draw(report, drawn, chosen, animate, others), picture=not animate)


def _slice(axes: tuple[Axis, ...], slice_: str | None) -> tuple[tuple[Axis, ...],
                                                               tuple[Axis, ...]]:
    names = "".join(axis.name for axis in axes)
    if slice_ is None:
        if len(axes) > 2:
            fail(f"--draw: a {len(axes)}-D layer is drawn one plane at a time: add --slice HW "
                 "(or DH, DW), the axes to draw")
        return axes, ()
    wanted = slice_.upper()
    if not wanted or len(wanted) > 2 or any(name not in names for name in wanted) or \
            "".join(sorted(wanted, key=names.index)) != wanted or len(set(wanted)) < len(wanted):
        fail(f"--slice: expected one or two of the axes {', '.join(names)} in order, got "
             f"{slice_!r}")
    return (tuple(a for a in axes if a.name in wanted),
            tuple(a for a in axes if a.name not in wanted))


def _positions(axes: tuple[Axis, ...], text: str | None, animate: bool) -> list[Position]:
    from convcalc.footprint import default_positions, every_position

    most = MAX_STEPS if animate else MAX_PANELS
    if text is None and not animate:
        return default_positions(axes)
    if text is None or text == "all":
        chosen = every_position(axes)
        if len(chosen) > most:
            fail(f"--positions: {len(chosen):,} output positions are more than the {most} "
                 f"{'steps an animation' if animate else 'panels a figure'} draws: name a "
                 f"few, e.g. --positions {'x'.join('0' * len(axes))}")
        return chosen
    chosen = []
    for item in text.split(","):
        try:
            position = tuple(int(part) for part in item.split("x"))
        except ValueError:
            position = ()
        if len(position) != len(axes) or not all(0 <= p < a.output for p, a in
                                                 zip(position, axes, strict=True)):
            limits = "x".join(str(a.output - 1) for a in axes)
            fail(f"--positions: {item!r} is not an output position from "
                 f"{'x'.join('0' * len(axes))} to {limits}")
        chosen.append(position)
    if len(chosen) > most:
        fail(f"--positions: at most {most} positions")
    return list(dict.fromkeys(chosen))


def summary_page(model: Model, report: Report, memory: Memory, counted: Counted,
                 output: str | None) -> None:
    """``summarize --format html``: the report page, to a file or stdout."""
    from convcalc.memory import liveness
    from convcalc.render.html import Extra, summary

    page = summary(report, Extra(memory, counted, liveness(model, report, memory.fused)))
    _emit(page, output)


def comparison_page(models: list[Model], reports: list[Report], output: str | None) -> None:
    """``compare A B --format html``: two specs' totals and charts side by side."""
    from convcalc.design import compare
    from convcalc.memory import liveness, memory
    from convcalc.render.html import Extra, comparison

    extras = [Extra(memory(model, report), None, liveness(model, report))
              for model, report in zip(models, reports, strict=True)]
    _emit(comparison(reports, extras, compare(reports[0].rows, reports[1].rows)), output)


def _emit(text: str, output: str | None) -> None:
    if output is None:
        sys.stdout.write(text)
    else:
        write(output, text, picture=False)
