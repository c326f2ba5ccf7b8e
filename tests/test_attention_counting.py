"""Counting conventions on attention: each preset reproduces its tool on torchvision's ViT,
Swin and MaxViT, and ``--count attention`` switches the attention products on.

The tools' totals were measured with scripts/count_with_tools.py (fvcore
0.1.5.post20221221, ptflops 0.7.5, torchinfo 1.8.0, torch 2.14.1, torchvision 0.29.1); they
differ from the torchvision MACs by what each tool sees of attention (see counting.py).
"""

from __future__ import annotations

from typing import Any

import pytest

from convcalc.analysis import analyze
from convcalc.counting import PRESETS, count, custom
from convcalc.language import load_file, resolve
from convcalc.report import Report

Cli = Any
MEASURED = {  # spec: (fvcore, ptflops, torchinfo)
    "vit-b-16": (16_867_412_736, 17_606_030_584, 173_232_616),
    "vit-b-32": (4_367_906_304, 4_418_839_336, 173_119_720),
    "swin-t": (4_509_232_128, 3_128_183_416, 34_368_232),
    "swin-b": (15_467_876_352, 10_551_529_384, 79_400_936),
    "swin-v2-t": (5_962_349_568, 4_045_391_848, 38_970_472),
    "swin-v2-s": (11_580_312_576, 7_788_322_792, 53_259_880),
    "maxvit-t": (5_608_201_264, 5_483_328_960, 2_013_574_048),
}


def report(spec: str) -> Report:
    path = resolve(spec)
    assert path is not None
    loaded = load_file(path)
    assert loaded.model is not None
    return analyze(loaded.model)


@pytest.mark.parametrize("spec", sorted(MEASURED))
def test_presets_reproduce_the_tools_on_attention_models(spec: str) -> None:
    counted = report(spec)
    totals = tuple(count(counted, PRESETS[name]).total for name in ("fvcore", "ptflops",
                                                                  "torchinfo"))
    assert totals == MEASURED[spec]


def test_the_default_counts_the_products_and_the_switch_chooses() -> None:
    vit = report("vit-b-16")
    products = 12 * 2 * 197 * 197 * 768  # 12 layers, QKᵀ and attention·V, 197 tokens, width 768
    assert vit.totals.attention_macs == products
    assert count(vit, PRESETS["macs"]).total == vit.totals.macs
    assert count(vit, custom([])).total == vit.totals.macs - products
    assert count(vit, custom(["attention"])).total == vit.totals.macs
    assert "attention's products not counted" in custom(["bias"]).description


def test_count_attention_on_the_command_line(cli: Cli) -> None:
    run = cli("summarize", "vit-b-32", "--count", "attention")
    assert run.code == 0 and "counting: custom:attention" in run.out.splitlines()[0]
    run = cli("summarize", "vit-b-32", "--count", "bias")
    assert "attention's products not counted" in run.out
