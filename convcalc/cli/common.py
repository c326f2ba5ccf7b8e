"""What the commands share: failing with one line, loading specs, option types."""

from __future__ import annotations

import sys
from collections.abc import Callable
from enum import Enum
from typing import TYPE_CHECKING, NoReturn

import typer

from convcalc.problem import ERROR, Problem
from convcalc.render.escape import escape
from convcalc.units import shorten, whole_number

if TYPE_CHECKING:
    from convcalc.language import Loaded
    from convcalc.model import Model
    from convcalc.report import Report, Settings

EXIT_CLEAN, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2


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
    html = "html"


def fail(message: str) -> NoReturn:
    """One line on stderr and exit 2: the documented path for unusable input."""
    print(f"convcalc: error: {escape(message)}", file=sys.stderr)
    raise typer.Exit(EXIT_USAGE)


def print_problems(problems: tuple[Problem, ...]) -> None:
    for problem in problems:
        print(problem, file=sys.stderr)



class Optimizer(str, Enum):
    sgd = "sgd"
    momentum = "momentum"
    adam = "adam"


RULES_HELP = ("Size rules of a framework: pytorch, tensorflow, keras, onnx, caffe, mxnet or "
              "darknet (rounding, padding words, what it refuses). Default: the spec's "
              "`rules:`, else pytorch without its refusals.")


def rule_names(text: str | None, option: str = "--rules", most: int = 1) -> tuple[str, ...]:
    """``caffe`` or ``pytorch,caffe``: known rule-set names, at most ``most`` of them."""
    if text is None:
        return ()
    from convcalc.rules import RULES

    names = tuple(dict.fromkeys(part.strip().lower() for part in text.split(",")))
    unknown = [name for name in names if name not in RULES]
    if unknown or not names:
        fail(f"{option}: unknown rules {', '.join(map(repr, unknown or [text]))}; one of: "
             f"{', '.join(RULES)}")
    if len(names) > most:
        fail(f"{option} takes {'one rule set' if most == 1 else f'at most {most} rule sets'}, "
             f"got {text!r}")
    return names


def settings_of(batch: int = 1, dtype: str = "float32", rules: tuple[str, ...] = ()
                ) -> Settings:
    """The settings of a run: --rules, when given, overrides a spec's own `rules:`."""
    from convcalc.report import Settings

    return Settings(batch, dtype, rules[0], "--rules") if rules else Settings(batch, dtype)


def quantity(option: str) -> object:
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



def clean_report(loaded: Loaded, settings: Settings | None = None) -> tuple[Model, Report]:
    """The model and its analysis, or its problems on stderr and exit 1."""
    from convcalc.analysis import analyze

    assert loaded.model is not None
    report = analyze(loaded.model, settings, known=loaded.problems)
    if any(p.level == ERROR for p in report.problems):
        print_problems(report.problems)
        raise typer.Exit(EXIT_PROBLEMS)
    return loaded.model, report



def numbers(text: str | None, option: str, default: tuple[int, ...],
            most: int = 1_000) -> tuple[int, ...]:
    """``7``, ``3,5,7`` or a range ``1:11`` (with a step: ``112:448:112``), at most ``most``."""
    if text is None:
        return default
    values: list[int] = []
    try:
        for part in text.split(","):
            if ":" in part:
                bounds = [whole_number(v) for v in part.split(":")]
                start, stop, step = (*bounds, 1) if len(bounds) == 2 else bounds
                if step < 1:
                    raise ValueError
                # counted, not len(range(...)): that overflows past 2^63 values
                if len(values) + max(0, (stop - start) // step + 1) > most:
                    fail(f"{option}: at most {most:,} values, got {shorten(text)}")
                values += range(start, stop + 1, step)
            else:
                values.append(whole_number(part))
    except (ValueError, TypeError):
        fail(f"{option}: expected numbers like 7, 3,5,7 or 1:11, got {shorten(text)}")
    if not values or min(values) < 1 or len(values) > most:
        fail(f"{option}: expected up to {most:,} positive numbers, got {shorten(text)}")
    return tuple(dict.fromkeys(values))


def count(option: str, minimum: int | None = 1) -> Callable[[str], int]:
    """A typer parser of a whole number of at least ``minimum`` (if any), in ASCII digits.

    click's own accepts what Python's int() does: ``３``, ``١`` and ``1_0`` too.
    """

    def parse(text: str | int) -> int:
        try:
            value = text if isinstance(text, int) else whole_number(text)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint=option) from None
        if minimum is not None and value < minimum:
            raise typer.BadParameter(f"{value} is below {minimum}", param_hint=option)
        return value

    return parse


def resized(model: Model, text: str) -> Model:
    """The model for the input ``--input`` gives (built again if its blocks read the input's
    shape), or the problems on stderr and exit 2."""
    from convcalc.model import with_input
    from convcalc.problem import SpecError
    from convcalc.shape import Shape

    try:
        return with_input(model, Shape.parse(text))
    except ValueError as exc:
        fail(f"--input: {exc}")
    except SpecError as exc:
        print_problems(exc.problems)
        raise typer.Exit(EXIT_USAGE) from None


def resizable(spec: str, settings: Settings | None = None) -> Model:
    """A clean model with a spatial input, whose size `sizes` and `sweep` vary."""
    from convcalc.analysis import Analysis

    loaded = load(spec)
    model = loaded.model
    assert model is not None
    problems = Analysis(model, settings, known=loaded.problems).problems  # no rows are made
    if any(p.level == ERROR for p in problems):
        print_problems(problems)
        raise typer.Exit(EXIT_PROBLEMS)
    if not model.input.spatial:
        fail(f"{spec} takes a flat input: it has no spatial size to vary")
    return model



def load(spec: str) -> Loaded:
    """A readable spec, or the problems on stderr and exit 2."""
    from convcalc.language import STDIN, bundled, load_file, load_stream, resolve

    if spec == STDIN:
        loaded = load_stream(sys.stdin.buffer)
    else:
        path = resolve(spec)
        if path is None:
            fail(f"{shorten(spec, 80)} is neither a file nor a bundled spec (bundled: "
                 f"{', '.join(sorted(bundled()))}; - reads standard input)")
        loaded = load_file(path)
    if loaded.library and not any(p.level == ERROR for p in loaded.problems):
        fail(f"{spec} is a block library (blocks only): include it from a spec to use it")
    if not loaded.ok:
        print_problems(loaded.problems)
        raise typer.Exit(EXIT_USAGE)
    return loaded


