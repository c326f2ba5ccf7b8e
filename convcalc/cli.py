"""The command line: options in, a renderer and an exit code out. No arithmetic here.

Exit codes: 0 clean, 1 problems found, 2 unusable invocation or unreadable input.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable, Iterable
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from convcalc import __version__
from convcalc.problem import ERROR, Problem

if TYPE_CHECKING:
    from convcalc.language import Loaded
    from convcalc.model import Model
    from convcalc.report import Report

EXIT_CLEAN, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2

HELP = ("Exact convolution arithmetic: shapes, parameters, MACs, memory and receptive fields "
        "of CNN layers and whole architectures, with no framework installed.\n\n"
        "Exit codes: 0 clean, 1 problems found, 2 unusable invocation or unreadable input.")

# The commands, in the order --help lists them. A run builds only the command it calls:
# turning every command's signature into options costs more than most commands' work.
COMMANDS: dict[str, Callable[..., None]] = {}


def command(function: Callable[..., None]) -> Callable[..., None]:
    """Register a command under its function's name (``conv-transpose`` style for ``_``)."""
    COMMANDS[function.__name__.replace("_", "-")] = function
    return function


def build(names: Iterable[str] | None = None) -> typer.Typer:
    """The typer application with the named commands (all of them by default)."""
    app = typer.Typer(name="convcalc", help=HELP, no_args_is_help=True, add_completion=False,
                      pretty_exceptions_enable=False, rich_markup_mode=None)
    app.callback()(_root)
    for name in COMMANDS if names is None else names:
        app.command(name)(COMMANDS[name])
    return app


class Dtype(str, Enum):
    float64 = "float64"
    float32 = "float32"
    float16 = "float16"
    bfloat16 = "bfloat16"
    int8 = "int8"


class LayerFormat(str, Enum):
    table = "table"
    json = "json"


