"""How long the writer (``convcalc.language.writer``) takes, in-process.

    python benchmarks/writer.py            # median of 5 runs per case
    python benchmarks/writer.py --runs 11

Cases: the bundled ResNet-152 (its blocks flattened, then found again), the same with
torchvision's module names, and generated chains of 10,000 and 50,000 layers (widths
cycling so that runs fold, and a variant where nothing folds). Each line gives the time of
``compose_spec`` (finding blocks and writing), of ``write_spec`` (that plus reading the text
back to check it), and the lines written. Times are CPU time (``time.process_time``), so
that other work on a shared machine does not count.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # a checkout: its convcalc

from convcalc.language import bundled, load_file, load_text
from convcalc.language.structure import flatten
from convcalc.language.writer import compose_spec, write_spec
from convcalc.model import Merge, Model


def chain(layers: int, period: int) -> Model:
    """``layers`` layers: conv and relu pairs whose widths cycle with ``period``."""
    body = "".join(f"  - conv3-{8 + 8 * (i % period)}-p1\n  - relu\n"
                   for i in range(layers // 2))
    model = load_text("input: 8x8x3\nlayers:\n" + body, "chain.yaml").model
    assert model is not None
    return model


def torchvision_names(model: Model) -> Model:
    """ResNet-152 named like torchvision's modules (``layer3.17.conv2``), flat."""
    flat = list(flatten(model.layers))
    out = [dataclasses.replace(node, name=name) for node, name in
           zip(flat[:4], ("conv1", "bn1", "relu", "maxpool"), strict=True)]
    index = 0
    for stage, count in enumerate((3, 8, 36, 3), 1):
        for block in range(count):
            merge, relu = flat[4 + 2 * index], flat[5 + 2 * index]
            assert isinstance(merge, Merge)
            prefix = f"layer{stage}.{block}."
            main = tuple(dataclasses.replace(n, name=prefix + m) for n, m in zip(
                merge.branches[0], ("conv1", "bn1", "relu", "conv2", "bn2", "relu_1", "conv3",
                                    "bn3"), strict=True))
            short = tuple(dataclasses.replace(n, name=f"{prefix}downsample.{i}")
                          for i, n in enumerate(merge.branches[1]))
            out += [dataclasses.replace(merge, name=prefix + "add", branches=(main, short)),
                    dataclasses.replace(relu, name=prefix + "relu_2")]
            index += 1
    out += [dataclasses.replace(node, name=name) for node, name in
            zip(flat[-3:], ("avgpool", "flatten", "fc"), strict=True)]
    return dataclasses.replace(model, layers=tuple(out))


def median_time(run: Callable[[], str], runs: int) -> tuple[float, str]:
    times, text = [], ""
    for _ in range(runs):
        start = time.process_time()
        text = run()
        times.append(time.process_time() - start)
    return statistics.median(times), text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    resnet152 = load_file(bundled()["resnet152"]).model
    assert resnet152 is not None
    cases = {
        "resnet152 (bundled, keep names)": (resnet152, "keep"),
        "resnet152 (torchvision names, informative)": (torchvision_names(resnet152),
                                                       "informative"),
        "chain of 10,000 layers (folds)": (chain(10_000, 3), "keep"),
        "chain of 10,000 layers (nothing folds)": (chain(10_000, 10_000), "keep"),
        "chain of 50,000 layers (folds)": (chain(50_000, 3), "keep"),
    }
    print(f"{'case':46} {'compose':>9} {'write':>9} {'lines':>7}")
    for label, (model, names) in cases.items():
        composed, _ = median_time(lambda m=model, n=names: compose_spec(m, n), runs)
        written, text = median_time(lambda m=model, n=names: write_spec(m, n), runs)
        print(f"{label:46} {composed * 1000:7.0f}ms {written * 1000:7.0f}ms "
              f"{len(text.splitlines()):7,}")


if __name__ == "__main__":
    main()
