"""`convcalc draw`: a picture of a whole architecture."""

# Annotations evaluated once, not as strings: see convcalc/cli/__init__.py.

import sys
from enum import Enum
from typing import Annotated

import typer

from convcalc.cli.common import EXIT_PROBLEMS, fail, load, print_problems
from convcalc.problem import ERROR


class DiagramStyle(str, Enum):
    blocks = "blocks"
    graph = "graph"


class DiagramFormat(str, Enum):
    svg = "svg"
    mermaid = "mermaid"


MAX_BOXES = 20_000  # beyond this a picture is unreadable and big: collapse with --depth


def draw(
    spec: Annotated[str, typer.Argument(help="A spec file, or the name of a bundled spec.")],
    output: Annotated[str | None, typer.Option("--output", "-o", help="Write to this file "
                                               "(.svg, .png with the png extra, .mmd) "
                                               "instead of stdout.")] = None,
    style: Annotated[DiagramStyle, typer.Option("--style", help="blocks: boxes sized by the "
                                                "output shape, left to right (the AlexNet "
                                                "and VGG figures); graph: a compact flow "
                                                "graph, top to bottom.")] = DiagramStyle.blocks,
    depth: Annotated[int | None, typer.Option("--depth", min=0, help="Draw rows down to this "
                                              "nesting depth; deeper blocks and merges are "
                                              "one box. Default: all.")] = None,
    fmt: Annotated[DiagramFormat | None, typer.Option("--format", help="svg, or mermaid "
                                                      "(which GitHub renders in Markdown). "
                                                      "Default: mermaid for a .mmd name, "
                                                      "else svg.")] = None,
) -> None:
    """A diagram of an architecture: a box per layer (or collapsed block), branches side by
    side, each box labelled with its output shape and coloured by its kind.

    Example: convcalc draw vgg16 -o vgg16.svg
    """
    from convcalc.analysis import analyze
    from convcalc.structure import tree

    loaded = load(spec)
    assert loaded.model is not None
    report = analyze(loaded.model, known=loaded.problems)
    boxes = sum(1 for row in report.rows if depth is None or row.depth <= depth)
    if boxes > MAX_BOXES:
        fail(f"{boxes:,} boxes are more than a diagram draws ({MAX_BOXES:,}): collapse blocks "
             "with --depth")
    items = tree(loaded.model, report)
    if fmt is None:
        mermaid_name = output is not None and output.lower().endswith(".mmd")
        fmt = DiagramFormat.mermaid if mermaid_name else DiagramFormat.svg
    if fmt is DiagramFormat.mermaid:
        from convcalc.render.mermaid import draw as chart

        text = chart(report, items, depth, "LR" if style is DiagramStyle.blocks else "TD")
    else:
        from convcalc.render.diagram import draw as picture

        text = picture(report, items, style.value, depth)
    if output is None:
        sys.stdout.write(text)
    else:
        from convcalc.cli.pictures import write

        write(output, text, picture=fmt is DiagramFormat.svg)
    print_problems(report.problems)
    if any(p.level == ERROR for p in report.problems):
        raise typer.Exit(EXIT_PROBLEMS)
