"""The command line: options in, a renderer and an exit code out. No arithmetic here.

Each command lives in a module of this package; ``COMMANDS`` lists them in the order
``--help`` shows them, and a run imports and builds only the command it calls (turning
every command's signature into options costs more than most commands' own work).
Exit codes: 0 clean, 1 problems found, 2 unusable invocation or unreadable input.
"""

# Annotations are evaluated here, once (no `from __future__ import annotations`): typer
# reads a command's signature four times a run and would compile every annotation
# string each time.

import importlib
import sys
from collections.abc import Callable, Iterable
from typing import Annotated

import typer

from convcalc import __version__

HELP = ("Exact convolution arithmetic: shapes, parameters, MACs, memory and receptive fields "
        "of CNN layers and whole architectures, with no framework installed.\n\n"
        "Exit codes: 0 clean, 1 problems found, 2 unusable invocation or unreadable input.")

# The commands, in the order --help lists them. A run builds only the command it calls:

# command name -> the module of this package that defines it (as a function of that name)
COMMANDS: dict[str, str] = {
    "layer": "layer", "summarize": "summarize", "zoo": "catalogue", "check": "check",
    "schema": "catalogue", "export": "export", "verify": "export", "import": "importing",
    "solve": "design", "sizes": "design", "sweep": "design", "compare": "design",
    "explain": "design",
    "draw": "draw",
}


def function(name: str) -> Callable[..., None]:
    """The function behind a command (``import_`` for ``import``, a Python keyword)."""
    module = importlib.import_module(f"convcalc.cli.{COMMANDS[name]}")
    attribute = name.replace("-", "_")
    found: Callable[..., None] = getattr(module, attribute, None) or \
        getattr(module, f"{attribute}_")
    return found


def build(names: Iterable[str] | None = None) -> typer.Typer:
    """The typer application with the named commands (all of them by default)."""
    app = typer.Typer(name="convcalc", help=HELP, no_args_is_help=True, add_completion=False,
                      pretty_exceptions_enable=False, rich_markup_mode=None)
    app.callback()(_root)
    for name in COMMANDS if names is None else names:
        app.command(name)(function(name))
    return app


def _version(value: bool) -> None:
    if value:
        print(f"convcalc {__version__}")
        raise typer.Exit()


def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Exact convolution arithmetic for CNN architectures."""




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
        raise SystemExit(2) from None
    finally:
        # The process ends here, and Python collects once more on the way out: with the
        # collector off, every object of the run is still young and would be walked (12 ms
        # for ResNet-152). Frozen objects are left to the operating system.
        gc.freeze()

