"""Model factories for `convcalc import package.module:factory` in the tests."""

from __future__ import annotations

from typing import Any


def raises() -> Any:
    raise RuntimeError("the factory fails on purpose")


def not_a_module() -> Any:
    return [1, 2, 3]



def exits() -> Any:
    """Research code often parses sys.argv while it builds: argparse ends with SystemExit."""
    raise SystemExit(0)


def contains_itself() -> Any:
    """A module registered as its own child: eval() recurses without end."""
    from torch import nn

    model = nn.Sequential(nn.ReLU())
    model.add_module("again", model)
    return model

def tiny() -> Any:
    """A small network written with functions as well as modules: a residual block with
    an SE gate, a channel-last linear, and a head."""
    import torch
    from torch import nn
    from torch.nn import functional

    class Tiny(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.stem = nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False)
            self.norm = nn.BatchNorm2d(8)
            self.body = nn.Conv2d(8, 8, 3, padding=1)
            self.gate = nn.Conv2d(8, 8, 1)
            self.mix = nn.Linear(8, 8)
            self.head = nn.Linear(8, 10)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = functional.relu(self.norm(self.stem(x)))
            y = self.body(x)
            y = y * torch.sigmoid(self.gate(functional.adaptive_avg_pool2d(y, 1)))
            x = x + y
            x = self.mix(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
            out: torch.Tensor = self.head(torch.flatten(x.mean((2, 3), keepdim=True), 1))
            return out

    return Tiny()


def masked_attention() -> Any:
    """Patches to tokens, then self-attention with a causal mask (which convcalc's
    attention does not model)."""
    import torch
    from torch import nn

    class Masked(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Conv2d(3, 16, 4, stride=4)
            self.attention = nn.MultiheadAttention(16, 2, batch_first=True)
            self.register_buffer("mask", torch.triu(torch.ones(16, 16, dtype=torch.bool), 1))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            tokens = self.embed(x).flatten(2).transpose(1, 2)
            out: torch.Tensor = self.attention(tokens, tokens, tokens, attn_mask=self.mask,
                                               need_weights=False)[0]
            return out

    return Masked()
