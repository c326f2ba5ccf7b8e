"""Shared helpers: run the CLI in-process and parse what it prints."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from typer.testing import CliRunner

from convcalc.cli import build


class Run:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err

    def json(self) -> Any:
        return json.loads(self.out)


class _Runner(CliRunner):
    """click's runner, with stderr flushed at each line: click before 8.2 reads it unflushed."""

    @contextlib.contextmanager
    def isolation(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        with super().isolation(*args, **kwargs) as streams:
            getattr(sys.stderr, "reconfigure", lambda **_: None)(line_buffering=True)
            yield streams


@pytest.fixture
def cli() -> Any:
    try:  # click before 8.2 mixes stderr into stdout unless told not to
        options: dict[str, Any] = {"mix_stderr": False}
        runner = _Runner(**options)
    except TypeError:  # click 8.2 and later keep them apart, and have no such option
        runner = _Runner()
    app = build()

    def run(*args: str) -> Run:
        result = runner.invoke(app, list(args), env={"COLUMNS": "200", "NO_COLOR": "1"})
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return Run(result.exit_code, result.stdout, result.stderr)

    return run


def summary_json(cli: Any, *args: str) -> dict[str, Any]:
    """`convcalc summarize ARGS --format json`, parsed (exit 0 or 1: problems are data)."""
    run = cli("summarize", *args, "--format", "json")
    assert run.code in (0, 1), run.err
    document: dict[str, Any] = run.json()
    return document
