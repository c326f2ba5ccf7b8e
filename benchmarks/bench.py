"""Wall-time benchmarks of convcalc against the cost of importing its dependencies.

Run from a checkout with convcalc installed (a regular ``pip install .`` measures what
users get; an editable install adds its import hook to every run):

    python benchmarks/bench.py            # all cases, 21 runs each
    python benchmarks/bench.py --runs 51 --only layer

Each case is run as a fresh process, interleaved with the others round by round so that
load on the machine affects all alike; the report gives medians and the ratio to the
import floor. Generated specs (1,000 to 100,000 layers) are also timed in-process, with
their peak memory (tracemalloc).

Large specs (issue #14) are run end to end, a few times each, with their peak resident
memory: 100,000 layers in the long form (`- conv: {filters: 8, k: 1}`; also with no line
repeating another, which makes the reader read every line), the 149-byte spec
that expands to 250,000 layers (five blocks of five blocks of layers, repeated 9,999
times), and `sizes resnet50` over the default range:

    python benchmarks/bench.py --only long --large-runs 5
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

PYTHON = sys.executable
CONVCALC = [PYTHON, "-m", "convcalc"]


def generated_spec(layers: int) -> str:
    """A plain sequential spec of ``layers`` layers: conv, bn, relu triples on 32x32."""
    lines = ["name: generated", "input: 32x32x16", "layers:"]
    pattern = ["  - conv3-16-p1", "  - bn", "  - relu"]
    lines += [pattern[i % 3] for i in range(layers)]
    return "\n".join(lines) + "\n"


SMALL_SPEC = """\
name: small {number}
input: 32x32x3
defaults:
  conv: {{pad: same, act: relu}}
expect:
  output: 10
layers:
  - conv3-{width}
  - maxpool
  - add:
      - [conv3-{width}, bn, relu, conv3-{width}, bn]
      - []
  - global-avgpool
  - fc-10
"""


def long_form_spec(layers: int, distinct: bool = False) -> str:
    """``layers`` layers written in the long form, a few distinct widths: the form that costs
    the most per layer to read (two mappings and five values a layer). ``distinct`` ends each
    line with its own comment: the same layers, but no line repeats another, so each is read
    in full."""
    widths = (8, 16, 8, 32)
    lines = ["name: long form", "input: 32x32x8", "layers:"]
    lines += [f"  - conv: {{filters: {widths[i % 4]}, k: 1}}" + (f"  # {i}" if distinct else "")
              for i in range(layers)]
    return "\n".join(lines) + "\n"


# 149 bytes, 249,975 layers: the most a spec may expand to, from blocks and `repeat`.
AMPLIFIED_SPEC = """\
input: 32x32x8
blocks:
  b: [conv1-8, conv1-8, conv1-8, conv1-8, conv1-8]
  c: [b, b, b, b, b]
layers:
  - {c: null, repeat: 9999}
"""


# The long form's commands, each timed at 10,000 and 100,000 layers (growth at most ×11).
LONG_FORM_COMMANDS = {"check": ["check"], "summarize": ["summarize"],
                      "summarize --format json": ["summarize", "--format", "json"]}


def large_cases(folder: Path) -> dict[str, list[str]]:
    """The large specs' commands (arguments after ``convcalc``)."""
    long_10k, long_100k = folder / "long-10000.yaml", folder / "long-100000.yaml"
    long_10k.write_text(long_form_spec(10_000))
    long_100k.write_text(long_form_spec(100_000))
    distinct = folder / "long-distinct-100000.yaml"
    distinct.write_text(long_form_spec(100_000, distinct=True))
    amplified = folder / "amplified.yaml"
    amplified.write_text(AMPLIFIED_SPEC)
    return {
        **{f"{command}, long form, {layers:,} layers": [*arguments[:1], str(spec),
                                                         *arguments[1:]]
           for command, arguments in LONG_FORM_COMMANDS.items()
           for layers, spec in ((10_000, long_10k), (100_000, long_100k))},
        **{f"{command}, long form, 100,000 lines, none repeated": [
            *arguments[:1], str(distinct), *arguments[1:]]
           for command, arguments in LONG_FORM_COMMANDS.items()},
        "check, amplified, 250,000 layers": ["check", str(amplified)],
        "summarize --format json, amplified": ["summarize", str(amplified), "--format",
                                               "json"],
        "sweep --sizes 8:64:8, amplified": ["sweep", str(amplified), "--sizes", "8:64:8"],
        "sizes, amplified": ["sizes", str(amplified)],
        "sizes resnet50 --range 32:1024": ["sizes", "resnet50", "--range", "32:1024"],
    }


