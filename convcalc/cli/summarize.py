"""`convcalc summarize`: a whole network, layer by layer."""

# Annotations evaluated once, not as strings: see convcalc/cli/__init__.py.

import sys
from typing import Annotated

import typer

from convcalc.cli.common import (
    EXIT_PROBLEMS,
    RULES_HELP,
    Dtype,
    Optimizer,
    SummaryFormat,
    count,
    fail,
    load,
    print_problems,
    resized,
    rule_names,
    settings_of,
)
from convcalc.problem import ERROR


def summarize(
    spec: Annotated[str, typer.Argument(help="A spec file, or the name of a bundled spec "
                                        "(see `convcalc zoo`).")],
    batch: Annotated[int, typer.Option("--batch", parser=count("--batch"),
                                       help="Batch size for memory.")] = 1,
    dtype: Annotated[Dtype, typer.Option("--dtype", help="Element type for bytes.")] =
        Dtype.float32,
    input_shape: Annotated[str | None, typer.Option("--input", help="Override the spec's "
                                                    "input shape, e.g. 320x320x3.")] = None,
    fmt: Annotated[SummaryFormat, typer.Option("--format", help="table, json, csv, "
                                               "markdown, or html (a self-contained page with "
                                               "charts).")] = SummaryFormat.table,
    output: Annotated[str | None, typer.Option("--output", "-o", help="Write the html page "
                                               "to this file.")] = None,
    depth: Annotated[int | None, typer.Option("--depth", parser=count("--depth", 0),
                                              help="Show rows down to this nesting depth; "
                                              "deeper blocks and merges are collapsed into one "
                                              "row. Default: all.")] = None,
    receptive: Annotated[bool, typer.Option("--rf", help="Add receptive-field columns: size "
                                            "(\"whole\" once it covers the input), effective "
                                            "stride and padding.")] = False,
    optimizer: Annotated[Optimizer | None, typer.Option("--optimizer", help="Add training "
                                                        "memory with this optimizer.")] = None,
    mixed: Annotated[bool, typer.Option("--mixed", help="Training in mixed precision: "
                                        "--dtype float16/bfloat16 compute, float32 master "
                                        "weights.")] = False,
    fit: Annotated[str | None, typer.Option("--fit", help="The largest batch whose memory "
                                            "fits this size, e.g. 16GiB (training with "
                                            "--optimizer, else inference).")] = None,
    fused: Annotated[bool, typer.Option("--fused-attention", help="Model attention as fused "
                                        "(flash-style) kernels that hold no score tensor, in "
                                        "the inference peak, training and --fit.")] = False,
    preset: Annotated[str, typer.Option("--preset", help="What counts as an operation: macs "
                                        "(the default; = paper), fvcore, ptflops, "
                                        "torchinfo.")] = "macs",
    count: Annotated[str | None, typer.Option("--count", help="Your own convention instead "
                                              "of a preset: MACs plus any of bias, norm, act, "
                                              "pool, add, attention (its products), "
                                              "comma-separated.")] = None,
    rules: Annotated[str | None, typer.Option("--rules", help=RULES_HELP + " Several, "
                                              "comma-separated (pytorch,caffe), add the "
                                              "layers whose sizes differ side by side (table and "
                                              "json formats).")
                     ] = None,
) -> None:
    """A whole network, layer by layer: shapes, activations, params, MACs, exact totals.

    Exits 1 when the spec has problems (printed after what could be computed), 2 when it
    cannot be read.
    """
    from convcalc.analysis import Analysis
    from convcalc.counting import PRESETS, Counted, custom
    from convcalc.memory import memory as memory_models
    from convcalc.units import parse_quantity

    if output is not None and fmt is not SummaryFormat.html:
        fail("--output writes the html page (--format html); redirect other formats with >")
    if mixed and dtype.value not in ("float16", "bfloat16"):
        fail("--mixed needs --dtype float16 or bfloat16 (the compute precision)")
    try:
        convention = custom(count.split(",")) if count else PRESETS[preset]
        budget = parse_quantity(fit) if fit else None
    except KeyError:
        fail(f"unknown --preset {preset!r}; one of: {', '.join(PRESETS)}")
    except ValueError as exc:
        fail(str(exc))
    loaded = load(spec)
    model = loaded.model
    assert model is not None
    if input_shape is not None:
        model = resized(model, input_shape)
    chosen = rule_names(rules, most=7)
    if len(chosen) > 1 and fmt not in (SummaryFormat.table, SummaryFormat.json):
        fail("--rules with several rule sets compares them in the table and json formats; "
             f"--format {fmt.value} takes one rule set")
    # Rows are made as they are written: JSON and CSV keep none of them.
    analysis = Analysis(model, settings_of(batch, dtype.value, chosen), known=loaded.problems,
                        tallies=(convention.own,))
    compared = None
    if len(chosen) > 1:
        from convcalc.portability import compare

        compared = compare(model, chosen)
    memory_options = (optimizer.value if optimizer else None, mixed, budget, fused)
    (ops,) = analysis.tallied
    if fmt is SummaryFormat.json:
        from convcalc.render.json_ import summary_chunks

        rows = ((row, tallies[0]) for row, tallies in analysis.tallied_rows())
        memory = memory_models(model, analysis, *memory_options)
        sys.stdout.writelines(summary_chunks(analysis, rows, memory, (convention, ops),
                                             compared))
        sys.stdout.write("\n")
    elif fmt is SummaryFormat.csv:
        from convcalc.render.tabular import csv_chunks

        sys.stdout.writelines(csv_chunks(analysis, analysis.rows(), depth))
    else:
        pairs = list(analysis.tallied_rows())
        report = analysis.report(tuple(row for row, _ in pairs))
        counted = Counted(convention, tuple(tallies[0] for _, tallies in pairs), ops)
        # from the rows already made: a walk fewer than from the analysis (0.4 ms)
        memory = memory_models(model, report, *memory_options)
        if fmt is SummaryFormat.html:
            from convcalc.cli.pictures import summary_page

            summary_page(model, report, memory, counted, output)
        elif fmt is SummaryFormat.markdown:
            from convcalc.render.tabular import to_markdown

            sys.stdout.write(to_markdown(report, depth))
        else:
            from convcalc.render.grid import wants_colour
            from convcalc.render.summary import draw

            sys.stdout.write(draw(report, depth, wants_colour(), memory, counted, receptive))
            if compared is not None:
                from convcalc.render.portability import draw as draw_rules

                sys.stdout.write(draw_rules(compared, depth, wants_colour()))
    print_problems(analysis.problems)  # in every format: JSON has them too, as data
    if any(p.level == ERROR for p in analysis.problems):
        raise typer.Exit(EXIT_PROBLEMS)
