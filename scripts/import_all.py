"""Import every torchvision CNN three ways and compare the spec with torch: the table.

    python scripts/import_all.py                      # all 68, torch and ONNX (slow)
    python scripts/import_all.py --only resnet50 vgg16 --no-onnx
    python scripts/import_all.py --attention          # the 12 ViT, Swin and MaxViT models

For each model at its DEFAULT weights' crop size: torch's own counts (params and
buffers but batch norm's ``num_batches_tracked`` of the model built for inference,
auxiliary heads off; MACs from
``torch.utils.flop_counter`` as FLOPs / 2); then ``convcalc import torchvision:NAME``, and
the model exported to ONNX by each of torch's exporters (``dynamo=False`` and ``True``)
and imported from the file. Each spec is written, read back and analysed, and its totals
must equal torch's exactly (in ONNX, batch norm is folded into the convolution before it:
C params of bias instead of 2C params and 2C buffers). A cell says ``ok``, ``DIFF`` with
what differs, or the importer's one-line reason. Then ``verify --against``: the bundled
spec that names the model (``torchvision: NAME``), against the torch import (``-`` where no
spec names it). The last columns give the spec's length (informative names) and the
seconds the torch import took.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

VISION = ("vit_", "swin_", "maxvit_")  # transformers: --attention


def cnns(attention: bool = False) -> list[str]:
    """torchvision's CNN classifiers, or with ``attention`` its 12 attention models."""
    import torchvision

    return [name for name in torchvision.models.list_models(module=torchvision.models)
            if name.startswith(VISION) == attention]


def crop(name: str) -> int:
    import torchvision

    return int(torchvision.models.get_model_weights(name).DEFAULT.transforms().crop_size[0])


def built(name: str, size: int = 224) -> Any:
    """The model for inference at ``size``: ViT and MaxViT fix their input size when built,
    as torchvision does for their DEFAULT weights (vit_h_14 at 518)."""
    import torchvision

    extra: dict[str, Any] = {"aux_logits": False, "init_weights": True} if name in (
        "googlenet", "inception_v3") else {}
    if name.startswith("vit_"):
        extra["image_size"] = size
    elif name.startswith("maxvit_"):
        extra["input_size"] = (size, size)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torchvision.models.get_model(name, **extra).eval()


def oracle(model: Any, size: int, folded: bool) -> tuple[int, int, int, int]:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    params = sum(p.numel() for p in model.parameters())
    buffers = sum(b.numel() for key, b in model.named_buffers()
                  if not key.endswith("num_batches_tracked"))
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        out = model.to("meta")(torch.zeros(1, 3, size, size, device="meta"))
    if folded:  # an exporter folds a batch norm right after a convolution into its bias
        for norm, conv in foldable(model):
            params -= norm.num_features * (1 if conv.bias is None else 2)
            buffers -= 2 * norm.num_features
    return params, buffers, counter.get_total_flops() // 2, int(out.shape[1])


def foldable(model: Any) -> list[tuple[Any, Any]]:
    """The batch norms an exporter folds, with their convolution: those right after one
    (DenseNet's norm-relu-conv layers keep theirs)."""
    import torch
    import torch.fx

    traced = torch.fx.symbolic_trace(model)
    found = []
    for node in traced.graph.nodes:
        module = traced.get_submodule(node.target) if node.op == "call_module" else None
        source: Any = node.args[0] if node.args else None
        if isinstance(module, torch.nn.BatchNorm2d) and getattr(source, "op", "") == \
                "call_module" and isinstance(traced.get_submodule(source.target),
                                             torch.nn.Conv2d) and len(source.users) == 1:
            found.append((module, traced.get_submodule(source.target)))
    return found


def spec_totals(ref: str) -> tuple[tuple[int, int, int, int], int] | str:
    from convcalc.analysis import analyze
    from convcalc.importers import ImportFailure, load
    from convcalc.language import load_text
    from convcalc.language.writer import write_spec

    try:
        imported = load(ref)
    except ImportFailure as exc:
        first = exc.problems[0].message if exc.problems else exc.message
        return first if len(first) <= 90 else f"{first[:40]} … {first[-45:]}"
    try:
        text = write_spec(imported.model, "informative")  # as convcalc import writes it
    except Exception as exc:  # the writer's own failure, reported as such in the table
        return f"the writer failed: {type(exc).__name__}"
    loaded = load_text(text, "imported.yaml")
    if not loaded.ok or loaded.model is None:
        return "the written spec does not read back"
    t = analyze(loaded.model).totals
    return (t.params, t.non_trainable_params, t.macs, t.output_shape.size), \
        len(text.splitlines())


