"""The export of token and attention layers: the statements, and the helper modules the
generated source carries where torch has no single module (as ``Local2d`` for locally
connected layers).

The generated network keeps torch's layout, channels first: a token sequence ``L x C`` is an
``(N, C, L)`` tensor and a grid ``H x W x C`` is ``(N, C, H, W)``. The helpers compute what
torchvision's modules compute (ViT's ``nn.MultiheadAttention``, Swin's
``shifted_window_attention``, MaxViT's ``PartitionAttentionLayer`` around its
``RelativePositionalMultiHeadAttention``), with the same parameters and buffers.
"""

from __future__ import annotations

from collections.abc import Callable

from convcalc.layers.attention import Attention, PartitionAttention, WindowAttention
from convcalc.layers.base import Layer, per_axis
from convcalc.layers.tokens import (
    ClassToken,
    Grid,
    PatchMerge,
    PositionEmbedding,
    TakeToken,
    TokenDense,
    Tokens,
)
from convcalc.report import Row


class Unexpressible(Exception):
    """torch's modules cannot express the layer as given."""


def statements(layer: Layer, row: Row, x: str, module: Callable[[str], str],
               helpers: set[str]) -> list[str] | None:
    """The expressions computing a token or attention layer (None for other kinds);
    ``module(code)`` adds an attribute and returns its name, ``helpers`` collects the helper
    classes the code uses."""
    c, out = row.input_shape.channels, row.output_shape
    if isinstance(layer, Tokens):
        return [f"torch.flatten({x}, 2)"]
    if isinstance(layer, Grid):
        return [f"{x}.reshape({x}.shape[0], {c}, {', '.join(map(str, out.spatial))})"]
    if isinstance(layer, TakeToken):
        return [f"{x}[:, :, {layer.index}]"]
    if isinstance(layer, PatchMerge):
        helpers.add("patch_merge")
        return [f"patch_merge({x})"]
    helper, code = _module(layer, row)
    if helper is None:
        return None
    helpers.add(helper)
    return [f"{module(code)}({x})"]


def _module(layer: Layer, row: Row) -> tuple[str | None, str]:
    """(the helper class, the code constructing the layer's module)."""
    c, spatial = row.input_shape.channels, row.input_shape.spatial
    if isinstance(layer, ClassToken):
        return "ClassToken", f"ClassToken({c}, {layer.count})"
    if isinstance(layer, PositionEmbedding):
        return "PositionEmbedding", f"PositionEmbedding({c}, {tuple(spatial)})"
    if isinstance(layer, TokenDense):
        bias = "" if layer.bias else ", bias=False"
        return "TokenLinear", f"TokenLinear({c}, {layer.units}{bias})"
    if isinstance(layer, Attention):
        if layer.qkv_bias != layer.proj_bias:
            raise Unexpressible("nn.MultiheadAttention has one bias flag for both projections")
        bias = "" if layer.qkv_bias else ", bias=False"
        return "SelfAttention", f"SelfAttention({c}, {layer.heads}{bias})"
    if isinstance(layer, WindowAttention):
        window = per_axis(layer.window, 2, "window")
        shift = per_axis(layer.shift, 2, "shift")
        options = _options(qkv_bias=layer.qkv_bias, proj_bias=layer.proj_bias,
                           position=repr(layer.position),
                           hidden=layer.position_hidden if layer.position == "mlp" else 512,
                           cosine=layer.cosine)
        return "WindowAttention", (f"WindowAttention({c}, {layer.heads}, {window}, {shift}"
                                   f"{options})")
    if isinstance(layer, PartitionAttention):
        options = _options(qkv_bias=layer.qkv_bias, proj_bias=layer.proj_bias)
        return "PartitionAttention", (f"PartitionAttention({c}, {layer.heads}, {layer.size}, "
                                      f"grid={layer.dilated}{options})")
    return None, ""


def _options(**values: object) -> str:
    """The keyword arguments that differ from the helpers' defaults."""
    defaults = {"qkv_bias": "True", "proj_bias": "True", "position": "'table'",
                "hidden": "512", "cosine": "False"}
    return "".join(f", {key}={value}" for key, value in values.items()
                   if str(value) != defaults[key])


