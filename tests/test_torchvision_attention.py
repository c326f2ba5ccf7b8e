"""torchvision's 12 attention models (ViT, Swin v1 and v2, MaxViT), reproduced exactly.

Each has a bundled spec naming it (``torchvision: NAME``). Its params, buffers (without
``num_batches_tracked``) and output shape are compared with torchvision's model built live
on the meta device at the crop size of its DEFAULT weights; its MACs with the catalogue
(torch's FLOP counter) op by op: the convolutions, the attention products (``bmm``) and the
dense layers (``addmm`` and ``mm``); and for one model of each family counted live.
"""

from __future__ import annotations

from typing import Any

import pytest

from convcalc.layers.attention import Attention, PartitionAttention, WindowAttention
from convcalc.layers.base import Layer
from convcalc.report import Report
from convcalc.shape import Shape
from convcalc.zoo import Entry, catalogue
from tests.oracles import need
from tests.torchvision_models import catalogue as reference
from tests.torchvision_models import measure, published, transformers

torch = need("torch")
torchvision = need("torchvision")

MODELS = transformers()
SPECS = {entry.torchvision: entry for entry in catalogue() if entry.torchvision}
REFERENCE = reference()
COUNTED_LIVE = ["maxvit_t", "swin_t", "swin_v2_t", "vit_b_32"]  # one of each family
CONV_KINDS = ("conv", "depthwise")


def report_for(name: str) -> Report:
    entry: Entry | None = SPECS.get(name)
    if entry is None:
        pytest.fail(f"no bundled spec says `torchvision: {name}`")
    assert entry.report is not None, entry.problems
    assert [p for p in entry.problems if p.level != "info"] == []
    return entry.report


def test_the_twelve_attention_models() -> None:
    assert MODELS == ["maxvit_t", "swin_b", "swin_s", "swin_t", "swin_v2_b", "swin_v2_s",
                      "swin_v2_t", "vit_b_16", "vit_b_32", "vit_h_14", "vit_l_16", "vit_l_32"]
    assert set(MODELS) <= set(SPECS)


@pytest.mark.parametrize("name", MODELS)
def test_spec_reproduces_torchvision(name: str) -> None:
    report = report_for(name)
    live = measure(name)
    assert report.input_shape == Shape((live.crop, live.crop), 3)
    assert report.totals.params == live.params == live.published_params
    assert report.totals.non_trainable_params == live.buffers
    assert report.totals.output_shape.dims == live.output
    assert report.totals.macs == int(REFERENCE[name]["macs"])


@pytest.mark.parametrize("name", MODELS)
def test_macs_by_operation(name: str) -> None:
    """Convolutions, attention products and dense layers each agree with torch's counter."""
    report = report_for(name)
    row = REFERENCE[name]
    layers = [r for r in report.rows if not r.rows_below]
    assert sum(r.macs for r in layers if r.kind in CONV_KINDS) == int(row["macs_conv"])
    assert report.totals.attention_macs == int(row["macs_bmm"])
    dense = sum(r.macs - r.attention_macs for r in layers if r.kind not in CONV_KINDS)
    assert dense == int(row["macs_addmm"]) + int(row["macs_mm"])


@pytest.mark.parametrize("name", COUNTED_LIVE)
def test_macs_counted_live(name: str) -> None:
    live = measure(name, macs=True)
    assert report_for(name).totals.macs == live.macs
    assert live.macs is not None and published(live.published_gflops, live.macs)


def test_attention_kinds_match_torchs_modules() -> None:
    """Each attention kind's params and buffers are those of the torch module it stands for."""
    nn = torch.nn
    swin = pytest.importorskip("torchvision.models.swin_transformer")
    maxvit = pytest.importorskip("torchvision.models.maxvit")
    cases: list[tuple[Layer, Shape, Any]] = [
        (Attention(heads=12), Shape((197,), 768), nn.MultiheadAttention(768, 12)),
        (Attention(heads=8, qkv_bias=False, proj_bias=False), Shape((50,), 256),
         nn.MultiheadAttention(256, 8, bias=False)),
        (WindowAttention(heads=3, window=(7,), shift=(3,)), Shape((56, 56), 96),
         swin.ShiftedWindowAttention(96, [7, 7], [3, 3], 3)),
        (WindowAttention(heads=4, window=(8,), position="mlp", cosine=True),
         Shape((64, 64), 128), swin.ShiftedWindowAttentionV2(128, [8, 8], [0, 0], 4)),
        (PartitionAttention(heads=2, size=7), Shape((56, 56), 64),
         maxvit.RelativePositionalMultiHeadAttention(64, 32, 49)),
    ]
    for kind, shape, module in cases:
        effect = kind.apply(shape)
        assert effect.params == sum(p.numel() for p in module.parameters()), kind
        assert effect.buffers == sum(b.numel() for b in module.buffers()), kind