def bundled_verifies(name: str) -> str:
    """``verify SPEC --against torchvision:NAME`` for the bundled spec naming the model."""
    from convcalc.importers import ImportFailure, load
    from convcalc.importers.compare import compare
    from convcalc.zoo import catalogue

    entry = next((e for e in catalogue() if e.torchvision == name), None)
    if entry is None or entry.report is None:
        return "-"
    try:
        against = compare(entry.report, load(f"torchvision:{name}", entry.report.input_shape))
    except ImportFailure as exc:
        return exc.message[:70]
    if against.agrees:
        return f"ok ({entry.name})"
    first = against.first
    differs = [t.key for t in against.totals if not t.agrees]
    if first is not None:  # the first layer that differs, from whichever side has it
        side = first.spec or first.model
        where = f"{'spec' if first.spec else 'model'} {side.name}" if side else ""
        differs.insert(0, where)
    return f"DIFF {entry.name}: " + ", ".join(differs)


def verdict(found: tuple[tuple[int, int, int, int], int] | str,
            expected: tuple[int, int, int, int]) -> str:
    if isinstance(found, str):
        return found
    names = ("params", "buffers", "MACs", "output")
    wrong = [n for n, a, b in zip(names, found[0], expected, strict=True) if a != b]
    return "ok" if not wrong else "DIFF " + ",".join(wrong)


def exported(name: str, size: int, folder: Path, dynamo: bool) -> tuple[str, Any]:
    import torch

    model = built(name, size)
    for key, tensor in [*model.named_parameters(), *model.named_buffers()]:
        if key.endswith(("bias", "running_mean")):  # the dynamo exporter drops zero biases
            tensor.data.uniform_(-1, 1)
    path = folder / f"{name}-{'dynamo' if dynamo else 'torchscript'}.onnx"
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        torch.onnx.export(model, (torch.zeros(1, 3, size, size),), str(path), dynamo=dynamo)
    return str(path), model


def row(name: str, onnx: bool, folder: Path) -> list[str]:
    size = crop(name)
    expected = oracle(built(name, size), size, folded=False)
    start = time.perf_counter()
    found = spec_totals(f"torchvision:{name}")
    seconds = time.perf_counter() - start
    cells = [name, str(size), f"{expected[0]:,}", f"{expected[1]:,}", f"{expected[2]:,}",
             verdict(found, expected)]
    for dynamo in (False, True) if onnx else ():
        try:
            path, model = exported(name, size, folder, dynamo)
        except Exception as exc:  # the exporter's own failure, reported as such
            cells.append(f"export failed: {type(exc).__name__}")
            continue
        cells.append(verdict(spec_totals(path), oracle(model, size, folded=True)))
        for leftover in folder.iterdir():
            leftover.unlink()
    cells.append(bundled_verifies(name))
    cells += [str(found[1]) if not isinstance(found, str) else "-", f"{seconds:.1f}"]
    return cells


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="these models only")
    parser.add_argument("--no-onnx", action="store_true", help="the torch route only")
    parser.add_argument("--attention", action="store_true",
                        help="the 12 attention models (ViT, Swin, MaxViT) instead of the CNNs")
    options = parser.parse_args()
    names = options.only or cnns(options.attention)
    header = ["model", "input", "params", "buffers", "MACs", "torch.fx"]
    if not options.no_onnx:
        header += ["ONNX (dynamo=False)", "ONNX (dynamo=True)"]
    header += ["verify --against", "lines", "s"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    verdicts: list[str] = []
    with tempfile.TemporaryDirectory() as temporary:
        for name in names:
            cells = row(name, not options.no_onnx, Path(temporary))
            verdicts += cells[5:-3]
            print("| " + " | ".join(cells) + " |", flush=True)
    exact = verdicts.count("ok")
    print(f"\n{exact} imports exact, {len(verdicts) - exact} not", file=sys.stderr)


if __name__ == "__main__":
    main()