RESIDENT = """\
import resource, sys
sys.argv = ['convcalc', *sys.argv[1:]]
from convcalc.cli import main
try:
    main()
except SystemExit:
    pass
sys.stdout.flush()
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
"""


def time_large(cases: dict[str, list[str]], runs: int, cwd: str
               ) -> dict[str, tuple[float, int]]:
    """(median seconds, most resident MiB) of each command end to end; output discarded."""
    times: dict[str, list[float]] = {name: [] for name in cases}
    resident: dict[str, int] = dict.fromkeys(cases, 0)
    for _ in range(runs):
        for name, arguments in cases.items():
            start = time.perf_counter()
            result = subprocess.run([PYTHON, "-c", RESIDENT, *arguments], cwd=cwd,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                    text=True, check=False)
            times[name].append(time.perf_counter() - start)
            lines = result.stderr.strip().splitlines()
            if not lines or not lines[-1].isdigit() or "internal error" in result.stderr:
                raise SystemExit(f"{name} failed: {result.stderr[-400:]}")
            resident[name] = max(resident[name], int(lines[-1]) // 1024)
    return {name: (statistics.median(values), resident[name])
            for name, values in times.items()}


def command_cases(folder: Path) -> dict[str, list[str]]:
    spec_10k = folder / "generated-10000.yaml"
    spec_10k.write_text(generated_spec(10_000))
    many = folder / "many"
    many.mkdir()
    for number in range(1000):
        (many / f"spec{number:04}.yaml").write_text(
            SMALL_SPEC.format(number=number, width=8 + number % 64))
    return {
        "floor: import typer, rich": [PYTHON, "-c", "import typer, rich"],
        "floor: import typer, rich, yaml": [PYTHON, "-c", "import typer, rich, yaml"],
        "layer": [*CONVCALC, "layer", "--in", "32x32x3", "--filters", "10", "--k", "5",
                  "--pad", "2"],
        "summarize vgg16": [*CONVCALC, "summarize", "vgg16"],
        "summarize resnet152": [*CONVCALC, "summarize", "resnet152"],
        "summarize 10,000 layers": [*CONVCALC, "summarize", str(spec_10k), "--format", "json"],
        "check 1,000 files": [*CONVCALC, "check", str(many)],
    }


def time_commands(cases: dict[str, list[str]], runs: int, cwd: str) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(runs):
        for name, command in cases.items():
            start = time.perf_counter()
            result = subprocess.run(command, capture_output=True, check=False, cwd=cwd)
            times[name].append(time.perf_counter() - start)
            if result.returncode not in (0, 1):
                raise SystemExit(f"{name} failed: {result.stderr.decode()[-400:]}")
    return times


def time_in_process(layers: int) -> tuple[float, float, int]:
    """(load seconds, analyse seconds, peak MiB) for a generated spec, in this process."""
    from convcalc.analysis import analyze
    from convcalc.language import load_text

    text = generated_spec(layers)
    gc.disable()  # as the command line does
    start = time.perf_counter()
    loaded = load_text(text, "generated.yaml")
    loaded_at = time.perf_counter()
    assert loaded.model is not None, loaded.problems
    report = analyze(loaded.model)
    done = time.perf_counter()
    assert len(report.rows) == layers + 1
    del loaded, report
    tracemalloc.start()  # a second, traced run: tracing slows it, so it is not timed
    loaded = load_text(text, "generated.yaml")
    assert loaded.model is not None
    analyze(loaded.model)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    gc.enable()
    return loaded_at - start, done - loaded_at, peak // 2**20


def whole_run(layers: int, folder: Path) -> tuple[float, int]:
    """(seconds, peak resident MiB) of `convcalc check` on a generated spec, end to end."""
    spec = folder / f"generated-{layers}.yaml"
    spec.write_text(generated_spec(layers))
    code = ("import resource, sys\n"
            f"sys.argv = ['convcalc', 'check', {str(spec)!r}]\n"
            "from convcalc.cli import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
    start = time.perf_counter()
    result = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, check=True,
                            cwd=folder)
    elapsed = time.perf_counter() - start
    return elapsed, int(result.stdout.split()[-1]) // 1024


PHASES = """\
import gc, json, sys, time
gc.disable()
marks = [time.perf_counter()]
import typer, rich, yaml
marks.append(time.perf_counter())
import convcalc.cli
from convcalc.analysis import analyze
from convcalc.counting import PRESETS, count
from convcalc.memory import memory
from convcalc.render.summary import draw
from convcalc.language import load_file, resolve
import convcalc.language.builder
marks.append(time.perf_counter())
loaded = load_file(resolve(sys.argv[1]))
marks.append(time.perf_counter())
report = analyze(loaded.model)
marks.append(time.perf_counter())
text = draw(report, None, False, memory(loaded.model, report), count(report, PRESETS["macs"]))
marks.append(time.perf_counter())
print(json.dumps([b - a for a, b in zip(marks, marks[1:])]))
"""
PHASE_NAMES = ("import typer, rich, yaml", "import convcalc", "read the spec", "analyse",
               "count, memory, draw")


def phases(spec: str, runs: int) -> list[float]:
    """Median seconds of each step of a summarize, each run a fresh process."""
    samples = [json.loads(subprocess.run([PYTHON, "-c", PHASES, spec], capture_output=True,
                                         text=True, check=True).stdout) for _ in range(runs)]
    return [statistics.median(step) for step in zip(*samples, strict=True)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--only", help="run only the cases whose name contains this text")
    parser.add_argument("--sizes", default="1000,10000,100000",
                        help="generated spec sizes to time in-process ('' for none)")
    parser.add_argument("--large-runs", type=int, default=5,
                        help="runs of each large spec's command (0 for none)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        cases = command_cases(Path(folder))
        cases = {name: command for name, command in cases.items()
                 if name.startswith("floor") or not args.only or args.only in name}
        times = time_commands(cases, args.runs, folder)  # away from a source checkout
    floors = {name: statistics.median(values) for name, values in times.items()
              if name.startswith("floor")}
    floor = floors.get("floor: import typer, rich, yaml", min(floors.values()))
    print(f"python {sys.version.split()[0]}, {args.runs} runs each, medians:")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"  {name:<34} {median * 1000:7.1f} ms   {median / floor:4.2f}x floor")
    if not args.only or args.only in "summarize resnet152":
        print("where `summarize resnet152` spends its time (in-process steps, medians):")
        for name, seconds in zip(PHASE_NAMES, phases("resnet152", args.runs), strict=True):
            print(f"  {name:<34} {seconds * 1000:7.1f} ms")
    if args.large_runs:
        large(args.large_runs, args.only)
    if not args.sizes:
        return
    sizes = [int(s) for s in args.sizes.split(",") if s]
    # End to end first: a child forked from a large parent would report its size.
    print("generated specs, `convcalc check` end to end (wall time, peak resident memory):")
    with tempfile.TemporaryDirectory() as folder:
        for size in sizes:
            elapsed, resident = whole_run(size, Path(folder))
            print(f"  {size:>7,} layers   {elapsed:6.3f} s   {resident} MiB resident")
    print("generated specs, in-process (load, analyse, peak traced memory):")
    for size in sizes:
        load, analyse, peak = time_in_process(size)
        print(f"  {size:>7,} layers   load {load:6.3f} s   analyse {analyse:6.3f} s   "
              f"total {load + analyse:6.3f} s   peak {peak} MiB")


def large(runs: int, only: str | None) -> None:
    with tempfile.TemporaryDirectory() as folder:
        cases = {name: arguments for name, arguments in large_cases(Path(folder)).items()
                 if not only or only in name}
        if not cases:
            return
        measured = time_large(cases, runs, folder)
    print(f"large specs, end to end ({runs} runs each; median wall time, most resident "
          "memory):")
    for name, (seconds, mebibytes) in measured.items():
        print(f"  {name:<52} {seconds:6.2f} s   {mebibytes:4} MiB")
    for command in LONG_FORM_COMMANDS:
        small = measured.get(f"{command}, long form, 10,000 layers")
        big = measured.get(f"{command}, long form, 100,000 layers")
        if small and big:
            print(f"  {command}, long form, from 10,000 to 100,000 layers: "
                  f"time ×{big[0] / small[0]:.1f}")


if __name__ == "__main__":
    main()
