"""Folders of example specs: every bad one gives exactly the problems written in its header
(``# expect: LINE:COL CODE``), every good one analyses cleanly and meets its ``expect``."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from convcalc.analysis import analyze
from convcalc.language import load_file
from convcalc.problem import ERROR

SPECS = Path(__file__).parent / "specs"
BAD = sorted((SPECS / "bad").glob("*.yaml"))
GOOD_DIR = SPECS / "good"
GOOD = sorted(GOOD_DIR.glob("*.yaml"))


def expected(path: Path) -> list[tuple[int, int, str]]:
    return [(int(line), int(col), code) for line, col, code in
            re.findall(r"^# expect: (\d+):(\d+) (\S+)", path.read_text(), re.M)]


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.stem)
def test_bad_spec_problems(path: Path) -> None:
    loaded = load_file(path)
    assert loaded.model is None
    assert [(p.line, p.col, p.code) for p in loaded.problems] == expected(path)
    assert all("\n" not in p.message for p in loaded.problems)


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.stem)
def test_bad_spec_exits_2_with_one_line_per_problem(cli: Any, path: Path) -> None:
    run = cli("summarize", str(path))
    assert run.code == 2
    lines = run.err.strip().splitlines()
    assert len(lines) == len(expected(path))
    for line, (row, col, code) in zip(lines, expected(path), strict=True):
        assert line.startswith(f"{path}:{row}:{col}: error [{code}] ")


def test_a_bad_spec_in_a_real_process_has_no_traceback() -> None:
    path = SPECS / "bad" / "recursive-block.yaml"
    result = subprocess.run([sys.executable, "-m", "convcalc", "summarize", str(path)],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "[recursive-block]" in result.stderr


@pytest.mark.parametrize("path", GOOD, ids=lambda p: p.stem)
def test_good_spec_is_clean_and_meets_its_expect(path: Path) -> None:
    loaded = load_file(path)
    assert loaded.model is not None, loaded.problems
    assert loaded.model.expect, "every good example states what it must give"
    report = analyze(loaded.model, known=loaded.problems)
    assert [p for p in report.problems if p.level == ERROR] == []


def test_unet_skips_are_aligned() -> None:
    loaded = load_file(GOOD_DIR / "unet.yaml")
    assert loaded.model is not None
    report = analyze(loaded.model)
    assert report.problems == ()
    last = report.rows[-1].receptive_field[0]
    assert last.stride == 1  # back on the input grid after two upsamplings
