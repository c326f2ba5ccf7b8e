"""PyTorch's rule set against torch itself: what torch refuses, convcalc refuses under
``--rules pytorch``; what it takes, it sizes alike (pooling, strided `same`)."""

from __future__ import annotations

from functools import partial
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from convcalc.layers.conv import Conv
from convcalc.layers.pool import AvgPool, MaxPool
from convcalc.report import Settings
from convcalc.shape import Shape
from tests.oracles import need
from tests.rules_oracle import EXAMPLES, Axes, agree, axes, ours

torch = need("torch")
torch.set_num_threads(1)


def run(factory: Any, x: Axes, channels: int = 1) -> tuple[int, ...] | None:
    """torch's spatial output, or None when it refuses the layer or gives nothing."""
    try:
        module = factory()
        with torch.no_grad():
            out = module(torch.zeros(1, channels, *x.sizes))
    except (RuntimeError, ValueError):
        return None
    return None if 0 in out.shape else tuple(out.shape[2:])


@EXAMPLES
@given(x=axes(symmetric=True), ceil=st.booleans(), average=st.booleans())
def test_pooling(x: Axes, ceil: bool, average: bool) -> None:
    """Pads above k // 2 are refused (Pool.h); ceil mode drops a window in the padding."""
    n = len(x.sizes)
    pads = tuple(a for a, _ in x.pads)
    if average:
        layer: Any = AvgPool(x.k, x.stride, x.pads, ceil)
        factory = partial(getattr(torch.nn, f"AvgPool{n}d"), x.k, x.stride, pads, ceil)
    else:
        layer = MaxPool(x.k, x.stride, x.pads, x.dilation, ceil)
        factory = partial(getattr(torch.nn, f"MaxPool{n}d"), x.k, x.stride, pads, x.dilation,
                          ceil_mode=ceil)
    agree(ours("pytorch", layer, Shape(x.sizes, 1)), run(factory, x), (x, ceil, average))


@EXAMPLES
@given(x=axes(), word=st.sampled_from(["same", "valid"]))
def test_convolution_padding_words(x: Axes, word: str) -> None:
    """torch's own `same` refuses a stride above 1 (torch/nn/modules/conv.py)."""
    n = len(x.sizes)
    layer = Conv(1, x.k, x.stride, word, x.dilation)
    factory = partial(getattr(torch.nn, f"Conv{n}d"), 1, 1, x.k, x.stride, word, x.dilation)
    agree(ours("pytorch", layer, Shape(x.sizes, 1)), run(factory, x), (x, word))


@EXAMPLES
@given(x=axes())
def test_convolution_pads(x: Axes) -> None:
    """nn.ConvNd pads both sides of an axis alike: unequal pads are refused."""
    n = len(x.sizes)
    layer = Conv(1, x.k, x.stride, x.pads, x.dilation)
    symmetric = all(a == b for a, b in x.pads)
    factory = partial(getattr(torch.nn, f"Conv{n}d"), 1, 1, x.k, x.stride,
                      tuple(a for a, _ in x.pads), x.dilation)
    expected = run(factory, x) if symmetric else None
    agree(ours("pytorch", layer, Shape(x.sizes, 1)), expected, x)


SPECS = {
    # Caffe keeps the last window of an unpadded ceil pool (5 -> 3, torch's ceil mode: 2)
    # and floors nothing it is not told to
    "caffe": "input: 5x5x2\nlayers:\n  - maxpool: {k: 1, stride: 3}\n"
             "  - conv: {filters: 2, k: 2, stride: 2, pad: 1}\n  - maxpool: {k: 3, stride: 2}\n",
    "mxnet": "input: 10x10x1\nlayers:\n"
             "  - maxpool: {k: [4, 5], stride: [3, 4], pad: [1, 2], ceil: true}\n",
    "darknet": "input: 13x13x4\nlayers:\n  - maxpool: {k: 2, stride: 1}\n"
               "  - maxpool: {k: 2, stride: 2}\n",
    "keras": "input: 5x5x2\nlayers:\n  - conv-transpose: {filters: 3, k: 2, stride: 3}\n"
             "  - conv-transpose: {filters: 3, k: 3, stride: 2, pad: same}\n",
}


def test_the_export_keeps_each_frameworks_sizes() -> None:
    """A spec declaring a framework's rules exports to a module torch sizes alike."""
    from convcalc.analysis import analyze
    from convcalc.language import load_text
    from convcalc.verify import compare

    for rules, body in SPECS.items():
        loaded = load_text(f"name: {rules}\nrules: {rules}\n" + body,
                           f"{rules}.yaml")
        assert loaded.model is not None, loaded.problems
        report = analyze(loaded.model)
        assert report.settings.rules == rules and not report.problems, report.problems
        torch_default = analyze(loaded.model, Settings(rules="pytorch", rules_from="--rules"))
        assert torch_default.rows != report.rows  # the rules change some size
        assert all(c.agrees for c in compare(loaded.model, report, "cpu")), rules
