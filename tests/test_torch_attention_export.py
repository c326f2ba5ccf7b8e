"""The exported attention networks compute what torchvision's models compute.

``verify`` compares shapes and parameter counts; here the exported module of a bundled spec
gets the weights of torchvision's model (randomly initialised, never downloaded) and both run
the same input on the CPU: one model of each family, and Swin at a size its windows do not
divide (padding, and an unshifted last stage). The two compute in float32 in different
orders, so the outputs agree to rounding, not bit for bit.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from convcalc.analysis import analyze
from convcalc.export import to_pytorch
from convcalc.language import load_file, resolve
from convcalc.model import with_input
from convcalc.shape import Shape
from convcalc.verify import build as build_export
from tests.oracles import need
from tests.torchvision_models import sized

ROOT = Path(__file__).resolve().parent.parent
torch = need("torch")
torchvision = need("torchvision")


ROLES = ("weight", "bias", "running_mean", "running_var")


def tensors(model: Any) -> list[tuple[tuple[str, str], Any]]:
    """Every parameter and floating-point buffer, with its role: the kind of module that
    owns it (layer norm, linear, convolution, batch norm or other) and its name's role."""
    nn = torch.nn
    families = (nn.LayerNorm, nn.Linear, nn.Conv2d, nn.BatchNorm2d, nn.MultiheadAttention)
    found = []
    for module in model.modules():
        family = next((f.__name__ for f in families if isinstance(module, f)), "other")
        own = [*module.named_parameters(recurse=False), *module.named_buffers(recurse=False)]
        found += [((family, name if name in ROLES else "other"), tensor)
                  for name, tensor in own if tensor.is_floating_point()]
    return found


def fits(mine: Any, given: Any) -> bool:
    """Whether ``given`` can fill ``mine``: the same shape, or the last two axes swapped (a
    token or position embedding is stored channels first in the export)."""
    swapped = given.dim() >= 2 and mine.shape == given.transpose(-1, -2).shape
    return bool(mine.shape == given.shape or swapped)


def copy_weights(source: Any, target: Any) -> None:
    """torchvision's tensors into the export's. Both list them in nearly the same order (the
    specs follow torchvision's layers, though torchvision registers Swin v2's norms and
    patch merging's norm before the layers they follow), so each tensor of torchvision's fills
    the first unfilled tensor of the export with its role that it fits."""
    ours, theirs = tensors(target), tensors(source)
    assert len(ours) == len(theirs)
    free = list(range(len(ours)))
    with torch.no_grad():
        for role, given in theirs:
            index = next(i for i in free if ours[i][0] == role and fits(ours[i][1], given))
            free.remove(index)
            mine = ours[index][1]
            mine.copy_(given if mine.shape == given.shape else given.transpose(-1, -2))


def same_epsilons(source: Any, target: Any) -> None:
    """A spec has no epsilon for its norms: the export takes torch's defaults, so it takes
    torchvision's here (ViT's layer norms use 1e-6, MaxViT's batch norms 1e-3)."""
    for family in (torch.nn.LayerNorm, torch.nn.BatchNorm2d):
        given = {m.eps for m in source.modules() if isinstance(m, family)}
        assert len(given) <= 1
        for module in target.modules():
            if isinstance(module, family) and given:
                module.eps = next(iter(given))


@pytest.mark.parametrize(("spec", "name", "size"), [
    ("vit-b-32", "vit_b_32", 224), ("swin-t", "swin_t", 224), ("swin-t", "swin_t", 200),
    ("swin-v2-t", "swin_v2_t", 256), ("maxvit-t", "maxvit_t", 224)])
def test_export_computes_what_torchvision_computes(spec: str, name: str, size: int) -> None:
    path = resolve(spec)
    assert path is not None
    loaded = load_file(path)
    assert loaded.model is not None
    model = with_input(loaded.model, Shape((size, size), 3))
    report = analyze(model)
    torch.manual_seed(0)
    theirs = torchvision.models.get_model(name, **sized(name, size)).eval()
    ours = build_export(model, report, "cpu").eval()
    copy_weights(theirs, ours)
    same_epsilons(theirs, ours)
    x = torch.randn(1, 3, size, size)
    with torch.no_grad():
        expected, got = theirs(x), ours(x)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("spec", ["vit-b-16", "swin-t", "swin-v2-t", "maxvit-t"])
def test_attention_exports_pass_ruff(spec: str, tmp_path: Path) -> None:
    path = resolve(spec)
    assert path is not None
    loaded = load_file(path)
    assert loaded.model is not None
    target = tmp_path / "net.py"
    target.write_text(to_pytorch(loaded.model, analyze(loaded.model)))
    for config in (["--isolated"], ["--config", str(ROOT / "pyproject.toml")]):
        result = subprocess.run([sys.executable, "-m", "ruff", "check", *config, str(target)],
                                capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stdout
