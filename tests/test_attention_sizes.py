"""Which input sizes the attention models take: `convcalc sizes` against torch, which builds
each model at a sample of sizes on the meta device. ViT takes multiples of its patch (it
asserts so), Swin any size (it pads windows, floors its 4x4 patches), MaxViT sizes whose
stage grids divide by its partition (it refuses others when built). Where torch takes a
size, the spec gives torch's params, output and MACs there too (Swin's padded windows
included)."""

from __future__ import annotations

from typing import Any

import pytest

from convcalc.analysis import analyze
from convcalc.design import check_size
from convcalc.language import load_file, resolve
from convcalc.model import Model, with_input
from convcalc.shape import Shape
from tests.oracles import need
from tests.torchvision_models import build, count_macs, sized

torch = need("torch")
need("torchvision")

SAMPLES = {
    "vit_b_16": [32, 100, 224, 232, 240, 384],
    "swin_t": [32, 36, 100, 200, 224, 230],
    "swin_v2_t": [64, 200, 256],
    "maxvit_t": [221, 223, 224, 230, 256, 448],
}
SPECS = {"vit_b_16": "vit-b-16", "swin_t": "swin-t", "swin_v2_t": "swin-v2-t",
         "maxvit_t": "maxvit-t"}


def spec(name: str) -> Model:
    path = resolve(SPECS[name])
    assert path is not None
    loaded = load_file(path)
    assert loaded.model is not None
    return loaded.model


def in_torch(name: str, size: int) -> tuple[Any, Any] | None:
    """torchvision's model built for ``size`` and its output there, or None if refused."""
    try:
        model = build(name, **sized(name, size))
        example = torch.empty(1, 3, size, size, device="meta")
        with torch.no_grad():
            return model, model(example)
    except (ValueError, RuntimeError, AssertionError):
        return None


@pytest.mark.parametrize(("name", "size"), [(n, s) for n, sizes in SAMPLES.items()
                                            for s in sizes])
def test_sizes_match_what_torch_accepts(name: str, size: int) -> None:
    model = spec(name)
    check = check_size(model, size)
    built = in_torch(name, size)
    if name == "vit_b_16":  # torch asserts that the patch divides the image; we say lossy
        assert (built is not None) == check.safe == (size % 16 == 0)
    elif name.startswith("swin"):  # torch takes any size; sizes below lose input to rounding
        assert built is not None and check.error == ""
        assert check.safe == (size % 4 == 0)
    else:  # MaxViT refuses grids its partitions do not divide
        assert (built is not None) == (check.error == "")
    if built is None:
        return
    module, out = built
    report = analyze(with_input(model, Shape((size, size), 3)))
    assert report.totals.params == sum(p.numel() for p in module.parameters())
    assert report.totals.output_shape.dims == tuple(out.shape[1:])
    if size in (36, 200, 223):  # padded windows, a window larger than the grid, odd sizes
        example = torch.empty(1, 3, size, size, device="meta")
        assert report.totals.macs == count_macs(module, example)


def test_sizes_explains_the_rules(cli: Any) -> None:
    vit = cli("sizes", "vit-b-16", "--range", "32:1024").out
    assert "exact or harmless (no input lost):     multiples of 16" in vit
    swin = cli("sizes", "swin-t", "--range", "32:1024").out
    assert "exact everywhere (no layer rounds):    multiples of 224" in swin
    assert "is not a multiple of the window" in swin


def test_sweep_shows_attentions_products_apart() -> None:
    from convcalc.design import sweep

    first, last = sweep(spec("vit_b_16"), [224, 448])
    assert first.attention_macs == 12 * 2 * 197 ** 2 * 768
    assert last.attention_macs == 12 * 2 * 785 ** 2 * 768  # 28² patches and the class token
    totals = first.report.totals
    assert first.conv_macs + first.dense_macs + first.attention_macs == totals.macs
