"""The core never draws: importing it must not import typer or rich."""

from __future__ import annotations

import subprocess
import sys


def test_core_imports_neither_typer_nor_rich() -> None:
    core = ("convcalc", "convcalc.analysis", "convcalc.measure", "convcalc.layers",
            "convcalc.report", "convcalc.language.builder", "convcalc.render.json_",
            "convcalc.render.summary", "convcalc.render.layer", "convcalc.render.tabular",
            "convcalc.footprint", "convcalc.structure", "convcalc.render.figure",
            "convcalc.render.diagram", "convcalc.render.mermaid", "convcalc.render.html")
    code = (f"import sys, {', '.join(core)}; "
            "print(sorted(m for m in ('typer', 'rich', 'click') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "[]"
