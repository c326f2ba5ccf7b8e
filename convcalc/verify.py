"""Build a model's PyTorch export and compare torch's shapes, parameters and buffers with ours.

Needs torch (imported here only). The module is built and run once on zeros at the spec's
input, batch 1, on the ``meta`` device by default (shapes without arithmetic or memory).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from convcalc.export import to_pytorch
from convcalc.model import Model
from convcalc.report import Report


@dataclass(frozen=True)
class Comparison:
    """One layer (or the whole network) as convcalc and torch see it."""

    name: str
    our_shape: list[int]
    torch_shape: list[int]
    our_params: int
    torch_params: int
    our_buffers: int = 0  # non-trainable state: batch norm's running mean and variance
    torch_buffers: int = 0  # the same, less torch's num_batches_tracked counters

    @property
    def agrees(self) -> bool:
        return self.our_shape == self.torch_shape and self.our_params == self.torch_params \
            and self.our_buffers == self.torch_buffers


def build(model: Model, report: Report, device: str = "meta") -> Any:
    """The exported module, instantiated (its source is our own generated code)."""
    import torch

    namespace: dict[str, Any] = {}
    exec(compile(to_pytorch(model, report), f"<convcalc export of {model.name}>", "exec"),
         namespace)
    with torch.device(device):
        return namespace["Net"]()


def _channels_last(shape: Any) -> list[int]:
    dims = list(shape)[1:]  # drop the batch
    return [*dims[1:], dims[0]] if len(dims) > 1 else dims


def _buffers(module: Any) -> int:
    """Elements of a module's buffers, less the step counters convcalc does not count."""
    return sum(b.numel() for name, b in module.named_buffers()
               if not name.endswith("num_batches_tracked"))


def compare(model: Model, report: Report, device: str = "meta") -> list[Comparison]:
    """Per layer with weights or state, then the whole network: ours against torch's."""
    import torch

    net = build(model, report, device)
    seen: dict[str, list[int]] = {}
    params: dict[str, int] = {}
    buffers: dict[str, int] = {}
    for attr, name in net.LAYERS.items():
        module = getattr(net, attr)
        params[name] = params.get(name, 0) + sum(p.numel() for p in module.parameters())
        buffers[name] = buffers.get(name, 0) + _buffers(module)
        module.register_forward_hook(
            lambda _m, _i, out, name=name: seen.__setitem__(name, _channels_last(out.shape)))
    x = torch.zeros(1, report.input_shape.channels, *report.input_shape.spatial,
                    device=device)
    net.eval()
    with torch.no_grad():
        out = net(x)
    rows = {row.name: row for row in report.rows}
    comparisons = [Comparison(name, list(rows[name].output_shape.dims), seen.get(name, []),
                              rows[name].params, params[name],
                              rows[name].non_trainable_params, buffers[name])
                   for name in params]
    comparisons.append(Comparison("(network)", list(report.totals.output_shape.dims),
                                  _channels_last(out.shape), report.totals.params,
                                  sum(p.numel() for p in net.parameters()),
                                  report.totals.non_trainable_params, _buffers(net)))
    return comparisons