class SummaryFormat(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"
    markdown = "markdown"


def fail(message: str) -> NoReturn:
    """One line on stderr and exit 2: the documented path for unusable input."""
    print(f"convcalc: error: {message}", file=sys.stderr)
    raise typer.Exit(EXIT_USAGE)


def _version(value: bool) -> None:
    if value:
        print(f"convcalc {__version__}")
        raise typer.Exit()


def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Exact convolution arithmetic for CNN architectures."""


# Which layer key each `convcalc layer` option sets.
_LAYER_OPTIONS = {"k": "--k", "stride": "--stride", "pad": "--pad", "dilation": "--dilation",
                  "groups": "--groups", "ceil": "--ceil", "output_padding": "--output-padding",
                  "out": "--out-size", "bias": "--no-bias", "filters": "--filters",
                  "units": "--filters"}


@command
def layer(
    shape: Annotated[str, typer.Option("--in", "-i", help="Input shape: HxWxC (2-D), LxC (1-D), "
                                       "DxHxWxC (3-D) or C (a vector, for fc).")],
    filters: Annotated[int | None, typer.Option("--filters", "-f", help="Number of filters "
                                                "(output channels), or units for fc.")] = None,
    k: Annotated[str | None, typer.Option("--k", help="Kernel size: 5, or per axis 3x5.")] = None,
    stride: Annotated[str | None, typer.Option("--stride", "-s", help="Stride: 2 or per axis "
                                               "2x1. Pooling defaults to the kernel size.")] = None,
    pad: Annotated[str | None, typer.Option("--pad", "-p", help="Padding: 2, per axis 1x2, "
                                            "before,after 0,1, or same / valid / full.")] = None,
    dilation: Annotated[str | None, typer.Option("--dilation", "-d", help="Dilation: 2 or per "
                                                 "axis.")] = None,
    groups: Annotated[int | None, typer.Option("--groups", "-g", help="Groups of a grouped "
                                               "convolution.")] = None,
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
    batch: Annotated[int, typer.Option("--batch", min=1, help="Batch size for memory.")] = 1,
    dtype: Annotated[Dtype, typer.Option("--dtype", help="Element type for bytes.")] =
        Dtype.float32,
    fmt: Annotated[LayerFormat, typer.Option("--format", help="table for people, json for "
                                             "programs.")] = LayerFormat.table,
    explain: Annotated[bool, typer.Option("--explain", help="Also name the formulas after "
                                          "Dumoulin & Visin's relationships.")] = False,
) -> None:
    """One layer on one input: output shape, params, MACs, memory and the worked formulas.

    Example: convcalc layer --in 32x32x3 --filters 10 --k 5 --pad 2
    """
    from convcalc.layers import KINDS, lookup
    from convcalc.layers.fields import construct
    from convcalc.measure import analyze_layer
    from convcalc.problem import LayerError
    from convcalc.report import Settings
    from convcalc.shape import Shape

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
    try:
        report = analyze_layer(built, x, Settings(batch, dtype.value))
    except LayerError as exc:
        fail(exc.message)
    if explain:
        from convcalc.relationships import explain as cases

        report = dataclasses.replace(report, formulas=(*report.formulas,
                                                       *cases(built, report.row)))
    if fmt is LayerFormat.json:
        from convcalc.render.json_ import layer_report

        print(layer_report(report))
        return
    from convcalc.render.grid import wants_colour
    from convcalc.render.layer import draw

    sys.stdout.write(draw(report, wants_colour()))


def _print_problems(problems: tuple[Problem, ...]) -> None:
    for problem in problems:
        print(problem, file=sys.stderr)


@command
def summarize(
    spec: Annotated[str, typer.Argument(help="A spec file, or the name of a bundled spec "
                                        "(see `convcalc zoo`).")],
    batch: Annotated[int, typer.Option("--batch", min=1, help="Batch size for memory.")] = 1,
    dtype: Annotated[Dtype, typer.Option("--dtype", help="Element type for bytes.")] =
        Dtype.float32,
    input_shape: Annotated[str | None, typer.Option("--input", help="Override the spec's "
                                                    "input shape, e.g. 320x320x3.")] = None,
    fmt: Annotated[SummaryFormat, typer.Option("--format", help="table, json, csv or "
                                               "markdown.")] = SummaryFormat.table,
    depth: Annotated[int | None, typer.Option("--depth", min=0, help="Show rows down to this "
                                              "nesting depth; deeper blocks and merges are "
                                              "collapsed into one row. Default: all.")] = None,
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
    preset: Annotated[str, typer.Option("--preset", help="What counts as an operation: macs "
                                        "(the default; = paper), fvcore, ptflops, "
                                        "torchinfo.")] = "macs",
    count: Annotated[str | None, typer.Option("--count", help="Your own convention instead "
                                              "of a preset: MACs plus any of bias, norm, act, "
                                              "pool, add, comma-separated.")] = None,
) -> None:
    """A whole network, layer by layer: shapes, activations, params, MACs, exact totals.

    Exits 1 when the spec has problems (printed after what could be computed), 2 when it
    cannot be read.
    """
    from convcalc.analysis import analyze
    from convcalc.counting import PRESETS, custom
    from convcalc.counting import count as count_ops
    from convcalc.memory import memory as memory_models
    from convcalc.report import Settings
    from convcalc.shape import Shape
    from convcalc.units import parse_quantity

    if mixed and dtype.value not in ("float16", "bfloat16"):
        fail("--mixed needs --dtype float16 or bfloat16 (the compute precision)")
    try:
        convention = custom(count.split(",")) if count else PRESETS[preset]
        budget = parse_quantity(fit) if fit else None
    except KeyError:
        fail(f"unknown --preset {preset!r}; one of: {', '.join(PRESETS)}")
    except ValueError as exc:
        fail(str(exc))
    loaded = _load(spec)
    model = loaded.model
    assert model is not None
    if input_shape is not None:
        try:
            model = dataclasses.replace(model, input=Shape.parse(input_shape))
        except ValueError as exc:
            fail(f"--input: {exc}")
    report = analyze(model, Settings(batch, dtype.value), known=loaded.problems)
    counted = count_ops(report, convention)
    memory = memory_models(model, report, optimizer.value if optimizer else None, mixed, budget)
    if fmt is SummaryFormat.json:
        from convcalc.render.json_ import summary

        print(summary(report, memory, counted))
    elif fmt is SummaryFormat.csv:
        from convcalc.render.tabular import to_csv

        sys.stdout.write(to_csv(report, depth))
    elif fmt is SummaryFormat.markdown:
        from convcalc.render.tabular import to_markdown

        sys.stdout.write(to_markdown(report, depth))
    else:
        from convcalc.render.grid import wants_colour
        from convcalc.render.summary import draw

        sys.stdout.write(draw(report, depth, wants_colour(), memory, counted, receptive))
    if fmt is not SummaryFormat.json:
        _print_problems(report.problems)
    if any(p.level == ERROR for p in report.problems):
        raise typer.Exit(EXIT_PROBLEMS)


@command
def zoo(
    fmt: Annotated[LayerFormat, typer.Option("--format", help="table or json.")] =
        LayerFormat.table,
) -> None:
    """List the bundled architectures: name, input, params, MACs, activations, source.

    Any of them can be summarised by name from any folder: convcalc summarize resnet50
    """
    from convcalc.render import zoo as render
    from convcalc.zoo import catalogue

    entries = catalogue()
    if fmt is LayerFormat.json:
        print(render.to_json(entries))
        return
    from convcalc.render.grid import wants_colour

    sys.stdout.write(render.draw(entries, wants_colour()))


class Optimizer(str, Enum):
    sgd = "sgd"
    momentum = "momentum"
    adam = "adam"


class CheckFormat(str, Enum):
    parsable = "parsable"
    github = "github"
    json = "json"


def _quantity(option: str) -> object:
    """A typer parser for counts like 25M, 4.5G or 2GiB (exact, no float rounding)."""

    def parse(text: str | None) -> int | None:
        from convcalc.units import parse_quantity

        if text is None:
            return None
        try:
            return parse_quantity(text)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint=option) from None

    return parse


@command
def check(
    paths: Annotated[list[str], typer.Argument(help="Spec files, folders (searched for "
                                               "*.yaml and *.yml) and globs.")],
    strict: Annotated[bool, typer.Option("--strict", help="Every non-integer size is an error, "
                                         "harmless ones too.")] = False,
    max_params: Annotated[str | None, typer.Option("--max-params", help="Budget, e.g. 25M.")
                          ] = None,
    max_macs: Annotated[str | None, typer.Option("--max-macs", help="Budget, e.g. 4.5G.")
                        ] = None,
    max_activations: Annotated[str | None, typer.Option("--max-activations", help="Budget "
                                                        "of forward activation elements.")
                               ] = None,
    max_memory: Annotated[str | None, typer.Option("--max-memory", help="Budget of bytes: "
                                                   "activations at --batch plus parameters, "
                                                   "e.g. 2GiB.")] = None,
    batch: Annotated[int, typer.Option("--batch", min=1, help="Batch size for --max-memory.")
                     ] = 1,
    dtype: Annotated[Dtype, typer.Option("--dtype", help="Element type for --max-memory.")] =
        Dtype.float32,
    fmt: Annotated[CheckFormat | None, typer.Option("--format", help="parsable (path:line:col: "
                                                    "level [code] message), github "
                                                    "(workflow annotations; the default when "
                                                    "GITHUB_ACTIONS=true) or json.")] = None,
) -> None:
    """Check architecture specs like a linter: sizes, merges, expect blocks and budgets.

    Lossy non-integer sizes are errors; harmless ones pass unless --strict; a layer's
    `allow: lossy` (with a `reason`) waives its size. Exit codes: 0 clean, 1 problems
    found, 2 unusable invocation or unreadable input.
    """
    import os

    from convcalc.check import Budget
    from convcalc.check import check as run
    from convcalc.render.problems import REPORTERS
    from convcalc.report import Settings

    limits = {name: _quantity(f"--max-{name}")(value)  # type: ignore[operator]
              for name, value in (("params", max_params), ("macs", max_macs),
                                  ("activations", max_activations), ("memory", max_memory))}
    if fmt is None:
        fmt = CheckFormat.github if os.environ.get("GITHUB_ACTIONS") == "true" else \
            CheckFormat.parsable
    outcome = run(paths, Settings(batch, dtype.value), strict, Budget(**limits))
    sys.stdout.write(REPORTERS[fmt.value](outcome.problems))
    for message in outcome.unusable:
        print(f"convcalc: error: {message}", file=sys.stderr)
    errors = sum(p.level == ERROR for p in outcome.problems)
    print(f"checked {len(outcome.files)} file(s): {errors} error(s), "
          f"{len(outcome.problems) - errors} other note(s)", file=sys.stderr)
    if outcome.unusable:
        raise typer.Exit(EXIT_USAGE)
    if outcome.failed:
        raise typer.Exit(EXIT_PROBLEMS)


@command
def schema() -> None:
    """Print a JSON Schema of the spec language, for editors' validation and completion.

    Example: convcalc schema > convcalc.schema.json
    """
    import json

    from convcalc.schema import schema as build

    print(json.dumps(build(), indent=2))


class Target(str, Enum):
    pytorch = "pytorch"


def _clean_report(loaded: Loaded) -> tuple[Model, Report]:
    """The model and its analysis, or its problems on stderr and exit 1."""
    from convcalc.analysis import analyze

    assert loaded.model is not None
    report = analyze(loaded.model, known=loaded.problems)
    if any(p.level == ERROR for p in report.problems):
        _print_problems(report.problems)
        raise typer.Exit(EXIT_PROBLEMS)
    return loaded.model, report


@command
def export(
    spec: Annotated[str, typer.Argument(help="A spec file or a bundled spec's name.")],
    to: Annotated[Target, typer.Option("--to", help="The target framework.")] =
        Target.pytorch,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file "
                                                "instead of standard output.")] = None,
) -> None:
    """Write a self-contained PyTorch module for a spec (one attribute per layer).

    What torch cannot express (1-D and 3-D locally connected layers, asymmetric padding of
    a transposed convolution) is an error, never a silently different network.
    """
    from convcalc.export import ExportError, to_pytorch

    model, report = _clean_report(_load(spec))
    try:
        source = to_pytorch(model, report)
    except ExportError as exc:
        where = f"{exc.at.path}:{exc.at.line}:{exc.at.col}: " if exc.at else ""
        fail(f"{where}cannot export to {to.value}: {exc.message}")
    if output is None:
        sys.stdout.write(source)
    else:
        output.write_text(source)
        print(f"wrote {output}", file=sys.stderr)


@command
def verify(
    spec: Annotated[str, typer.Argument(help="A spec file or a bundled spec's name.")],
    device: Annotated[str, typer.Option("--device", help="meta (shapes only, no memory) or "
                                        "cpu.")] = "meta",
) -> None:
    """Build the PyTorch export, run it once, and compare every layer with convcalc.

    Needs torch. Exits 1 on any difference in output shape or parameter count.
    """
    try:
        import torch
    except ImportError:
        fail("verify needs PyTorch: pip install torch")
    from convcalc.export import ExportError
    from convcalc.render.verify import draw
    from convcalc.verify import compare

    model, report = _clean_report(_load(spec))
    try:
        comparisons = compare(model, report, device)
    except ExportError as exc:
        fail(f"cannot export to pytorch: {exc.message}")
    except RuntimeError as exc:  # torch refused the network convcalc accepted
        print(f"convcalc: torch refused the exported network: {exc}", file=sys.stderr)
        raise typer.Exit(EXIT_PROBLEMS) from None
    sys.stdout.write(draw(comparisons, torch.__version__, device))
    if not all(c.agrees for c in comparisons):
        raise typer.Exit(EXIT_PROBLEMS)


def _numbers(text: str | None, option: str, default: tuple[int, ...],
             most: int = 1_000) -> tuple[int, ...]:
    """``7``, ``3,5,7`` or a range ``1:11`` (with a step: ``112:448:112``), at most ``most``."""
    if text is None:
        return default
    values: list[int] = []
    try:
        for part in text.split(","):
            if ":" in part:
                bounds = [int(v) for v in part.split(":")]
                start, stop, step = (*bounds, 1) if len(bounds) == 2 else bounds
                span = range(start, stop + 1, step)
                if len(values) + len(span) > most:
                    fail(f"{option}: at most {most:,} values, got {text!r}")
                values += span
            else:
                values.append(int(part))
    except (ValueError, TypeError):
        fail(f"{option}: expected numbers like 7, 3,5,7 or 1:11, got {text!r}")
    if not values or min(values) < 1 or len(values) > most:
        fail(f"{option}: expected up to {most:,} positive numbers, got {text!r}")
    return tuple(dict.fromkeys(values))


class SolveKind(str, Enum):
    conv = "conv"
    pool = "pool"
    conv_transpose = "conv-transpose"


@command
def solve(
    size: Annotated[int, typer.Option("--in", min=1, help="Input size along one axis.")],
    target: Annotated[int, typer.Option("--out", min=1, help="The output size wanted.")],
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

    bounds = Bounds(_numbers(k, "--k", Bounds.kernels), _numbers(stride, "--stride",
                                                                  Bounds.strides),
                    _numbers(dilation, "--dilation", Bounds.dilations))
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


def _resizable(spec: str) -> Model:
    """A clean model with a spatial input, whose size `sizes` and `sweep` vary."""
    model, _ = _clean_report(_load(spec))
    if not model.input.spatial:
        fail(f"{spec} takes a flat input: it has no spatial size to vary")
    return model


@command
def sizes(
    spec: Annotated[str, typer.Argument(help="A spec file or a bundled spec's name.")],
    span: Annotated[str, typer.Option("--range", help="Square input sizes to try, low:high.")
                    ] = "32:1024",
) -> None:
    """Which input sizes a network takes exactly, without losing input, or evenly strided.

    Example: convcalc sizes resnet50 --range 32:1024
    """
    from convcalc.design import check_size
    from convcalc.render.design import sizes as render

    model = _resizable(spec)
    chosen = _numbers(span, "--range", (), most=5_000)
    checks = [check_size(model, size) for size in chosen]
    sys.stdout.write(render(model.name, min(chosen), max(chosen), checks))


@command
def sweep(
    spec: Annotated[str, typer.Argument(help="A spec file or a bundled spec's name.")],
    sizes: Annotated[str, typer.Option("--sizes", help="Input sizes: 112,224,448 or a range "
                                       "112:448:112.")],
    batch: Annotated[int, typer.Option("--batch", min=1, help="Batch size for memory.")] = 1,
    dtype: Annotated[Dtype, typer.Option("--dtype", help="Element type for bytes.")] =
        Dtype.float32,
) -> None:
    """Params, MACs, activations and memory per input size, and how each grows.

    Example: convcalc sweep vgg16 --sizes 224,448
    """
    from convcalc.design import sweep as run
    from convcalc.render.design import sweep as render
    from convcalc.report import Settings

    model = _resizable(spec)
    points = run(model, list(_numbers(sizes, "--sizes", (), most=200)),
                 Settings(batch, dtype.value))
    sys.stdout.write(render(model.name, points))


@command
def compare(
    first: Annotated[str, typer.Argument(help="Spec A: a file or a bundled name.")],
    second: Annotated[str, typer.Argument(help="Spec B: a file or a bundled name.")],
) -> None:
    """Two specs (or two versions of one) side by side: totals and the layers that differ.

    Example: convcalc compare inception-naive inception-module
    """
    from convcalc.analysis import analyze
    from convcalc.design import compare as diff
    from convcalc.render.design import comparison

    reports = []
    for spec in (first, second):
        loaded = _load(spec)
        assert loaded.model is not None
        reports.append(analyze(loaded.model, known=loaded.problems))
    sys.stdout.write(comparison(reports[0], reports[1], diff(reports[0], reports[1])))


@command
def explain(
    spec: Annotated[str, typer.Argument(help="A spec file or a bundled spec's name.")],
    name: Annotated[str, typer.Argument(help="The layer's name (as summarize shows it; the "
                                        "last part is enough when it is unique).")],
) -> None:
    """One layer of a spec, step by step: its formulas with the numbers filled in, named
    after Dumoulin & Visin's relationships.

    Example: convcalc explain alexnet conv1
    """
    from convcalc.design import find_layer
    from convcalc.render.grid import wants_colour
    from convcalc.render.layer import draw

    model, report = _clean_report(_load(spec))
    node = find_layer(model, name)
    row = next((r for r in report.rows if node is not None and r.name == node.name), None)
    if node is None or row is None:
        fail(f"no single layer called {name!r} in {spec}; `convcalc summarize {spec}` lists "
             "the names")
    from convcalc.measure import analyze_layer
    from convcalc.relationships import explain as cases

    single = analyze_layer(node.layer, row.input_shape, report.settings)
    single = dataclasses.replace(single, formulas=(*single.formulas,
                                                   *cases(node.layer, single.row)))
    print(f"{node.name} ({spec}, line {node.at.line})")
    sys.stdout.write(draw(single, wants_colour()))


def _load(spec: str) -> Loaded:
    """A readable spec, or the problems on stderr and exit 2."""
    from convcalc.language import bundled, load_file, resolve

    path = resolve(spec)
    if path is None:
        fail(f"{spec!r} is neither a file nor a bundled spec (bundled: "
             f"{', '.join(sorted(bundled()))})")
    loaded = load_file(path)
    if loaded.library and not any(p.level == ERROR for p in loaded.problems):
        fail(f"{spec} is a block library (blocks only): include it from a spec to use it")
    if not loaded.ok:
        _print_problems(loaded.problems)
        raise typer.Exit(EXIT_USAGE)
    return loaded


def main() -> None:
    """The console script: a bug in convcalc is one line too (CONVCALC_DEBUG=1 for more)."""
    import gc
    import os

    # A run is short and builds no garbage cycles worth collecting: the collector would only
    # rescan the model's objects again and again (a 100,000-layer spec spends a third of its
    # time there).
    gc.disable()
    called = sys.argv[1] if len(sys.argv) > 1 else ""
    try:
        build([called] if called in COMMANDS else None)()
    except Exception as exc:  # anything the commands did not turn into a message is a bug
        if os.environ.get("CONVCALC_DEBUG"):
            raise
        print(f"convcalc: internal error: {type(exc).__name__}: {exc} (please report it; "
              "CONVCALC_DEBUG=1 shows the traceback)", file=sys.stderr)
        raise SystemExit(EXIT_USAGE) from None
    finally:
        # The process ends here, and Python collects once more on the way out: with the
        # collector off, every object of the run is still young and would be walked (12 ms
        # for ResNet-152). Frozen objects are left to the operating system.
        gc.freeze()
