"""What the dataclasses of a `convcalc summarize` run cost to create, and what the same
records would cost as ``typing.NamedTuple``s.

Python generates and compiles a dataclass's methods each time the class is created, so at
every start of the program. This builds classes with the same fields both ways and times
them, to show what choosing another record type would save:

    python benchmarks/class_cost.py
"""

from __future__ import annotations

import dataclasses
import statistics
import sys
import time
import typing
from collections.abc import Callable

# What a summary imports (as benchmarks/bench.py's step breakdown does).
from convcalc.analysis import analyze  # noqa: F401
from convcalc.layers import KINDS


def created_here() -> list[type]:
    """The dataclasses whose methods were generated while convcalc was imported."""
    return [value for module in list(sys.modules.values())
            if getattr(module, "__name__", "").startswith("convcalc")
            for value in vars(module).values()
            if isinstance(value, type) and dataclasses.is_dataclass(value)
            and value.__module__ == module.__name__ and "__init__" in vars(value)]


def as_dataclass(model: type) -> type:
    names = [field.name for field in dataclasses.fields(model)]
    body = {"__annotations__": dict.fromkeys(names, "object"), "__doc__": model.__doc__}
    return dataclasses.dataclass(frozen=True)(type(model.__name__, (), body))


def as_named_tuple(model: type) -> type:
    fields = [(field.name, object) for field in dataclasses.fields(model)]
    made: type = typing.NamedTuple(model.__name__, fields)  # type: ignore[misc]
    return made


def milliseconds(make: Callable[[type], type], models: list[type], runs: int = 21) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        for model in models:
            make(model)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    kinds = set(KINDS.values())
    classes = created_here()
    groups = {"layer kinds": [c for c in classes if c in kinds],
              "other records": [c for c in classes if c not in kinds]}
    print(f"python {sys.version.split()[0]}: {len(classes)} dataclasses created on import")
    for name, models in groups.items():
        print(f"  {len(models):>3} {name:<14} frozen dataclass "
              f"{milliseconds(as_dataclass, models):5.1f} ms   NamedTuple "
              f"{milliseconds(as_named_tuple, models):5.1f} ms")


if __name__ == "__main__":
    main()
