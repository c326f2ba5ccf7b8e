"""The language only grows: every spec that loaded before the language gained expressions,
conditionals, shapes inside blocks and channel splits gives the same numbers, row by row.

The record (tests/data/language-baseline.json) was written by scripts/language_baseline.py
from main before those changes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scripts.language_baseline import ROOT, record

BASELINE = json.loads((Path(__file__).parent / "data" / "language-baseline.json").read_text())


def test_the_record_covers_the_bundled_specs_and_the_good_examples() -> None:
    assert sum(name.startswith("architectures/") for name in BASELINE) >= 30
    assert sum(name.startswith("tests/specs/good/") for name in BASELINE) >= 4


@pytest.mark.parametrize("name", sorted(BASELINE))
def test_a_spec_gives_the_numbers_it_gave_before(name: str) -> None:
    assert record(ROOT / name) == BASELINE[name]
