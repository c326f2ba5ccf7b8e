"""Design questions: `solve`, `sizes`, `sweep`, `compare` and `explain`."""

# Annotations evaluated once, not as strings: see convcalc/cli/__init__.py.

import dataclasses
import sys
from enum import Enum
from typing import Annotated

import typer

from convcalc.cli.common import (
    EXIT_PROBLEMS,
    EXIT_USAGE,
    RULES_HELP,
    Dtype,
    clean_report,
    count,
    fail,
    load,
    numbers,
    print_problems,
    resizable,
    rule_names,
    settings_of,
)


class SolveKind(str, Enum):
    conv = "conv"
    pool = "pool"
    conv_transpose = "conv-transpose"


class CompareFormat(str, Enum):
    text = "text"
    html = "html"




def solve(
    size: Annotated[int, typer.Option("--in", parser=count("--in"),
                                      help="Input size along one axis.")],
    target: Annotated[int, typer.Option("--out", parser=count("--out"),
                                        help="The output size wanted.")],
    k: Annotated[str | None, typer.Option("--k", help="Kernel sizes to try: 7, 3,5,7 or "
                                          "1:11 (the default).")] = None,
    stride: Annotated[str | None, typer.Option("--stride", "-s", help="Strides to try "
                                               "(default 1:8).")] = None,
    dilation: Annotated[str | None, typer.Option("--dilation", "-d", help="Dilations to try "
                                                 "(default 1).")] = None,
    kind: Annotated[SolveKind, typer.Option("--kind", help="conv, pool (also ceil mode) or "
                                            "conv-transpose (with output_padding).")] =
        SolveKind.conv,
) -> None:
    """Which kernel, stride, padding and dilation turn one size into another, simplest first.

    Example: convcalc solve --in 224 --out 112 --k 7
    """
    from convcalc.design import Bounds, reachable
    from convcalc.design import solve as find
    from convcalc.render.design import solutions

    bounds = Bounds(numbers(k, "--k", Bounds.kernels), numbers(stride, "--stride",
                                                                  Bounds.strides),
                    numbers(dilation, "--dilation", Bounds.dilations))
    # every kernel, stride and dilation is tried with every padding up to its size
    work = len(bounds.strides) * sum(d * (kk - 1) + 1 for kk in bounds.kernels
                                     for d in bounds.dilations)
    if work > 2_000_000:
        fail("the bounds allow too many layers to try: narrow --k, --stride or --dilation")
    found = find(size, target, kind.value, bounds)
    nearest: tuple[int | None, int | None] = (None, None)
    if not found:
        reach = reachable(size, kind.value, bounds)
        nearest = (max((r for r in reach if r < target), default=None),
                   min((r for r in reach if r > target), default=None))
    sys.stdout.write(solutions(size, target, kind.value, found, nearest))
    if not found:
        raise typer.Exit(EXIT_PROBLEMS)




def sizes(
    spec: Annotated[str, typer.Argument(help="A spec file or a bundled spec's name.")],
    span: Annotated[str, typer.Option("--range", help="Square input sizes to try, low:high.")
                    ] = "32:1024",
    rules: Annotated[str | None, typer.Option("--rules", help=RULES_HELP)] = None,
) -> None:
    """Which input sizes a network takes exactly, without losing input, or evenly strided.

    Example: convcalc sizes resnet50 --range 32:1024
    """
    from convcalc.design import size_checks
    from convcalc.render.design import sizes as render

    chosen_rules = rule_names(rules)
    model = resizable(spec, settings_of(rules=chosen_rules))
    if chosen_rules:  # the option stands in for the spec's own `rules:`
        model = dataclasses.replace(model, rules=chosen_rules[0])
    chosen = numbers(span, "--range", (), most=5_000)
    checks = size_checks(model, chosen)
    sys.stdout.write(render(model.name, min(chosen), max(chosen), checks))


