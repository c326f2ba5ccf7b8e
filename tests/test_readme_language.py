"""The README's worked examples of the spec language, read from the README itself, give
torchvision's numbers: parameters, buffers, MACs (torch.utils.flop_counter) and shapes."""

from __future__ import annotations

import re
from functools import partial
from pathlib import Path
from typing import Any

import convcalc
from convcalc.analysis import analyze
from convcalc.verify import compare
from tests.oracles import need

torch = need("torch")
shufflenet = need("torchvision.models.shufflenetv2")
mobilenet = need("torchvision.models.mobilenetv3")

README = Path(__file__).parent.parent / "README.md"


def readme_spec(first_line: str) -> str:
    """The README's ```yaml block that starts with ``first_line``."""
    blocks = re.findall(r"^```yaml\n(.*?)^```", README.read_text(encoding="utf-8"), re.M | re.S)
    found = [block for block in blocks if block.startswith(first_line)]
    assert len(found) == 1, first_line
    return str(found[0])


def torch_numbers(module: Any, dims: tuple[int, ...]) -> tuple[int, int, int, tuple[int, ...]]:
    """(params, buffers without BN's batch counters, MACs, output HxWxC) in eval."""
    from torch.utils.flop_counter import FlopCounterMode

    module.eval()
    x = torch.zeros(1, dims[-1], *dims[:-1])
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        out = module(x)
    buffers = sum(b.numel() for name, b in module.named_buffers()
                  if not name.endswith("num_batches_tracked"))
    return (sum(p.numel() for p in module.parameters()), buffers,
            counter.get_total_flops() // 2, (*out.shape[2:], out.shape[1]))


def our_numbers(text: str) -> tuple[int, int, int, tuple[int, ...]]:
    model = convcalc.load_text(text)
    report = analyze(model)
    assert report.problems == ()
    assert all(c.agrees for c in compare(model, report, device="cpu"))
    totals = report.totals
    return (totals.params, totals.non_trainable_params, totals.macs,
            totals.output_shape.dims)


def test_the_readmes_shufflenet_stage_is_torchvisions() -> None:
    text = readme_spec("# ShuffleNet v2 x1.0, stage 2")
    assert "split:" in text and "$(channels // 2)" in text
    stage = torch.nn.Sequential(shufflenet.InvertedResidual(24, 116, 2),
                                *[shufflenet.InvertedResidual(116, 116, 1) for _ in range(3)])
    assert our_numbers(text) == torch_numbers(stage, (56, 56, 24))


def test_the_readmes_mobilenet_v3_block_is_torchvisions() -> None:
    text = readme_spec("# MobileNetV3-Large, bottlenecks 1 to 5")
    assert "if: $se" in text and "if: $(stride == 1 and channels == out)" in text
    row = partial(mobilenet.InvertedResidualConfig, width_mult=1.0)
    rows = [row(16, 3, 16, 16, False, "RE", 1, 1), row(16, 3, 64, 24, False, "RE", 2, 1),
            row(24, 3, 72, 24, False, "RE", 1, 1), row(24, 5, 72, 40, True, "RE", 2, 1),
            row(40, 3, 240, 80, False, "HS", 2, 1)]
    norm = partial(torch.nn.BatchNorm2d, eps=0.001, momentum=0.01)
    blocks = torch.nn.Sequential(*[mobilenet.InvertedResidual(r, norm) for r in rows])
    assert our_numbers(text) == torch_numbers(blocks, (112, 112, 16))
    # the conditions chose as torchvision does: residuals on rows 1 and 3, SE on row 4 only
    report = analyze(convcalc.load_text(text))
    assert [row.name for row in report.rows if row.kind == "add"] == ["bneck1.add1",
                                                                      "bneck3.add1"]
    assert [row.name for row in report.rows if row.kind == "mul"] == ["bneck4.mul1"]
