"""The package as installed: every subpackage listed, the bundled specs shipped."""

from __future__ import annotations

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
    from convcalc.spec import bundled

    names = bundled()
    assert "vgg16" in names
    assert {path.name for path in names.values()} == {
        path.name for path in (ROOT / "architectures").glob("*.yaml")}
