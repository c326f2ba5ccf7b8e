"""Check that `convcalc sizes` answers as a whole analysis per size would, for every bundled
spec over a whole range (the default 32:1024 takes minutes: a whole analysis per size is
what `sizes` no longer does). The test suite checks a sample of the sizes of every spec and
the whole range of a few; this is the whole check:

    python scripts/check_sizes.py            # every bundled spec, 32:1024
    python scripts/check_sizes.py 32:256 resnet50 vgg16

Exits 1 at the first spec whose answers differ, naming the size.
"""

from __future__ import annotations

import sys
import time

from convcalc.analysis import Analysis
from convcalc.design import check_size, size_checks
from convcalc.language import bundled, load_file
from convcalc.problem import ERROR


def main(arguments: list[str]) -> int:
    low, high = (32, 1024)
    if arguments and ":" in arguments[0]:
        low, high = (int(part) for part in arguments.pop(0).split(":"))
    names = arguments or sorted(bundled())
    for name in names:
        model = load_file(bundled()[name]).model
        if model is None or not model.input.spatial or \
                any(p.level == ERROR for p in Analysis(model).problems):
            continue  # a library, a flat input, or a spec `sizes` refuses
        start = time.perf_counter()
        fast = size_checks(model, range(low, high + 1))
        middle = time.perf_counter()
        whole = [check_size(model, size) for size in range(low, high + 1)]
        end = time.perf_counter()
        for new, reference in zip(fast, whole, strict=True):
            if new != reference:
                print(f"{name}: at {new.size} sizes gives {new}, a whole analysis {reference}")
                return 1
        print(f"{name}: the same at {high - low + 1} sizes ({middle - start:.2f} s, a whole "
              f"analysis per size {end - middle:.2f} s)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
