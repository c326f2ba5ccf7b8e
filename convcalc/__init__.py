"""convcalc: exact convolution arithmetic for CNN architectures, no framework needed."""

from __future__ import annotations

__version__ = "0.1.0"


from typing import TYPE_CHECKING

from convcalc.problem import Problem, SpecError

if TYPE_CHECKING:
    from convcalc.model import Model
    from convcalc.report import Report

__all__ = ["Problem", "SpecError", "__version__", "analyze", "load", "load_text"]


def load(spec: str) -> Model:
    """The model of a spec file, or of a bundled spec by name (``"vgg16"``).

    Raises :class:`SpecError` with every problem when the spec cannot be built.
    """
    from convcalc.language import load_file, resolve

    path = resolve(spec)
    if path is None:
        raise SpecError(f"{spec!r} is neither a file nor a bundled spec", ())
    return _model(load_file(path))


def load_text(text: str, path: str = "<text>") -> Model:
    """The model of a spec given as YAML text."""
    from convcalc.language import load_text as build

    return _model(build(text, path))


def _model(loaded: object) -> Model:
    from convcalc.language import Loaded

    assert isinstance(loaded, Loaded)
    if loaded.model is None:
        raise SpecError("; ".join(map(str, loaded.problems)), loaded.problems)
    return loaded.model


def analyze(model: Model, batch: int = 1, dtype: str = "float32", strict: bool = False,
            rules: str | None = None) -> Report:
    """The report of a model: a row per layer, exact totals, and every problem.

    ``rules`` names a framework whose size rules apply (``"caffe"``; see convcalc.rules),
    overriding the spec's own ``rules:``.
    """
    from convcalc.analysis import analyze as run
    from convcalc.report import Settings

    settings = Settings(batch, dtype) if rules is None else \
        Settings(batch, dtype, rules, "--rules")
    return run(model, settings, strict=strict)
