"""The README's worked ViT-B/16 and Swin-T stage, read from the README itself, give
torchvision's numbers exactly (params, buffers, MACs, output) and verify in torch."""

from __future__ import annotations

import convcalc
from convcalc.analysis import analyze
from convcalc.verify import compare
from tests.oracles import need
from tests.test_readme_language import readme_spec
from tests.torchvision_models import build, count_macs

torch = need("torch")
torchvision = need("torchvision")


def our_numbers(text: str) -> tuple[int, int, int, tuple[int, ...]]:
    model = convcalc.load_text(text)
    report = analyze(model)
    assert report.problems == ()
    assert all(c.agrees for c in compare(model, report))
    totals = report.totals
    return (totals.params, totals.non_trainable_params, totals.macs,
            totals.output_shape.dims)


def test_the_readmes_vit_b_16_is_torchvisions() -> None:
    """Counted on the meta device, where nn.MultiheadAttention takes its general path: on the
    CPU in inference it takes a fused fast path that torch's counter sees only in part."""
    text = readme_spec("# ViT-B/16 (Dosovitskiy et al. 2021; torchvision vit_b_16)")
    vit = build("vit_b_16")
    example = torch.empty(1, 3, 224, 224, device="meta")
    params = sum(p.numel() for p in vit.parameters())
    assert our_numbers(text) == (params, 0, count_macs(vit, example), (1000,))


def test_the_readmes_swin_t_stage_is_torchvisions() -> None:
    from torch.utils.flop_counter import FlopCounterMode

    text = readme_spec("# Swin-T, stage 1 and its patch merging")
    stage = torchvision.models.swin_t().features[1:3].eval()
    x = torch.zeros(1, 56, 56, 96)  # Swin's features are channels last
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        out = stage(x)
    expected = (sum(p.numel() for p in stage.parameters()),
                sum(b.numel() for b in stage.buffers()), counter.get_total_flops() // 2,
                tuple(out.shape[1:]))
    assert our_numbers(text) == expected
