"""Record the numbers every bundled spec and every good example gives, row by row.

tests/test_language_compat.py compares the language's current answers with this record, so
that a change to the spec language that alters an existing spec's numbers is caught. Run it
(from a checkout whose answers are the reference) to refresh tests/data/language-baseline.json:

    python scripts/language_baseline.py
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from convcalc.analysis import analyze
from convcalc.language import bundled, load_file
from convcalc.report import Report

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "data" / "language-baseline.json"


def digest(report: Report) -> str:
    """A fingerprint of every row: names, kinds, shapes, counts and receptive fields."""
    lines = [f"{r.name}|{r.kind}|{r.depth}|{r.input_shape}|{r.output_shape}|{r.params}|"
             f"{r.biases}|{r.non_trainable_params}|{r.macs}|{r.activations}|"
             f"{r.size_status.value}|{r.line}:{r.col}|"
             + ";".join(f"{f.size},{f.stride},{f.pad}" for f in r.receptive_field)
             for r in report.rows]
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def record(path: Path) -> dict[str, object] | None:
    loaded = load_file(path)
    if loaded.model is None:
        return None
    report = analyze(loaded.model, known=loaded.problems)
    totals = report.totals
    return {"params": totals.params, "buffers": totals.non_trainable_params,
            "macs": totals.macs, "activations": totals.activations,
            "output": str(totals.output_shape), "rows": len(report.rows),
            "problems": sorted(f"{p.line}:{p.col} {p.code}" for p in report.problems),
            "digest": digest(report)}


def specs() -> dict[str, Path]:
    good = sorted((ROOT / "tests" / "specs" / "good").glob("*.yaml"))
    return {**{f"architectures/{p.name}": p for p in bundled().values()},
            **{f"tests/specs/good/{p.name}": p for p in good}}


def main() -> None:
    found = {name: record(path) for name, path in specs().items()}
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps({k: v for k, v in found.items() if v is not None}, indent=1,
                              sort_keys=True) + "\n")
    print(f"{len(found)} specs recorded in {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
