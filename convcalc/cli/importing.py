"""`convcalc import`: an ONNX file or a PyTorch model as a spec, or its summary at once."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from convcalc.cli.common import EXIT_PROBLEMS, EXIT_USAGE, fail, print_problems
from convcalc.problem import ERROR

if TYPE_CHECKING:
    from convcalc.importers import Imported
    from convcalc.shape import Shape


class Names(str, Enum):
    informative = "informative"
    keep = "keep"


MODEL_HELP = ("An .onnx file (read, never run), a .keras file or a Keras to_json() .json, a "
              "Caffe .prototxt (read with no framework), torchvision:NAME, or "
              "package.module:factory (a function that returns a torch.nn.Module: importing "
              "calls it).")


def import_(
    model: Annotated[str, typer.Argument(help=MODEL_HELP)],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the spec to "
                                                "this file instead of standard output.")]
        = None,
    summarize: Annotated[bool, typer.Option("--summarize", help="Print the summary at once, "
                                            "writing no spec.")] = False,
    input_shape: Annotated[str | None, typer.Option("--input", help="The input, e.g. "
                                                    "224x224x3 (default: the ONNX file's, or "
                                                    "torchvision's crop size).")] = None,
    allow_opaque: Annotated[bool, typer.Option("--allow-opaque", help="Keep going past ops "
                                               "convcalc cannot express, as opaque layers "
                                               "(declared shape, counted as zero, a warning "
                                               "on every output).")] = False,
    names: Annotated[Names, typer.Option("--names", help="informative: write only names "
                                         "that say more than the kind and position; keep: "
                                         "every module or node name.")] = Names.informative,
) -> None:
    """Bring an ONNX or PyTorch model in as a spec, checked against the model itself.

    The spec reproduces the model's shapes layer by layer and its params, buffers and MACs,
    which it carries as `expect`. Exits 2 when the model cannot be read or holds ops
    convcalc cannot express (each one named).
    """
    imported = load_model(model, parse_input(input_shape), allow_opaque)
    for note in imported.notes:
        print(f"note: {note}", file=sys.stderr)
    if summarize:
        _summarize(imported)
        return
    from convcalc.language.writer import write_spec

    text = write_spec(imported.model, names.value, notes=_header(model, imported))
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text)
        print(f"wrote {output} ({len(text.splitlines())} lines)", file=sys.stderr)


def parse_input(text: str | None) -> Shape | None:
    from convcalc.shape import Shape

    if text is None:
        return None
    try:
        return Shape.parse(text)
    except ValueError as exc:
        fail(f"--input: {exc}")


def load_model(model: str, input_shape: Shape | None, allow_opaque: bool = False) -> Imported:
    """The imported model, or its problems (one line each) and exit 2."""
    from convcalc.importers import ImportFailure, load

    try:
        return load(model, input_shape, allow_opaque)
    except ImportFailure as exc:
        print_problems(exc.problems)
        if len(exc.problems) != 1:  # one problem says it all in one line
            print(f"convcalc: error: {exc.message}", file=sys.stderr)
        raise typer.Exit(EXIT_USAGE) from None


def _header(model: str, imported: Imported) -> list[str]:
    totals = imported.totals
    return [f"Imported from {model} by convcalc import; expect holds the model's own totals",
            f"(MACs: {totals.convention}).", *imported.notes]


def _summarize(imported: Imported) -> None:
    from convcalc.analysis import analyze
    from convcalc.counting import PRESETS
    from convcalc.counting import count as count_ops
    from convcalc.memory import memory as memory_models
    from convcalc.render.grid import wants_colour
    from convcalc.render.summary import draw

    report = analyze(imported.model)
    memory = memory_models(imported.model, report, None, False, None)
    sys.stdout.write(draw(report, None, wants_colour(), memory,
                          count_ops(report, PRESETS["macs"]), False))
    print_problems(report.problems)
    if any(p.level == ERROR for p in report.problems):
        raise typer.Exit(EXIT_PROBLEMS)


def verify_against(spec: str, model: str) -> None:
    """``verify SPEC --against MODEL``: exit 1 when the spec is not the model."""
    from convcalc.cli.common import clean_report, load
    from convcalc.importers.compare import compare
    from convcalc.render.against import draw

    ours, report = clean_report(load(spec))
    imported = load_model(model, ours.input)
    result = compare(report, imported)
    sys.stdout.write(draw(result, spec))
    if not result.agrees:
        raise typer.Exit(EXIT_PROBLEMS)
