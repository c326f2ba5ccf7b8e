"""How fast `convcalc import` is, against what reading the model costs anyway.

    python benchmarks/import_speed.py             # ResNet-152 from ONNX, regnet_y_128gf
    python benchmarks/import_speed.py --runs 7 --keep /tmp/models

ONNX: ResNet-152 is exported by each of torch's exporters (once; ``--keep`` reuses the
files), then timed in-process, best of ``--runs``: the floor is ``onnx.load`` followed by
``onnx.shape_inference.infer_shapes`` of the same file (what any tool that wants the
file's shapes pays); convcalc's import (read, lower, check against the file's facts) is
timed alone and with the writer. The whole command is also timed as a fresh process
against a fresh process that only loads and infers. Torch: the largest torchvision CNN,
regnet_y_128gf (644M params), imported as a fresh process (the issue asks under 10 s).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

PYTHON = sys.executable


def best(runs: int, work: Callable[[], object]) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def export(folder: Path) -> dict[str, Path]:
    import torch
    import torchvision

    paths = {}
    model = None
    for label, dynamo in (("torchscript", False), ("dynamo", True)):
        path = folder / f"resnet152-{label}.onnx"
        if not path.exists():
            if model is None:
                model = torchvision.models.resnet152().eval()
            with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                torch.onnx.export(model, (torch.zeros(1, 3, 224, 224),), str(path),
                                  dynamo=dynamo)
        paths[label] = path
    return paths


def process(args: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(args, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="a folder for the exported files")
    options = parser.parse_args()
    import onnx

    from convcalc.importers import load
    from convcalc.language.writer import write_spec

    with tempfile.TemporaryDirectory() as temporary:
        folder = options.keep or Path(temporary)
        folder.mkdir(parents=True, exist_ok=True)
        for label, path in export(folder).items():
            name = str(path)

            def floor_work(name: str = name) -> object:
                return onnx.shape_inference.infer_shapes(onnx.load(name))

            def import_work(name: str = name) -> object:
                return load(name)

            def written_work(name: str = name) -> object:
                return write_spec(load(name).model)

            floor = best(options.runs, floor_work)
            ours = best(options.runs, import_work)
            written = best(options.runs, written_work)
            floor_cli = min(process([PYTHON, "-c", "import onnx, sys; onnx.shape_inference."
                                     "infer_shapes(onnx.load(sys.argv[1]))", str(path)])
                            for _ in range(options.runs))
            ours_cli = min(process([PYTHON, "-m", "convcalc", "import", str(path), "-o",
                                    str(folder / "out.yaml")]) for _ in range(options.runs))
            print(f"ResNet-152 ({label} export, {path.stat().st_size / 1e6:.0f} MB file): "
                  f"load+infer {floor:.3f} s; import {ours:.3f} s ({ours / floor:.2f}x); "
                  f"import+write {written:.3f} s ({written / floor:.2f}x); as processes: "
                  f"{floor_cli:.2f} s vs convcalc import {ours_cli:.2f} s "
                  f"({ours_cli / floor_cli:.2f}x)")
        largest = min(process([PYTHON, "-m", "convcalc", "import",
                               "torchvision:regnet_y_128gf", "-o", str(folder / "out.yaml")])
                      for _ in range(max(1, options.runs // 2)))
        print(f"regnet_y_128gf (644M params) from torchvision: convcalc import {largest:.2f} s "
              "as a process, import of torch and torchvision included")


if __name__ == "__main__":
    main()
