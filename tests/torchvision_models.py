"""torchvision's classification CNNs, measured live on the meta device (no weights, no memory).

Shared by tests/test_torchvision_zoo.py and scripts/zoo_table.py. The numbers are the ones
REFERENCE.md §6b describes: params and buffers by summing tensors (torch's
``num_batches_tracked`` counters excluded: they count steps, not features), the output shape
from a forward pass, and MACs from ``torch.utils.flop_counter`` (convolution + addmm + mm +
bmm, halved: the counter counts a multiply-add as two FLOPs).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from importlib import import_module
from pathlib import Path
from typing import Any

CATALOGUE_CSV = Path(__file__).parent / "torchvision-catalogue.csv"
TRANSFORMERS = ("vit_", "swin_", "maxvit_")  # not CNNs: outside the zoo
# The auxiliary classifiers are training-time heads: the DEFAULT weights of GoogLeNet drop
# theirs, Inception v3's keep theirs (and its published count includes it).
NO_AUX = {"googlenet": {"aux_logits": False, "init_weights": False},
          "inception_v3": {"aux_logits": False, "init_weights": False}}


def catalogue() -> dict[str, dict[str, str]]:
    """REFERENCE.md's table of torchvision 0.29's 80 classification models, by name."""
    with CATALOGUE_CSV.open(newline="") as file:
        return {row["model"]: row for row in csv.DictReader(file)}


def cnns() -> list[str]:
    """The 68 classification CNNs: every model of the catalogue but ViT, Swin and MaxViT."""
    return sorted(name for name in catalogue() if not name.startswith(TRANSFORMERS))


def transformers() -> list[str]:
    """The 12 attention models of the catalogue: ViT, Swin (v1 and v2) and MaxViT."""
    return sorted(name for name in catalogue() if name.startswith(TRANSFORMERS))


def sized(name: str, size: int) -> dict[str, Any]:
    """The options that build ``name`` for square inputs of ``size``: ViT and MaxViT fix
    their input size when built (ViT's position embedding, MaxViT's partition checks), as
    torchvision does for their DEFAULT weights; the CNNs and Swin take any size."""
    if name.startswith("vit_"):
        return {"image_size": size}
    if name.startswith("maxvit_"):
        return {"input_size": (size, size)}
    return {}


@dataclass(frozen=True)
class Measured:
    """One torchvision model, measured."""

    name: str
    crop: int  # the crop size of its DEFAULT weights
    params: int
    buffers: int  # BN running means and variances
    output: tuple[int, ...]  # one example's output, channels last
    macs: int | None  # None unless counted
    published_params: int
    published_gflops: Decimal


@contextmanager
def _regnet_widths_on_cpu() -> Iterator[None]:
    """RegNet computes its stage widths with torch tensors and reads them back with
    ``.tolist()``, which a meta tensor cannot do: those few numbers are computed on the CPU."""
    import torch

    regnet = import_module("torchvision.models.regnet")  # untyped: reached as a module
    widths = regnet.BlockParams.__dict__["from_init_params"]

    def on_cpu(cls: Any, *args: Any, **kwargs: Any) -> Any:
        with torch.device("cpu"):
            return widths.__func__(cls, *args, **kwargs)

    regnet.BlockParams.from_init_params = classmethod(on_cpu)
    try:
        yield
    finally:
        regnet.BlockParams.from_init_params = widths


def build(name: str, **options: Any) -> Any:
    """torchvision's model ``name`` on the meta device, in eval mode."""
    import torch

    torchvision = import_module("torchvision")
    with _regnet_widths_on_cpu(), torch.device("meta"):
        model = torchvision.models.get_model(name, **{**NO_AUX.get(name, {}), **options})
    return model.eval()


def count_macs(model: Any, example: Any) -> int:
    """Multiply-accumulates of one forward pass: convolutions and matrix products."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(example)
    ops = torch.ops.aten
    counted = counter.get_flop_counts()["Global"]
    flops = sum(counted.get(op, 0) for op in (ops.convolution, ops.addmm, ops.mm, ops.bmm))
    assert flops % 2 == 0
    return int(flops) // 2


def measure(name: str, macs: bool = False) -> Measured:
    """Params, buffers, output shape (and MACs if asked) of torchvision's ``name``."""
    import torch

    torchvision = import_module("torchvision")
    weights = torchvision.models.get_model_weights(name).DEFAULT
    crop = weights.transforms.keywords["crop_size"]
    model = build(name, **sized(name, crop))
    example = torch.empty(1, 3, crop, crop, device="meta")
    with torch.no_grad():
        out = model(example)
    buffers = sum(b.numel() for key, b in model.named_buffers()
                  if not key.endswith("num_batches_tracked"))
    shape = tuple(out.shape[1:])
    return Measured(name, crop, sum(p.numel() for p in model.parameters()), buffers,
                    (*shape[1:], shape[0]) if len(shape) > 1 else shape,
                    count_macs(model, example) if macs else None,
                    weights.meta["num_params"], Decimal(str(weights.meta["_ops"])))


def published(gflops: Decimal, macs: int) -> bool:
    """Whether ``macs`` is torchvision's published GFLOPS to its printed precision."""
    exponent = gflops.as_tuple().exponent
    assert isinstance(exponent, int)
    return round(Fraction(macs, 10**9), -exponent) == Fraction(gflops)
