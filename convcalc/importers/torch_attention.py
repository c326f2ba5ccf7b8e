"""torch's and torchvision's tokens and attention in convcalc's terms.

ViT: ``nn.MultiheadAttention`` (self-attention, batch first) is ``attention``; its class
token (a learnt tensor concatenated before the tokens) is ``class-token``; its position
embedding (a learnt tensor of the sequence's shape, added) is ``position-embedding``;
``x[:, 0]`` is ``take-token``. Swin: the functions torchvision's modules call (and keeps
whole when traced, ``torch.fx.wrap``) — ``shifted_window_attention`` is ``window-attention``
(its position bias from a table, or from the v2 MLP, read off the tensors that make it) and
``_patch_merging_pad`` is ``patch-merge``. MaxViT: ``WindowPartition`` and
``WindowDepartition`` only reorder the grid's positions (a layout), ``SwapAxes`` makes a
window partition a grid one, and ``RelativePositionalMultiHeadAttention`` is
``block-attention`` or ``grid-attention`` by the partition it reads.

Handlers are chosen by ``isinstance`` or by the function object, as in
:mod:`convcalc.importers.torch_ops`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from convcalc.importers import layers
from convcalc.importers import layout as layouts
from convcalc.importers.graph import Unsupported

if TYPE_CHECKING:
    from convcalc.importers.from_torch import _Reader
    from convcalc.importers.torch_ops import FunctionHandler, ModuleHandler


def _tokens(r: _Reader, x: int, what: str) -> None:
    """Refuse ``what`` unless ``x`` is a sequence of tokens, batch first: (N, L, C)."""
    if r.b.layout(x).form != "last" or len(r.b.dims[x]) != 3:
        raise Unsupported(f"{what} on a tensor of shape {list(r.b.dims[x])} laid out as "
                          f"({r.b.layout(x)}), not a sequence of tokens (N, L, C)")


def multihead_attention(r: _Reader, node: Any, m: Any) -> tuple[int]:
    """``nn.MultiheadAttention(x, x, x)``: global self-attention, batch first, no mask."""
    x = r.x(node)
    if not (len(node.args) >= 3 and node.args[0] is node.args[1] is node.args[2]):
        raise Unsupported("attention whose queries, keys and values are not one tensor "
                          "(convcalc's attention is self-attention)")
    if any(r.arg(node, i, key) is not None for i, key in ((3, "key_padding_mask"),
                                                          (5, "attn_mask"))) or \
            r.arg(node, 7, "is_causal", False):
        raise Unsupported("attention with a mask")
    if not m.batch_first:
        raise Unsupported("nn.MultiheadAttention with batch_first=False (sequence first)")
    if not m._qkv_same_embed_dim or m.bias_k is not None or m.add_zero_attn:
        raise Unsupported("nn.MultiheadAttention with keys or values of another width, "
                          "added key and value biases or a zero attention")
    _tokens(r, x, "attention")
    params, buffers = r.count(node, m)
    layer = layers.make("attention", heads=m.num_heads, qkv_bias=m.in_proj_bias is not None,
                        proj_bias=m.out_proj.bias is not None)
    dims = tuple(int(d) for d in r.values[node][0].shape)
    return (r.b.layer(r.name(node), r.origin(node), "attention", layer, x, dims,
                      params=params, buffers=buffers),)


def class_token(r: _Reader, node: Any, items: list[Any]) -> int:
    """``cat([token, x], dim=1)`` with learnt tokens first: ViT's class token."""
    x = r.tensors.get(items[-1])
    if not isinstance(x, int) or any(item not in r.constants for item in items[:-1]):
        raise Unsupported("a concat of learnt tensors after the tokens, or of several "
                          "inputs (convcalc's class token comes first)")
    _tokens(r, x, "a class token")
    if layouts.normalise_axis(int(r.arg(node, 1, "dim", 0)), 3) != 1:
        raise Unsupported("a concat of learnt tensors along another axis than the tokens")
    count = sum(int(r.values[item].shape[1]) for item in items[:-1])
    params, buffers = r.held(r.sources(items[:-1]))
    return r.b.layer(r.name(node), r.origin(node), "class-token",
                     layers.make("class-token", count=count), x, r.dims(node),
                     params=params, buffers=buffers)


def position_embedding(r: _Reader, node: Any, x: int, constant: Any) -> int | None:
    """``x + embedding``, a learnt tensor of the shape of one example: ViT's position
    embedding (None when the constant is anything else)."""
    value = r.values.get(constant)
    if constant not in r.constants or not isinstance(value, r.torch.Tensor) or \
            tuple(value.shape) != (1, *r.b.dims[x][1:]) or not r.b.shape(x).spatial:
        return None
    params, buffers = r.held(r.sources([constant]))
    return r.b.layer(r.name(node), r.origin(node), "position-embedding",
                     layers.make("position-embedding"), x, r.dims(node), params=params,
                     buffers=buffers)


