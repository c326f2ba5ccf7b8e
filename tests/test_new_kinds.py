"""Layer norm, layer scale and stochastic depth: their numbers against torch and torchvision,
their counts under each preset (from each tool's source, cited in convcalc/counting.py), and
their export."""

from __future__ import annotations

from typing import Any

import pytest

import convcalc
from convcalc.analysis import analyze
from convcalc.counting import PRESETS, count, custom
from convcalc.layers import KINDS, lookup
from convcalc.layers.fields import construct
from convcalc.problem import LayerError
from convcalc.report import Report
from convcalc.shape import Shape
from convcalc.verify import compare
from tests.oracles import need

torch = need("torch")
convnext = need("torchvision.models.convnext")

CNBLOCK = """
input: 14x14x96
blocks:
  cnblock:                    # torchvision's ConvNeXt block (convnext.py, CNBlock)
    add:
      - [dwconv7-p3, layernorm, conv1-$(4 * channels), gelu, conv1-$channels, layer-scale,
         drop-path: {rate: 0.1}]
      - []
layers:
  - cnblock
"""


def torch_numbers(module: Any, shape: Shape) -> tuple[int, int, int, list[int]]:
    """(params, buffers, MACs, output shape channels-last) of a torch module, in eval."""
    from torch.utils.flop_counter import FlopCounterMode

    module.eval()
    x = torch.zeros(1, shape.channels, *shape.spatial)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        out = module(x)
    params = sum(p.numel() for p in module.parameters())
    buffers = sum(b.numel() for name, b in module.named_buffers()
                  if not name.endswith("num_batches_tracked"))
    dims = list(out.shape[1:])
    return params, buffers, counter.get_total_flops() // 2, [*dims[1:], dims[0]]


def our_numbers(report: Report) -> tuple[int, int, int, list[int]]:
    totals = report.totals
    return (totals.params, totals.non_trainable_params, totals.macs,
            list(totals.output_shape.dims))


def test_a_convnext_block_gives_torchvisions_numbers() -> None:
    model = convcalc.load_text(CNBLOCK)
    report = analyze(model)
    assert report.problems == ()
    block = convnext.CNBlock(96, layer_scale=1e-6, stochastic_depth_prob=0.1)
    assert our_numbers(report) == torch_numbers(block, Shape((14, 14), 96))


@pytest.mark.parametrize("keys", [{}, {"bias": False}, {"affine": False}])
def test_layernorm_is_torchs_layernorm_over_the_channels(keys: dict[str, bool]) -> None:
    written = ", ".join(f"{key}: {str(value).lower()}" for key, value in keys.items())
    text = f"input: 5x6x12\nlayers: [layernorm: {{{written}}}]\n"
    report = analyze(convcalc.load_text(text))
    norm = convnext.LayerNorm2d(12, elementwise_affine=keys.get("affine", True),
                                bias=keys.get("bias", True))
    assert our_numbers(report) == torch_numbers(norm, Shape((5, 6), 12))
    assert report.totals.params == 12 * keys.get("affine", True) * (1 + keys.get("bias", True))


def test_the_export_normalises_as_torchvision_does() -> None:
    from convcalc.verify import build

    model = convcalc.load_text("input: 5x6x12\nlayers: [layernorm, layer-scale]\n")
    net = build(model, analyze(model), device="cpu")
    reference = convnext.LayerNorm2d(12)
    torch.manual_seed(0)
    for weight in (reference.weight, reference.bias, net.layer_scale1.scale):
        torch.nn.init.uniform_(weight.data)
    net.layernorm1.load_state_dict(reference.state_dict())
    x = torch.randn(2, 12, 5, 6)
    expected = reference(x) * net.layer_scale1.scale.view(-1, 1, 1)
    assert torch.allclose(net(x), expected, atol=1e-6)


def test_new_kinds_export_and_verify() -> None:
    model = convcalc.load_text("""
input: 12x12x8
layers:
  - layernorm
  - add: [[conv3-8-p1, layer-norm: {bias: false}, layerscale, stochastic-depth], []]
  - layernorm: {affine: false}
  - global-avgpool
  - layernorm
  - fc-4
""")
    report = analyze(model)
    assert [c for c in compare(model, report, device="cpu") if not c.agrees] == []


def convnext_report() -> Report:
    return analyze(convcalc.load_text(CNBLOCK))


def test_each_preset_counts_the_new_kinds_as_its_tool_does() -> None:
    report = convnext_report()
    base = {name: count(report, PRESETS[name]).total for name in PRESETS}
    elements, channels = 14 * 14 * 96, 96
    without = analyze(convcalc.load_text(CNBLOCK.replace("layernorm, ", "").replace(
        "layer-scale,", "").replace("drop-path: {rate: 0.1}", "identity")))
    rest = {name: count(without, PRESETS[name]).total for name in PRESETS}
    extra = {name: base[name] - rest[name] for name in PRESETS}
    assert extra == {"macs": 0, "paper": 0,
                     "fvcore": 5 * elements,  # norm_flop_counter(2): 5 per element, affine
                     "ptflops": 1 * elements,  # bn hook without an `affine` attribute
                     "torchinfo": 2 * channels}  # weight and bias, once each
    assert count(report, custom(["norm"])).total - count(without, custom(["norm"])).total \
        == 2 * elements


def test_a_layernorm_without_scale_counts_four_in_fvcore() -> None:
    def fvcore(keys: str) -> int:
        model = convcalc.load_text(f"input: 4x4x8\nlayers: [layernorm: {{{keys}}}]\n")
        return count(analyze(model), PRESETS["fvcore"]).total

    assert (fvcore(""), fvcore("affine: false")) == (5 * 128, 4 * 128)


def test_the_new_kinds_are_registered_with_their_aliases() -> None:
    assert lookup("layer-norm") is KINDS["layernorm"]
    assert lookup("layerscale") is KINDS["layer-scale"]
    assert lookup("drop-path") is KINDS["stochastic-depth"]


@pytest.mark.parametrize(("keys", "code"), [({"mode": "column"}, "unsupported"),
                                             ({"rate": 1.5}, "invalid-size")])
def test_stochastic_depth_checks_its_keys(keys: dict[str, object], code: str) -> None:
    layer, errors = construct(KINDS["stochastic-depth"], keys)
    assert errors == []
    with pytest.raises(LayerError) as caught:
        layer.apply(Shape((4, 4), 8))
    assert caught.value.code == code
