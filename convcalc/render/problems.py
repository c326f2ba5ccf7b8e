"""Problem reporters, looked up by name: one line per problem, or JSON."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

from convcalc.problem import Problem
from convcalc.render.escape import escape
from convcalc.render.json_ import problem_json


def parsable(problems: Sequence[Problem]) -> str:
    """``path:line:col: level [code] message``: what editors and grep understand."""
    return "".join(f"{problem}\n" for problem in problems)


def _escape(text: str, property_value: bool = False) -> str:
    """GitHub's workflow-command escaping, after the terminal's."""
    text = escape(text).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if property_value else text


_GITHUB_LEVEL = {"error": "error", "warning": "warning", "info": "notice"}


def github(problems: Sequence[Problem]) -> str:
    """Workflow annotations: ``::error file=…,line=…,col=…,title=…::message``."""
    return "".join(
        f"::{_GITHUB_LEVEL.get(p.level, 'notice')} file={_escape(p.path, True)},line={p.line},"
        f"col={p.col},title={_escape(p.code, True)}::{_escape(p.message)}\n" for p in problems)


def as_json(problems: Sequence[Problem]) -> str:
    """A list of objects with path, line, col, level, code and message."""
    return json.dumps([problem_json(p) for p in problems], indent=2, ensure_ascii=False) + "\n"


REPORTERS: dict[str, Callable[[Sequence[Problem]], str]] = {
    "parsable": parsable,
    "github": github,
    "json": as_json,
}
