"""The README's examples run, and print what the README shows.

Every ``$ convcalc …`` line of a ``console`` block is run; the lines under it must appear
in its output, in order. A shown line may leave parts out with ``…``; a line that is only
``…`` stands for any number of lines.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest

Cli = Any

README = Path(__file__).parent.parent / "README.md"
ILLUSTRATIVE = ("specs/**/*.yaml",)  # a user's own files, which this repository does not have


def examples() -> list[tuple[int, list[str], list[str]]]:
    """(line number, arguments, shown lines) of each example command."""
    found: list[tuple[int, list[str], list[str]]] = []
    in_console = False
    for number, line in enumerate(README.read_text(encoding="utf-8").splitlines(), 1):
        if line.startswith("```"):
            in_console = line == "```console"
        elif in_console and line.startswith("$ convcalc "):
            found.append((number, shlex.split(line[len("$ convcalc "):], comments=True), []))
        elif in_console and found:
            found[-1][2].append(line.rstrip())
    return [example for example in found
            if not any(word in ILLUSTRATIVE for word in example[1])]


def shows(shown: str, actual: str) -> bool:
    """Whether an actual line is the shown one, with ``…`` standing for anything."""
    if "…" not in shown:
        return actual.rstrip() == shown
    at = 0
    for part in (part.strip() for part in shown.split("…")):
        at = actual.find(part, at)
        if at < 0:
            return False
        at += len(part)
    return True


def test_the_readme_has_examples() -> None:
    assert len(examples()) >= 10


def written_with_torch() -> set[str]:
    """The files that examples needing torch write (``-o FILE``): later examples read them."""
    return {args[args.index("-o") + 1] for _, args, _ in examples()
            if args[0] == "import" and "-o" in args[:-1]}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder for every example, in order: a file one writes, the next may read."""
    return tmp_path_factory.mktemp("readme")


@pytest.mark.parametrize(("line", "args", "shown"), examples(),
                         ids=[f"README:{line}" for line, _, _ in examples()])
def test_readme_example(cli: Cli, workdir: Path, monkeypatch: pytest.MonkeyPatch, line: int,
                        args: list[str], shown: list[str]) -> None:
    if args[0] in ("verify", "import") or set(args) & written_with_torch():
        pytest.importorskip("torch")  # or a file such an example writes
    monkeypatch.chdir(workdir)  # examples that write files write them here
    run = cli(*args)
    assert run.code in (0, 1), run.err
    actual = (run.out + run.err).splitlines()
    at = 0
    for wanted in (text for text in shown if text.strip() != "…"):
        found = next((i for i in range(at, len(actual)) if shows(wanted, actual[i])), None)
        assert found is not None, f"README line {line}: {wanted!r} is not in the output"
        at = found + 1


def test_every_problem_code_is_in_the_readme() -> None:
    """Codes are stable ids a user greps for and a CI step matches: each one the code can
    give is named in the README, so an unknown one is never met first in a failing build."""
    source = "\n".join(path.read_text(encoding="utf-8")
                       for path in (README.parent / "convcalc").rglob("*.py"))
    made = (r'(?:problem\([^,()]+, |LayerError\(|FieldError\(|code=|ERROR, |WARNING, |INFO, '
            r'|warnings=\(\()"([a-z]+(?:-[a-z]+)*)"')
    codes = set(re.findall(made, source))
    found = {"non-integer-size", "bad-heads", "unknown-key", "outside-folder", "opaque-layer"}
    assert found <= codes  # the pattern finds codes however they are made
    readme = README.read_text(encoding="utf-8")
    assert sorted(code for code in codes if f"`{code}`" not in readme) == []
