"""`convcalc export` and `convcalc verify`: a spec as PyTorch, and PyTorch's word on it."""

# Annotations evaluated once, not as strings: see convcalc/cli/__init__.py.

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from convcalc.cli.common import EXIT_PROBLEMS, clean_report, fail, load
from convcalc.render.escape import escape


class Target(str, Enum):
    pytorch = "pytorch"




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

    model, report = clean_report(load(spec))
    try:
        source = to_pytorch(model, report)
    except ExportError as exc:
        where = f"{exc.at.path}:{exc.at.line}:{exc.at.col}: " if exc.at else ""
        fail(f"{where}cannot export to {to.value}: {exc.message}")
    if output is None:
        sys.stdout.write(source)
    else:
        output.write_text(source)
        print(f"wrote {escape(str(output))}", file=sys.stderr)


def verify(
    spec: Annotated[str, typer.Argument(help="A spec file or a bundled spec's name.")],
    device: Annotated[str, typer.Option("--device", help="meta (shapes only, no memory) or "
                                        "cpu.")] = "meta",
    against: Annotated[str | None, typer.Option("--against", help="Compare with a real model "
                                                "instead: an .onnx file, torchvision:NAME or "
                                                "package.module:factory.")] = None,
) -> None:
    """Build the PyTorch export, run it once, and compare every layer with convcalc.

    This proves convcalc's arithmetic for the spec as written. With --against MODEL it
    compares the spec with a real model instead (each weighted layer's output shape, params
    and buffers, then the totals with MACs), proving the spec is that model. Needs torch
    (or onnx). Exits 1 on any difference.
    """
    if against is not None:
        from convcalc.cli.importing import verify_against

        verify_against(spec, against)
        return
    try:
        import torch
    except ImportError:
        fail("verify needs PyTorch: pip install torch")
    from convcalc.export import ExportError
    from convcalc.render.verify import draw
    from convcalc.verify import compare

    model, report = clean_report(load(spec))
    try:
        comparisons = compare(model, report, device)
    except ExportError as exc:
        fail(f"cannot export to pytorch: {exc.message}")
    except RuntimeError as exc:  # torch refused the network convcalc accepted
        print(f"convcalc: torch refused the exported network: {escape(str(exc))}",
              file=sys.stderr)
        raise typer.Exit(EXIT_PROBLEMS) from None
    sys.stdout.write(draw(comparisons, torch.__version__, device))
    if not all(c.agrees for c in comparisons):
        raise typer.Exit(EXIT_PROBLEMS)


