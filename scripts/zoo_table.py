"""The whole torchvision zoo, measured: every bundled spec that names a torchvision model,
against that model built live on the meta device, MACs counted live for every one.

    PYTHONPATH=. python scripts/zoo_table.py            # the family table and the models
    PYTHONPATH=. python scripts/zoo_table.py --families # the family table only

Prints Markdown: the family table of the README's "The zoo" section (spec files, lines per
variant), then one row per model with convcalc's numbers and whether each equals
torchvision's. The test suite checks the same numbers (tests/test_torchvision_zoo.py) but
counts MACs live for one model per family only; this script counts all 68 (about a minute).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from convcalc.zoo import Entry, catalogue  # noqa: E402
from tests.torchvision_models import Measured, cnns, measure  # noqa: E402


def spec_lines(path: Path) -> int:
    """Lines that say something: neither blank nor a comment."""
    return sum(1 for line in path.read_text().splitlines()
               if line.strip() and not line.lstrip().startswith("#"))


def layer_lines(path: Path) -> int:
    """The lines of its `layers:` list: what says the architecture, the rest being its header
    (name, source, input, defaults, expect)."""
    lines = path.read_text().splitlines()
    start = lines.index("layers:") if "layers:" in lines else len(lines)
    return sum(1 for line in lines[start + 1:]
               if line.strip() and not line.lstrip().startswith("#"))


def span(counts: list[int]) -> str:
    low, high = min(counts), max(counts)
    return str(low) if low == high else f"{low}–{high}"


def family(name: str) -> str:
    """torchvision's module for the model: resnet holds ResNeXt and Wide ResNet too."""
    torchvision = import_module("torchvision")
    module: str = torchvision.models.get_model_builder(name).__module__
    return module.rsplit(".", 1)[-1]


def includes(path: Path) -> list[str]:
    import yaml

    found = yaml.safe_load(path.read_text()).get("include") or []
    return [found] if isinstance(found, str) else list(found)


@dataclass(frozen=True)
class Compared:
    entry: Entry
    live: Measured

    @property
    def checks(self) -> dict[str, bool]:
        report = self.entry.report
        assert report is not None
        totals = report.totals
        return {"params": totals.params == self.live.params,
                "buffers": totals.non_trainable_params == self.live.buffers,
                "MACs": totals.macs == self.live.macs,
                "output": totals.output_shape.dims == self.live.output,
                "input": report.input_shape.dims == (self.live.crop, self.live.crop, 3)}

    @property
    def exact(self) -> bool:
        return all(self.checks.values())


def family_table(compared: list[Compared], paths: dict[str, Path]) -> list[str]:
    by_family: dict[str, list[Compared]] = defaultdict(list)
    for one in compared:
        by_family[family(one.live.name)].append(one)
    lines = ["| family | models | specs | library | lines per variant (of them layers) | "
             "library lines | exact |", "|---|---:|---|---|---:|---:|---:|"]
    for name, members in sorted(by_family.items()):
        files = [paths[m.entry.name] for m in members]
        libraries = sorted({lib for f in files for lib in includes(f)})
        library_lines = sum(spec_lines(paths[Path(lib).stem]) for lib in libraries)
        shown = " ".join(f"`{f.stem}`" for f in files)
        listed = " ".join(f"`{lib}`" for lib in libraries) or "—"
        whole, layers = span([spec_lines(f) for f in files]), span([layer_lines(f) for f in files])
        lengths = f"{whole} ({layers})"
        lines.append(f"| {name} | {len(members)} | {shown} | {listed} | {lengths} | "
                     f"{library_lines or '—'} | {sum(m.exact for m in members)}/{len(members)} |")
    return lines


def model_table(compared: list[Compared]) -> list[str]:
    lines = ["| torchvision | spec | input | params | buffers | MACs | output | exact |",
             "|---|---|---:|---:|---:|---:|---|---|"]
    for one in compared:
        report = one.entry.report
        assert report is not None
        totals = report.totals
        wrong = [key for key, ok in one.checks.items() if not ok]
        verdict = "yes" if not wrong else "NO: " + ", ".join(wrong)
        lines.append(f"| {one.live.name} | `{one.entry.name}` | {one.live.crop} | "
                     f"{totals.params:,} | {totals.non_trainable_params:,} | {totals.macs:,} | "
                     f"{totals.output_shape} | {verdict} |")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", action="store_true", help="the family table only")
    options = parser.parse_args()
    from convcalc.language import bundled

    started = time.perf_counter()
    paths = bundled()
    specs = {entry.torchvision: entry for entry in catalogue() if entry.torchvision}
    missing = [name for name in cnns() if name not in specs]
    compared = [Compared(specs[name], measure(name, macs=True)) for name in cnns()
                if name in specs]
    print("\n".join(family_table(compared, paths)))
    if not options.families:
        print()
        print("\n".join(model_table(compared)))
    exact = sum(one.exact for one in compared)
    print(f"\n{exact} of {len(cnns())} torchvision CNNs exact"
          f"{'; no spec yet: ' + ', '.join(missing) if missing else ''} "
          f"({time.perf_counter() - started:.0f} s)")
    return 0 if exact == len(cnns()) else 1


if __name__ == "__main__":
    sys.exit(main())