def take_token(r: _Reader, node: Any, x: int) -> int:
    """``x[:, i]``: token ``i`` of a sequence as a vector (ViT's class token)."""
    index = node.args[1]
    if not (isinstance(index, tuple) and len(index) == 2 and index[0] == slice(None)
            and isinstance(index[1], int)):
        raise Unsupported(f"indexing a tensor by {index!r}")
    _tokens(r, x, "taking a token")
    length = r.b.dims[x][1]
    if not -length <= index[1] < length:
        raise Unsupported(f"token {index[1]} of {length}")
    return r.add_layer(node, "take-token", x, index=index[1] % length)


def shifted_window_attention(r: _Reader, node: Any) -> int:
    """torchvision's ``shifted_window_attention``: Swin v1 (a relative position bias from a
    table) or v2 (from an MLP over a coordinates table, with cosine attention)."""
    from torch import nn

    x = r.x(node)
    if r.b.layout(x).form != "last" or len(r.b.dims[x]) != 4:
        raise Unsupported(f"window attention on a tensor laid out as ({r.b.layout(x)}), "
                          "not (N, H, W, C)")
    sources = r.sources([a for a in node.all_input_nodes if a is not node.args[0]])
    mlp = [m for m in sources if isinstance(m, nn.Linear) and m.in_features == 2]
    window = tuple(int(w) for w in r.arg(node, 4, "window_size"))
    shift = tuple(int(s) for s in r.arg(node, 6, "shift_size"))
    layer = layers.make("window-attention", heads=int(r.arg(node, 5, "num_heads")),
                        qkv_bias=r.arg(node, 9, "qkv_bias") is not None,
                        proj_bias=r.arg(node, 10, "proj_bias") is not None,
                        window=layers.uniform(window), shift=layers.uniform(shift),
                        position="mlp" if mlp else "table",
                        position_hidden=mlp[0].out_features if mlp else 512,
                        cosine=r.arg(node, 11, "logit_scale") is not None)
    params, buffers = r.held(sources)
    return r.b.layer(r.name(node), r.origin(node), "window-attention", layer, x, r.dims(node),
                     params=params, buffers=buffers)


def patch_merging_pad(r: _Reader, node: Any) -> int:
    """torchvision's ``_patch_merging_pad``: pad to even, 2x2 neighbourhoods to 4C."""
    x = r.x(node)
    if r.b.layout(x).form != "last" or len(r.b.dims[x]) != 4:
        raise Unsupported(f"patch merging on a tensor laid out as ({r.b.layout(x)})")
    return r.add_layer(node, "patch-merge", x)


def window_partition(r: _Reader, node: Any, m: Any) -> int:
    """MaxViT's ``WindowPartition``: (N, C, H, W) to (N, windows, p², C), the same grid."""
    x = r.x(node)
    p = int(r.arg(node, 1, "p"))
    r.b.require(x, "first", what="a window partition")
    grid = tuple(r.b.dims[x][2:])
    return r.b.alias(x, r.dims(node), layouts.Layout("windows", p, grid))


def window_departition(r: _Reader, node: Any, m: Any) -> int:
    """MaxViT's ``WindowDepartition``: the windows back to (N, C, H, W)."""
    x = r.x(node)
    form = r.b.layout(x)
    if form.form != "windows" or form.groups != int(r.arg(node, 1, "p")) or \
            r.dims(node)[2:] != form.grid:
        raise Unsupported(f"a window departition of a tensor laid out as ({form})")
    return r.b.alias(x, r.dims(node), layouts.FIRST)


def partition_attention(r: _Reader, node: Any, m: Any) -> int:
    """MaxViT's ``RelativePositionalMultiHeadAttention`` on windows (block attention) or
    on windows swapped with their positions (grid attention)."""
    x = r.x(node)
    form = r.b.layout(x)
    if form.form == "windows" and form.groups == m.size:
        kind = "block-attention"
    elif form.form == "windows-swapped" and form.grid == (form.groups * m.size,) * 2:
        kind = "grid-attention"
    else:
        raise Unsupported(f"attention among {m.size}x{m.size} tokens on a tensor laid out "
                          f"as ({form})")
    return r.add_layer(node, kind, x, module=m, heads=m.n_heads, size=m.size,
                       qkv_bias=m.to_qkv.bias is not None, proj_bias=m.merge.bias is not None)


def leaf_modules() -> tuple[type, ...]:
    """torchvision modules read whole rather than traced through."""
    try:
        from torchvision.models import maxvit
    except ImportError:  # pragma: no cover - torch without torchvision
        return ()
    return (maxvit.RelativePositionalMultiHeadAttention, maxvit.WindowPartition,
            maxvit.WindowDepartition)


def module_handlers() -> list[tuple[type, ModuleHandler]]:
    from torch import nn

    handlers: list[tuple[type, ModuleHandler]] = [(nn.MultiheadAttention, multihead_attention)]
    try:
        from torchvision.models import maxvit
    except ImportError:  # pragma: no cover - torch without torchvision
        return handlers
    return [*handlers, (maxvit.RelativePositionalMultiHeadAttention, partition_attention),
            (maxvit.WindowPartition, window_partition),
            (maxvit.WindowDepartition, window_departition)]


def function_handlers() -> dict[Any, FunctionHandler]:
    try:
        from torchvision.models import swin_transformer as swin
    except ImportError:  # pragma: no cover - torch without torchvision
        return {}
    return {swin.shifted_window_attention: shifted_window_attention,
            swin._patch_merging_pad: patch_merging_pad}
