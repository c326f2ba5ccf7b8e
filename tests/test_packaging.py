"""The package as installed: every subpackage listed, the bundled specs shipped."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import tomllib

ROOT = Path(__file__).parent.parent


def test_every_subpackage_is_listed_in_pyproject() -> None:
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
                 ["packages"])
    found = {".".join(init.parent.relative_to(ROOT).parts)
             for init in (ROOT / "convcalc").rglob("__init__.py")}
    assert found | {"convcalc.architectures"} == listed


def test_bundled_specs_are_found_by_name() -> None:
    from convcalc.language import bundled

    names = bundled()
    assert "vgg16" in names
    assert {path.name for path in names.values()} == {
        path.name for path in (ROOT / "architectures").glob("*.yaml")}


def test_a_run_leaves_its_objects_to_the_operating_system() -> None:
    """No collection during the run, none on the way out (the run ends the process)."""
    code = ("import gc, sys\n"
            "sys.argv = ['convcalc', 'summarize', 'lenet5', '--format', 'csv']\n"
            "from convcalc.cli import main\n"
            "try:\n    main()\nexcept SystemExit as exit:\n    code = exit.code\n"
            "print(code, gc.isenabled(), gc.get_freeze_count() > 1000, file=sys.stderr)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.startswith("name,")
    assert result.stderr.split() == ["0", "False", "True"]