def sweep(
    spec: Annotated[str, typer.Argument(help="A spec file or a bundled spec's name.")],
    sizes: Annotated[str, typer.Option("--sizes", help="Input sizes: 112,224,448 or a range "
                                       "112:448:112.")],
    batch: Annotated[int, typer.Option("--batch", parser=count("--batch"),
                                       help="Batch size for memory.")] = 1,
    dtype: Annotated[Dtype, typer.Option("--dtype", help="Element type for bytes.")] =
        Dtype.float32,
) -> None:
    """Params, MACs, activations and memory per input size, and how each grows.

    Example: convcalc sweep vgg16 --sizes 224,448
    """
    from convcalc.design import sweep as run
    from convcalc.problem import SpecError
    from convcalc.render.design import sweep as render
    from convcalc.report import Settings

    model = resizable(spec)
    try:
        points = run(model, list(numbers(sizes, "--sizes", (), most=200)),
                     Settings(batch, dtype.value))
    except SpecError as exc:  # its blocks read the input's shape, and one size breaks them
        print_problems(exc.problems)
        raise typer.Exit(EXIT_USAGE) from None
    sys.stdout.write(render(model.name, points))


def compare(
    first: Annotated[str, typer.Argument(help="Spec A: a file or a bundled name.")],
    second: Annotated[str, typer.Argument(help="Spec B: a file or a bundled name.")],
    fmt: Annotated[CompareFormat, typer.Option("--format", help="text, or html (a page with "
                                               "both specs' charts side by side).")] =
        CompareFormat.text,
    output: Annotated[str | None, typer.Option("--output", "-o", help="Write the html page "
                                               "to this file.")] = None,
) -> None:
    """Two specs (or two versions of one) side by side: totals and the layers that differ.

    Example: convcalc compare inception-naive inception-module
    """
    from convcalc.analysis import Analysis
    from convcalc.design import compare as diff
    from convcalc.render.design import comparison

    if output is not None and fmt is not CompareFormat.html:
        fail("--output writes the html page (--format html)")
    analyses, models = [], []
    for spec in (first, second):
        loaded = load(spec)
        assert loaded.model is not None
        models.append(loaded.model)
        analyses.append(Analysis(loaded.model, known=loaded.problems))
    if fmt is CompareFormat.html:
        from convcalc.cli.pictures import comparison_page

        comparison_page(models, [analysis.report() for analysis in analyses], output)
        return
    a, b = analyses
    sys.stdout.write(comparison(a, b, diff(a.rows(), b.rows())))


def explain(
    spec: Annotated[str, typer.Argument(help="A spec file or a bundled spec's name.")],
    name: Annotated[str, typer.Argument(help="The layer's name (as summarize shows it; the "
                                        "last part is enough when it is unique).")],
    rules: Annotated[str | None, typer.Option("--rules", help=RULES_HELP)] = None,
) -> None:
    """One layer of a spec, step by step: its formulas with the numbers filled in, named
    after Dumoulin & Visin's relationships.

    Example: convcalc explain alexnet conv1
    """
    from convcalc.design import find_layer
    from convcalc.render.escape import escape
    from convcalc.render.grid import wants_colour
    from convcalc.render.layer import draw

    model, report = clean_report(load(spec), settings_of(rules=rule_names(rules)))
    node = find_layer(model, name)
    row = next((r for r in report.rows if node is not None and r.name == node.name), None)
    if node is None or row is None:
        fail(f"no single layer called {name!r} in {spec}; `convcalc summarize {spec}` lists "
             "the names")
    from convcalc.measure import adapted, analyze_layer
    from convcalc.relationships import explain as cases

    single = analyze_layer(node.layer, row.input_shape, report.settings)
    sized = adapted(node.layer, row.input_shape, report.settings)
    single = dataclasses.replace(single, formulas=(*single.formulas,
                                                   *cases(sized, single.row)))
    at = node.at  # the file that defines the layer: a block's may be an included one
    print(escape(f"{node.name} ({at.path}:{at.line}:{at.col})"))
    sys.stdout.write(draw(single, wants_colour()))


