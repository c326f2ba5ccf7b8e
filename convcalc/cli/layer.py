"""`convcalc layer`: one layer on one input, worked out."""

# Annotations evaluated once, not as strings: see convcalc/cli/__init__.py.

import dataclasses
import sys
from typing import Annotated

import typer

from convcalc.cli.common import (
    RULES_HELP,
    Dtype,
    LayerFormat,
    count,
    fail,
    rule_names,
    settings_of,
)

_LAYER_OPTIONS = {"k": "--k", "stride": "--stride", "pad": "--pad", "dilation": "--dilation",
                  "groups": "--groups", "ceil": "--ceil", "output_padding": "--output-padding",
                  "out": "--out-size", "bias": "--no-bias", "filters": "--filters",
                  "units": "--filters"}



def layer(
    shape: Annotated[str, typer.Option("--in", "-i", help="Input shape: HxWxC (2-D), LxC (1-D), "
                                       "DxHxWxC (3-D) or C (a vector, for fc).")],
    filters: Annotated[int | None, typer.Option("--filters", "-f", parser=count("--filters", None),
                                                help="Number of filters (output channels), or "
                                                "units for fc.")] = None,
    k: Annotated[str | None, typer.Option("--k", help="Kernel size: 5, or per axis 3x5.")] = None,
    stride: Annotated[str | None, typer.Option("--stride", "-s", help="Stride: 2 or per axis "
                                               "2x1. Pooling defaults to the kernel size.")] = None,
    pad: Annotated[str | None, typer.Option("--pad", "-p", help="Padding: 2, per axis 1x2, "
                                            "before,after 0,1, or same / valid / full.")] = None,
    dilation: Annotated[str | None, typer.Option("--dilation", "-d", help="Dilation: 2 or per "
                                                 "axis.")] = None,
    groups: Annotated[int | None, typer.Option("--groups", "-g", parser=count("--groups", None),
                                               help="Groups of a grouped convolution.")] = None,
    kind: Annotated[str, typer.Option("--kind", help="conv, conv-transpose, depthwise, "
                                      "separable, local, maxpool, avgpool, global-avgpool, "
                                      "global-maxpool, adaptive-avgpool, adaptive-maxpool, fc.")
                    ] = "conv",
    ceil: Annotated[bool, typer.Option("--ceil", help="Pooling in ceil mode.")] = False,
    output_padding: Annotated[str | None, typer.Option("--output-padding", help="Extra output "
                                                       "size of a transposed conv.")] = None,
    out_size: Annotated[str | None, typer.Option("--out-size", help="Output size of adaptive "
                                                 "pooling: 7 or 7x7.")] = None,
    no_bias: Annotated[bool, typer.Option("--no-bias", help="The layer has no bias.")] = False,
    batch: Annotated[int, typer.Option("--batch", parser=count("--batch"),
                                       help="Batch size for memory.")] = 1,
    dtype: Annotated[Dtype, typer.Option("--dtype", help="Element type for bytes.")] =
        Dtype.float32,
    fmt: Annotated[LayerFormat, typer.Option("--format", help="table for people, json for "
                                             "programs.")] = LayerFormat.table,
    explain: Annotated[bool, typer.Option("--explain", help="Also name the formulas after "
                                          "Dumoulin & Visin's relationships.")] = False,
    rules: Annotated[str | None, typer.Option("--rules", help=RULES_HELP)] = None,
    draw_to: Annotated[str | None, typer.Option("--draw", help="Also draw the arithmetic as a "
                                                "figure: an .svg (or .png) file.")] = None,
    positions: Annotated[str | None, typer.Option("--positions", help="With --draw, the output "
                                                  "positions drawn: 0x0,1x2 (2-D), 0,3 (1-D) "
                                                  "or all.")] = None,
    animate: Annotated[bool, typer.Option("--animate", help="With --draw, one animated panel "
                                          "stepping the kernel over the input.")] = False,
    slice_: Annotated[str | None, typer.Option("--slice", help="With --draw, the axes drawn, "
                                               "e.g. HW of a 3-D layer.")] = None,
) -> None:
    """One layer on one input: output shape, params, MACs, memory and the worked formulas.

    Example: convcalc layer --in 32x32x3 --filters 10 --k 5 --pad 2
    """
    from convcalc.layers import KINDS, lookup
    from convcalc.layers.fields import construct
    from convcalc.measure import adapted, analyze_layer
    from convcalc.problem import LayerError
    from convcalc.shape import Shape

    figure_options = {"--positions": positions, "--animate": animate or None, "--slice": slice_}
    given_options = [name for name, value in figure_options.items() if value is not None]
    if draw_to is None and given_options:
        verb = "goes" if len(given_options) == 1 else "go"
        fail(f"{' and '.join(given_options)} {verb} with the figure: add --draw FILE")
    kind_class = lookup(kind)
    if kind_class is None:
        fail(f"unknown --kind {kind!r}; one of: {', '.join(KINDS)}")
    try:
        x = Shape.parse(shape)
    except ValueError as exc:
        fail(f"--in: {exc}")
    count_key = "units" if kind_class.count_field == "units" else "filters"
    given = {count_key: filters, "k": k, "stride": stride, "pad": pad, "dilation": dilation,
             "groups": groups, "ceil": ceil or None, "output_padding": output_padding,
             "out": out_size, "bias": False if no_bias else None}
    built, errors = construct(kind_class, {key: v for key, v in given.items() if v is not None})
    if errors:
        error = errors[0]
        option = _LAYER_OPTIONS.get(error.field, error.field)
        if error.code == "unknown-key":
            fail(f"option {option} does not apply to --kind {kind}")
        if error.code == "missing-key":
            fail(f"--kind {kind} needs {option}")
        fail(f"{option}{error.message.removeprefix(error.field)}")
    settings = settings_of(batch, dtype.value, rule_names(rules))
    try:
        report = analyze_layer(built, x, settings)
    except LayerError as exc:
        fail(exc.message)
    sized = adapted(built, x, settings)  # as the rules in force compute it
    if explain:
        from convcalc.relationships import explain as cases

        report = dataclasses.replace(report, formulas=(*report.formulas,
                                                       *cases(sized, report.row)))
    if draw_to is not None:
        from convcalc.cli.pictures import layer_figure

        layer_figure(sized, x, report, draw_to, positions, animate, slice_)
    if fmt is LayerFormat.json:
        from convcalc.render.json_ import layer_report

        print(layer_report(report))
        return
    from convcalc.render.grid import wants_colour
    from convcalc.render.layer import draw

    sys.stdout.write(draw(report, wants_colour()))