HELPERS = {
    "patch_merge": '''def patch_merge(x: torch.Tensor) -> torch.Tensor:
    """Swin's patch merging without its norm and linear: each 2x2 neighbourhood to one
    position of 4C channels, in torchvision's order; an odd size is padded at the end."""
    x = F.pad(x, (0, x.shape[-1] % 2, 0, x.shape[-2] % 2))
    parts = [x[:, :, 0::2, 0::2], x[:, :, 1::2, 0::2], x[:, :, 0::2, 1::2], x[:, :, 1::2, 1::2]]
    return torch.cat(parts, dim=1)


''',
    "ClassToken": '''class ClassToken(nn.Module):
    """Learned tokens put before the sequence (ViT's class token), on (N, C, L)."""

    def __init__(self, channels: int, count: int = 1) -> None:
        super().__init__()
        self.token = nn.Parameter(torch.zeros(1, channels, count))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.token.expand(x.shape[0], -1, -1), x], dim=2)


''',
    "PositionEmbedding": '''class PositionEmbedding(nn.Module):
    """A learned embedding per position, added (ViT's pos_embedding)."""

    def __init__(self, channels: int, positions: tuple[int, ...]) -> None:
        super().__init__()
        self.embedding = nn.Parameter(torch.empty(1, channels, *positions).normal_(std=0.02))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.embedding


''',
    "TokenLinear": '''class TokenLinear(nn.Linear):
    """nn.Linear on the channels of every position of (N, C, ...)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.movedim(1, -1)).movedim(-1, 1)


''',
    "SelfAttention": '''class SelfAttention(nn.Module):
    """Global multi-head self-attention over every position (torchvision's ViT)."""

    def __init__(self, channels: int, heads: int, bias: bool = True) -> None:
        super().__init__()
        self.attention = nn.MultiheadAttention(channels, heads, bias=bias, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = x.flatten(2).transpose(1, 2)
        out, _ = self.attention(tokens, tokens, tokens, need_weights=False)
        return out.transpose(1, 2).reshape(x.shape)


''',
    "WindowAttention": '''class WindowAttention(nn.Module):
    """Swin's (shifted) window attention on (N, C, H, W), as torchvision's
    shifted_window_attention computes it: v1 with a relative position bias table; v2 with
    position="mlp" (a bias from an MLP of log-spaced offsets) and cosine=True (scaled cosine
    scores). The grid is padded at the end to a multiple of the window; an axis that one
    window covers is not shifted."""

    def __init__(self, channels: int, heads: int, window: tuple[int, int],
                 shift: tuple[int, int], qkv_bias: bool = True, proj_bias: bool = True,
                 position: str = "table", hidden: int = 512, cosine: bool = False) -> None:
        super().__init__()
        self.heads, self.window, self.shift = heads, window, shift
        self.position, self.cosine = position, cosine
        self.qkv = nn.Linear(channels, 3 * channels, bias=qkv_bias)
        self.proj = nn.Linear(channels, channels, bias=proj_bias)
        wh, ww = window
        if position == "table":
            self.table = nn.Parameter(torch.zeros((2 * wh - 1) * (2 * ww - 1), heads))
            nn.init.trunc_normal_(self.table, std=0.02)
        if cosine:
            self.logit_scale = nn.Parameter(torch.log(10 * torch.ones(heads, 1, 1)))
        if position == "mlp":
            dh = torch.arange(1 - wh, wh, dtype=torch.float32) / max(wh - 1, 1)
            dw = torch.arange(1 - ww, ww, dtype=torch.float32) / max(ww - 1, 1)
            offsets = torch.stack(torch.meshgrid(dh, dw, indexing="ij"), dim=-1)[None] * 8
            self.register_buffer(
                "offsets", torch.sign(offsets) * torch.log2(offsets.abs() + 1.0) / 3.0)
            self.mlp = nn.Sequential(nn.Linear(2, hidden), nn.ReLU(inplace=True),
                                     nn.Linear(hidden, heads, bias=False))
        if position != "none":
            ys, xs = torch.meshgrid(torch.arange(wh), torch.arange(ww), indexing="ij")
            ys, xs = ys.flatten(), xs.flatten()
            index = (ys[:, None] - ys[None, :] + wh - 1) * (2 * ww - 1) \\
                + xs[:, None] - xs[None, :] + ww - 1
            self.register_buffer("index", index.flatten())

    def bias(self) -> torch.Tensor | None:
        """The relative position bias, (heads, tokens, tokens)."""
        tokens = self.window[0] * self.window[1]
        if self.position == "none":
            return None
        if self.position == "table":
            table = self.table
        else:
            table = 16 * torch.sigmoid(self.mlp(self.offsets).view(-1, self.heads))
        return table[self.index].view(tokens, tokens, -1).permute(2, 0, 1)

    def mask(self, height: int, width: int, shift: tuple[int, int],
             like: torch.Tensor) -> torch.Tensor:
        """-100 between tokens of a shifted window that come from different regions."""
        (wh, ww), (sh, sw) = self.window, shift
        region = like.new_zeros(height, width)
        count = 0
        for h in ((0, -wh), (-wh, -sh), (-sh, None)):
            for w in ((0, -ww), (-ww, -sw), (-sw, None)):
                region[h[0]:h[1], w[0]:w[1]] = count
                count += 1
        region = region.view(height // wh, wh, width // ww, ww).permute(0, 2, 1, 3)
        region = region.reshape(-1, wh * ww)
        differ = region.unsqueeze(1) - region.unsqueeze(2)
        return differ.masked_fill(differ != 0, -100.0).masked_fill(differ == 0, 0.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        (wh, ww), heads = self.window, self.heads
        x = F.pad(x.permute(0, 2, 3, 1), (0, 0, 0, -w % ww, 0, -h % wh))
        height, width = x.shape[1], x.shape[2]
        shift = (self.shift[0] if height > wh else 0, self.shift[1] if width > ww else 0)
        if any(shift):
            x = torch.roll(x, (-shift[0], -shift[1]), (1, 2))
        groups = (height // wh) * (width // ww)
        t = x.reshape(n, height // wh, wh, width // ww, ww, c).permute(0, 1, 3, 2, 4, 5)
        t = t.reshape(n * groups, wh * ww, c)
        qkv_bias = self.qkv.bias
        if self.cosine and qkv_bias is not None:  # v2 trains no key bias
            qkv_bias = torch.cat([qkv_bias[:c], torch.zeros_like(qkv_bias[c:2 * c]),
                                  qkv_bias[2 * c:]])
        qkv = F.linear(t, self.qkv.weight, qkv_bias)
        q, k, v = qkv.reshape(t.shape[0], t.shape[1], 3, heads, c // heads).permute(2, 0, 3, 1, 4)
        if self.cosine:
            scores = F.normalize(q, dim=-1) @ F.normalize(k, dim=-1).transpose(-2, -1)
            scores = scores * torch.clamp(self.logit_scale, max=math.log(100.0)).exp()
        else:
            scores = (q * (c // heads) ** -0.5) @ k.transpose(-2, -1)
        bias = self.bias()
        if bias is not None:
            scores = scores + bias
        if any(shift):
            scores = scores.view(n, groups, heads, t.shape[1], t.shape[1])
            scores = scores + self.mask(height, width, shift, x).unsqueeze(1).unsqueeze(0)
            scores = scores.view(-1, heads, t.shape[1], t.shape[1])
        out = (scores.softmax(dim=-1) @ v).transpose(1, 2).reshape(t.shape[0], t.shape[1], c)
        out = self.proj(out).view(n, height // wh, width // ww, wh, ww, c)
        out = out.permute(0, 1, 3, 2, 4, 5).reshape(n, height, width, c)
        if any(shift):
            out = torch.roll(out, shift, (1, 2))
        return out[:, :h, :w].permute(0, 3, 1, 2)


''',
    "PartitionAttention": '''class PartitionAttention(nn.Module):
    """MaxViT's block attention (grid=False: in size x size windows) or grid attention
    (grid=True: among size x size tokens spread over the grid) on (N, C, H, W), with a
    relative position bias, as torchvision's PartitionAttentionLayer partitions and its
    RelativePositionalMultiHeadAttention attends."""

    def __init__(self, channels: int, heads: int, size: int, grid: bool,
                 qkv_bias: bool = True, proj_bias: bool = True) -> None:
        super().__init__()
        self.heads, self.size, self.grid = heads, size, grid
        self.to_qkv = nn.Linear(channels, 3 * channels, bias=qkv_bias)
        self.merge = nn.Linear(channels, channels, bias=proj_bias)
        self.table = nn.Parameter(torch.empty((2 * size - 1) ** 2, heads))
        nn.init.trunc_normal_(self.table, std=0.02)
        ys, xs = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
        ys, xs = ys.flatten(), xs.flatten()
        self.register_buffer("index", (ys[:, None] - ys[None, :] + size - 1) * (2 * size - 1)
                             + xs[:, None] - xs[None, :] + size - 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        p = h // self.size if self.grid else self.size  # the side of torchvision's partition
        t = x.reshape(n, c, h // p, p, w // p, p).permute(0, 2, 4, 3, 5, 1)
        t = t.reshape(n, (h // p) * (w // p), p * p, c)
        if self.grid:
            t = t.transpose(1, 2)
        groups, tokens = t.shape[1], t.shape[2]
        qkv = self.to_qkv(t).reshape(n, groups, tokens, 3, self.heads, c // self.heads)
        q, k, v = qkv.permute(3, 0, 1, 4, 2, 5)
        # torchvision scales by the whole width, not the head width
        scores = q @ (k * c ** -0.5).transpose(-2, -1)
        scores = scores + self.table[self.index].permute(2, 0, 1)
        out = (scores.softmax(dim=-1) @ v).permute(0, 1, 3, 2, 4).reshape(n, groups, tokens, c)
        out = self.merge(out)
        if self.grid:
            out = out.transpose(1, 2)
        out = out.reshape(n, h // p, w // p, p, p, c).permute(0, 5, 1, 3, 2, 4)
        return out.reshape(n, c, h, w)


''',
}
