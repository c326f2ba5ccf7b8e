"""The README's pictures: committed, up to date with the renderers, shown by the README."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from tests.svgread import parse

ROOT = Path(__file__).resolve().parent.parent


def script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("figures", ROOT / "scripts" / "figures.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


FIGURES = script()


@pytest.mark.parametrize("name", sorted(FIGURES.FIGURES))
def test_a_committed_picture_is_up_to_date(tmp_path: Path, name: str) -> None:
    committed = FIGURES.FOLDER / name
    assert committed.exists(), f"{name} is missing: run python scripts/figures.py"
    drawn = FIGURES.draw(name, tmp_path)
    assert drawn.read_text(encoding="utf-8") == committed.read_text(encoding="utf-8"), \
        f"docs/figures/{name} is out of date: run python scripts/figures.py and commit it"
    parse(committed.read_text(encoding="utf-8"))


def test_every_picture_is_drawn_by_the_script_and_shown() -> None:
    committed = sorted(path.name for path in FIGURES.FOLDER.glob("*.svg"))
    assert committed == sorted(FIGURES.FIGURES)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in committed:
        assert f"(docs/figures/{name})" in readme
