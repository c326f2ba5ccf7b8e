"""`convcalc check`: the linter for architecture specs, its formats, policy and exit codes."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from convcalc.check import check, discover

ROOT = Path(__file__).parent.parent
SPECS = Path(__file__).parent / "specs"
FAILING = sorted((SPECS / "failing").glob("*.yaml"))
Cli = Any


def expected(path: Path) -> list[tuple[int, int, str]]:
    return [(int(line), int(col), code) for line, col, code in
            re.findall(r"^# expect: (\d+):(\d+) (\S+)", path.read_text(), re.M)]


def test_the_bundled_architectures_pass(cli: Cli) -> None:
    run = cli("check", str(ROOT / "architectures"))
    assert run.code == 0, run.out
    assert "error" not in run.out


@pytest.mark.parametrize("path", FAILING, ids=lambda p: p.stem)
def test_failing_specs_give_exactly_their_problems(path: Path) -> None:
    outcome = check([str(path)])
    assert [(p.line, p.col, p.code) for p in outcome.problems] == expected(path)


def test_one_line_per_problem_and_exit_1(cli: Cli) -> None:
    run = cli("check", str(SPECS / "failing"))
    assert run.code == 1
    lines = run.out.splitlines()
    assert len(lines) == sum(len(expected(p)) for p in FAILING)
    pattern = re.compile(r"^\S+:\d+:\d+: (error|warning|info) \[[a-z-]+\] .+$")
    assert all(pattern.match(line) for line in lines), lines


def test_github_format(cli: Cli) -> None:
    run = cli("check", str(SPECS / "failing" / "lossy-size.yaml"), "--format", "github")
    assert run.code == 1
    assert run.out.startswith(f"::error file={SPECS / 'failing' / 'lossy-size.yaml'},line=5,"
                              "col=5,title=non-integer-size::conv1: H, W 54.25")


def test_github_format_is_chosen_on_github_actions(tmp_path: Path) -> None:
    env = {"GITHUB_ACTIONS": "true", "PATH": ""}
    result = subprocess.run([sys.executable, "-m", "convcalc", "check",
                             str(SPECS / "failing" / "mismatched-add.yaml")],
                            capture_output=True, text=True, env=env, check=False)
    assert result.returncode == 1
    assert result.stdout.startswith("::error file=")


def test_json_format(cli: Cli) -> None:
    run = cli("check", str(SPECS / "failing"), "--format", "json")
    problems = json.loads(run.out)
    assert isinstance(problems, list) and problems
    assert set(problems[0]) == {"path", "line", "col", "level", "code", "message"}


def test_strict_makes_harmless_sizes_errors(cli: Cli) -> None:
    assert cli("check", str(ROOT / "architectures" / "resnet50.yaml")).code == 0
    run = cli("check", "--strict", str(ROOT / "architectures" / "resnet50.yaml"))
    assert run.code == 1
    assert "112.5 floored to 112 (harmless" in run.out


def test_budgets_from_options(cli: Cli) -> None:
    resnet50 = str(ROOT / "architectures" / "resnet50.yaml")
    assert cli("check", resnet50, "--max-params", "26M", "--max-macs", "4.1G").code == 0
    run = cli("check", resnet50, "--max-params", "25M")
    assert run.code == 1
    assert "params 25,557,032 exceeds the budget of 25,000,000 (--max-params)" in run.out
    # memory: activations x 4 B x batch + params and buffers x 4 B
    run = cli("check", resnet50, "--max-memory", "2GiB", "--batch", "32")
    assert run.code == 1 and "memory" in run.out
    assert cli("check", resnet50, "--max-memory", "2GiB", "--batch", "8").code == 0
    bad = cli("check", resnet50, "--max-params", "lots")
    assert bad.code == 2


def test_unusable_invocations_exit_2(cli: Cli, tmp_path: Path) -> None:
    assert cli("check", str(tmp_path / "nowhere")).code == 2
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe\x00name")
    run = cli("check", str(binary))
    assert run.code == 2 and "cannot be read" in run.err


def test_discovery_of_files_folders_and_globs(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    for name in ("a/one.yaml", "a/two.yml", "three.yaml", "notes.txt"):
        (tmp_path / name).write_text("input: 8x8x1\nlayers: [relu]\n")
    found, missing, _ = discover([str(tmp_path / "a"), str(tmp_path / "*.yaml"),
                               str(tmp_path / "a" / "one.yaml"), str(tmp_path / "x*.yaml")])
    assert sorted(p.name for p in found) == ["one.yaml", "three.yaml", "two.yml"]
    assert missing == [str(tmp_path / "x*.yaml")]


def test_schema_is_valid_and_every_bundled_spec_validates(cli: Cli) -> None:
    schema = json.loads(cli("schema").out)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for path in sorted((ROOT / "architectures").glob("*.yaml")):
        errors = [e.message for e in validator.iter_errors(yaml.safe_load(path.read_text()))]
        assert errors == [], path.name
    typo = {"input": "8x8x1", "layers": [{"conv": {"filters": 8, "k": 3, "strides": 2}}]}
    assert not validator.is_valid(typo)


def test_pre_commit_hook_runs_check() -> None:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert hooks[0]["id"] == "convcalc-check"
    assert hooks[0]["entry"] == "convcalc check"
