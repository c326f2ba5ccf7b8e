"""Importing torchvision's CNNs: the written spec's totals are the model's own, exactly.

One model per family, by both routes: traced from torch, and exported to ONNX by each of
torch's exporters then read from the file. The oracle is torch itself, computed here:
the parameters and floating-point buffers of the model built for inference (without
auxiliary heads), and the MACs of ``torch.utils.flop_counter`` (FLOPs / 2). The spec is
what the user gets: written, read back and analysed by convcalc's own formulas.
(`scripts/import_all.py` runs all 68 models.)
"""

from __future__ import annotations

import contextlib
import io
import warnings
from pathlib import Path
from typing import Any

import pytest

from convcalc.analysis import analyze
from convcalc.importers import Imported, load
from convcalc.language import load_text
from convcalc.language.writer import write_spec
from convcalc.model import Group, Merge, Node
from convcalc.shape import Shape
from scripts.import_all import foldable
from tests.oracles import need

torch = need("torch")
torchvision = need("torchvision")
need("onnx")
need("onnxscript")

# The smallest model of each family.
FAMILIES = ["alexnet", "convnext_tiny", "densenet121", "efficientnet_b0", "efficientnet_v2_s",
            "googlenet", "inception_v3", "mnasnet0_5", "mobilenet_v2", "mobilenet_v3_small",
            "regnet_x_400mf", "regnet_y_400mf", "resnet18", "resnext50_32x4d",
            "shufflenet_v2_x0_5", "squeezenet1_1", "vgg11_bn", "wide_resnet50_2"]
# Exported to ONNX by both exporters: the families whose smallest model exports in seconds
# (VGG, AlexNet, Wide ResNet, ResNeXt, ConvNeXt, Inception v3 and EfficientNet v2 write
# 85-530 MB of weights; scripts/import_all.py covers them, and test_import_onnx their ops).
EXPORTED = ["densenet121", "efficientnet_b0", "googlenet", "mnasnet0_5", "mobilenet_v2",
            "mobilenet_v3_small", "regnet_x_400mf", "regnet_y_400mf", "resnet18",
            "shufflenet_v2_x0_5", "squeezenet1_1"]


def crop(name: str) -> int:
    return int(torchvision.models.get_model_weights(name).DEFAULT.transforms().crop_size[0])


def built(name: str, device: str = "cpu") -> Any:
    """The model for inference: auxiliary heads off, as the deployed model has them."""
    extra = {"aux_logits": False, "init_weights": True} if name in (
        "googlenet", "inception_v3") else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torchvision.models.get_model(name, **extra).eval().to(device)


def oracle(model: Any, size: int, bn_folded: bool = False) -> tuple[int, int, int, Shape]:
    """torch's params, buffers, MACs and output; with BN folded into the convolution
    before it as the exporters do (a bias of C instead of 2C params and 2C buffers)."""
    from torch.utils.flop_counter import FlopCounterMode

    params = sum(p.numel() for p in model.parameters())
    buffers = sum(b.numel() for b in model.buffers() if b.is_floating_point())
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        out = model(torch.zeros(1, 3, size, size, device=next(model.parameters()).device))
    if bn_folded:
        # BN's 2C params become the conv's C bias (merged with one it already has)
        for norm, conv in foldable(model):
            params -= norm.num_features * (1 if conv.bias is None else 2)
            buffers -= 2 * norm.num_features
    return params, buffers, counter.get_total_flops() // 2, Shape((), out.shape[1])


def spec_totals(result: Imported) -> tuple[int, int, int, Shape]:
    """What the written spec gives when read back: convcalc's own arithmetic."""
    loaded = load_text(write_spec(result.model, "informative"), "imported.yaml")
    assert loaded.ok and loaded.model is not None, loaded.problems
    report = analyze(loaded.model)
    assert not [p for p in report.problems if p.level == "error"], report.problems
    t = report.totals
    return t.params, t.non_trainable_params, t.macs, t.output_shape


@pytest.mark.parametrize("name", FAMILIES)
def test_traced_from_torch(name: str) -> None:
    result = load(f"torchvision:{name}")
    expected = oracle(built(name, "meta" if "regnet" not in name else "cpu"), crop(name))
    assert spec_totals(result) == expected
    assert (result.totals.params, result.totals.buffers, result.totals.macs,
            result.totals.output) == expected


@pytest.mark.parametrize("dynamo", [False, True], ids=["torchscript", "dynamo"])
@pytest.mark.parametrize("name", EXPORTED)
def test_exported_to_onnx(name: str, dynamo: bool, tmp_path: Path) -> None:
    model = built(name)
    # Non-zero biases and statistics: the dynamo exporter drops a bias that is all zeros
    for name, tensor in [*model.named_parameters(), *model.named_buffers()]:
        if name.endswith(("bias", "running_mean")):
            tensor.data.uniform_(-1, 1)
    path = tmp_path / f"{name}.onnx"
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.zeros(1, 3, 224, 224),), str(path), dynamo=dynamo)
    result = load(str(path))
    expected = oracle(model, 224, bn_folded=True)
    assert spec_totals(result) == expected
    assert (result.totals.params, result.totals.buffers, result.totals.macs) == expected[:3]


def _groups(nodes: tuple[Node, ...]) -> list[Group]:
    found = []
    for node in nodes:
        if isinstance(node, Group):
            found += [node, *_groups(node.children)]
        elif isinstance(node, Merge):
            found += [g for branch in node.branches for g in _groups(branch)]
    return found


@pytest.mark.parametrize("names", ["informative", "keep"])
def test_resnet50_is_a_short_spec_with_its_bottleneck_as_one_block(names: Any) -> None:
    text = write_spec(load("torchvision:resnet50").model, names)
    assert len(text.splitlines()) <= 60, text
    back = load_text(text, "resnet50.yaml").model
    assert back is not None
    groups = _groups(back.layers)
    holders = {g.block for g in groups if any(isinstance(c, Merge) for c in g.children)}
    assert len(holders) == 1, text  # the bottleneck: one block ...
    assert sum(g.block in holders for g in groups) == 16  # ... called 16 times


def test_vgg16_is_at_most_40_lines() -> None:
    text = write_spec(load("torchvision:vgg16").model, "informative")
    assert len(text.splitlines()) <= 40, text
