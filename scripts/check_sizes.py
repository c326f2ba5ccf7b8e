"""Check that `convcalc sizes` answers as a whole analysis per size would, for every bundled
spec over a whole range, and record those answers for the test suite.

A whole analysis per size is what `sizes` no longer does, and over the default 32:1024 it
takes minutes for every bundled spec; tests/test_scale.py compares `sizes`' answers over
that whole range with the fingerprints this script records (after checking that `sizes`
and a whole analysis per size agree at every size), and with a whole analysis per size
live at a sample of the sizes:

    python scripts/check_sizes.py            # every bundled spec, 32:1024
    python scripts/check_sizes.py --write    # ... and record them: tests/data/sizes-baseline.json
    python scripts/check_sizes.py 32:256 resnet50 vgg16

Exits 1 at the first spec whose answers differ, naming the size (and records nothing).
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from pathlib import Path

from convcalc.analysis import Analysis
from convcalc.design import SizeCheck, check_size, size_checks
from convcalc.language import bundled, load_file
from convcalc.model import Model
from convcalc.problem import ERROR

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "data" / "sizes-baseline.json"
DEFAULT = range(32, 1025)  # `convcalc sizes`'s default range


def sized_models() -> dict[str, Model]:
    """The bundled specs `sizes` takes (not a library, a flat input or a spec with errors)."""
    models = {}
    for name, path in sorted(bundled().items()):
        model = load_file(path).model
        if model is not None and model.input.spatial and \
                not any(p.level == ERROR for p in Analysis(model).problems):
            models[name] = model
    return models


def fingerprint(checks: list[SizeCheck]) -> str:
    """One digest of every size's answer: its verdicts, the layer that breaks, the error."""
    lines = [f"{c.size}|{c.exact}|{c.safe}|{c.strided}|{c.breaks}|{c.error}" for c in checks]
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def main(arguments: list[str]) -> int:
    write = "--write" in arguments
    arguments = [argument for argument in arguments if argument != "--write"]
    sizes = DEFAULT
    if arguments and ":" in arguments[0]:
        low, high = (int(part) for part in arguments.pop(0).split(":"))
        sizes = range(low, high + 1)
    if write and (arguments or sizes != DEFAULT):
        print("--write records every bundled spec over the default range")
        return 2
    models = sized_models()
    recorded = {}
    for name in arguments or models:
        model = models.get(name)
        if model is None:
            continue  # a library, a flat input, or a spec `sizes` refuses
        start = time.perf_counter()
        fast = size_checks(model, sizes)
        middle = time.perf_counter()
        whole = [check_size(model, size) for size in sizes]
        end = time.perf_counter()
        for new, reference in zip(fast, whole, strict=True):
            if new != reference:
                print(f"{name}: at {new.size} sizes gives {new}, a whole analysis {reference}")
                return 1
        recorded[name] = fingerprint(whole)
        print(f"{name}: the same at {len(sizes)} sizes ({middle - start:.2f} s, a whole "
              f"analysis per size {end - middle:.2f} s)", flush=True)
    if write:
        OUT.write_text(json.dumps(recorded, indent=1, sort_keys=True) + "\n")
        print(f"{len(recorded)} specs recorded in {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
