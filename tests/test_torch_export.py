"""Every bundled spec, exported to PyTorch and built in torch, agrees with convcalc layer by
layer. Skipped without torch, except in CI (CONVCALC_REQUIRE_TORCH=1)."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

import pytest

import convcalc
from convcalc.analysis import analyze
from convcalc.language import bundled, load_file
from convcalc.verify import build, compare

if os.environ.get("CONVCALC_REQUIRE_TORCH"):
    import torch
else:
    torch = pytest.importorskip("torch")

MODELS = [name for name, path in bundled().items() if not load_file(path).library]
GOOD = sorted((Path(__file__).parent / "specs" / "good").glob("*.yaml"))
Cli = Any


@pytest.mark.parametrize("name", MODELS)
def test_bundled_spec_builds_in_torch_and_agrees(name: str) -> None:
    model = convcalc.load(name)
    comparisons = compare(model, analyze(model))
    assert [c for c in comparisons if not c.agrees] == []
    assert len(comparisons) > 1


@pytest.mark.parametrize("path", GOOD, ids=lambda p: p.stem)
def test_example_spec_builds_in_torch_and_agrees(path: Path) -> None:
    model = convcalc.load(str(path))
    assert all(c.agrees for c in compare(model, analyze(model)))


@pytest.mark.parametrize("name", ["lenet5", "mobilenet-v2", "inception-module"])
def test_real_forward_pass_on_cpu(name: str) -> None:
    model = convcalc.load(name)
    assert all(c.agrees for c in compare(model, analyze(model), device="cpu"))


def test_exported_vgg16_imports_and_counts(cli: Cli, tmp_path: Path) -> None:
    target = tmp_path / "vgg16.py"
    assert cli("export", "vgg16", "-o", str(target)).code == 0
    spec = importlib.util.spec_from_file_location("vgg16_export", target)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with torch.device("meta"):
        net = module.Net()
    assert sum(p.numel() for p in net.parameters()) == 138_357_544


def test_hostile_names_build(tmp_path: Path) -> None:
    from tests.test_export import HOSTILE

    model = convcalc.load_text(HOSTILE, "hostile.yaml")
    net = build(model, analyze(model))
    assert all(c.agrees for c in compare(model, analyze(model)))
    assert "l_self" in net.LAYERS


@pytest.mark.parametrize("name", ["resnet50", "googlenet", "inception-v3", "densenet121",
                                  "mobilenet-v2", "efficientnet-b0"])
def test_verify_command(cli: Cli, name: str) -> None:
    run = cli("verify", name)
    assert run.code == 0
    assert run.out.rstrip().endswith("0 difference(s)")


def test_every_kind_torch_can_express_exports_and_agrees() -> None:
    text = """\
input: 16x16x4
layers:
  - conv: {filters: 8, k: 3, stride: 2, pad: same}
  - depthwise: {k: 3, pad: 1, multiplier: 2}
  - separable: {filters: 8, k: 3, pad: 1}
  - local: {filters: 4, k: 3, stride: 1, pad: [[0, 1], [1, 0]]}
  - bn
  - leaky-relu: {slope: 0.2}
  - lrn: {size: 3}
  - channel-shuffle: {groups: 2}
  - upsample: {scale: 2}
  - zeropad: {pad: 1}
  - conv-transpose: {filters: 4, k: 4, stride: 2, pad: 1}
  - maxpool: {k: 3, stride: 2, pad: same}
  - avgpool: {k: 2, ceil: true}
  - adaptive-maxpool: {out: 3}
  - concat: [[hard-swish], [gelu], [silu, sigmoid], [tanh, relu6]]
  - mul: [[], [global-maxpool, conv1-16, hard-sigmoid]]
  - global-avgpool: {keepdims: false}
  - dropout
  - fc: {units: 10, bias: false}
  - softmax
"""
    model = convcalc.load_text(text)
    report = analyze(model)
    assert [p for p in report.problems if p.level == "error"] == []
    comparisons = compare(model, report, device="cpu")
    assert [c for c in comparisons if not c.agrees] == []
