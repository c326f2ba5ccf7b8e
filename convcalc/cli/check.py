"""`convcalc check`: specs checked like a linter."""

# Annotations evaluated once, not as strings: see convcalc/cli/__init__.py.

import sys
from enum import Enum
from typing import Annotated

import typer

from convcalc.cli.common import (
    EXIT_PROBLEMS,
    EXIT_USAGE,
    RULES_HELP,
    Dtype,
    count,
    fail,
    quantity,
    rule_names,
    settings_of,
)
from convcalc.problem import ERROR, INFO, WARNING


class CheckFormat(str, Enum):
    parsable = "parsable"
    github = "github"
    json = "json"


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
    batch: Annotated[int, typer.Option("--batch", parser=count("--batch"),
                                       help="Batch size for --max-memory.")] = 1,
    dtype: Annotated[Dtype, typer.Option("--dtype", help="Element type for --max-memory.")] =
        Dtype.float32,
    fmt: Annotated[CheckFormat | None, typer.Option("--format", help="parsable (path:line:col: "
                                                    "level [code] message), github "
                                                    "(workflow annotations; the default when "
                                                    "GITHUB_ACTIONS=true) or json.")] = None,
    rules: Annotated[str | None, typer.Option("--rules", help=RULES_HELP)] = None,
    portable: Annotated[str | None, typer.Option("--portable", help="Rule sets that must "
                                                 "agree, e.g. pytorch,tensorflow,caffe: a "
                                                 "layer they size apart (or that some refuse) "
                                                 "is a not-portable error.")] = None,
) -> None:
    """Check architecture specs like a linter: sizes, merges, expect blocks and budgets.

    Lossy non-integer sizes are errors; harmless ones pass unless --strict; a layer's
    `allow: lossy` (with a `reason`) waives its size. Exit codes: 0 clean, 1 problems
    found, 2 unusable invocation or unreadable input.
    """
    import os

    from convcalc.check import Budget
    from convcalc.check import check as run
    from convcalc.render.escape import escape
    from convcalc.render.problems import REPORTERS

    limits = {name: quantity(f"--max-{name}")(value)  # type: ignore[operator]
              for name, value in (("params", max_params), ("macs", max_macs),
                                  ("activations", max_activations), ("memory", max_memory))}
    if fmt is None:
        fmt = CheckFormat.github if os.environ.get("GITHUB_ACTIONS") == "true" else \
            CheckFormat.parsable
    chosen = rule_names(portable, "--portable", most=7)
    if portable is not None and len(chosen) < 2:
        fail("--portable needs at least two rule sets, e.g. pytorch,caffe")
    outcome = run(paths, settings_of(batch, dtype.value, rule_names(rules)), strict,
                  Budget(**limits), sys.stdin.buffer, chosen)
    sys.stdout.write(REPORTERS[fmt.value](outcome.problems))
    for message in outcome.unusable:
        print(f"convcalc: error: {escape(message)}", file=sys.stderr)
    levels = [p.level for p in outcome.problems]
    print(f"checked {len(outcome.files)} file(s): {levels.count(ERROR)} error(s), "
          f"{levels.count(WARNING)} warning(s), {levels.count(INFO)} info", file=sys.stderr)
    if outcome.unusable:
        raise typer.Exit(EXIT_USAGE)
    if outcome.failed:
        raise typer.Exit(EXIT_PROBLEMS)


